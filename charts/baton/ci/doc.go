// Package ci checks the Baton Helm chart. The *-values.yaml files here are
// the chart's lint variants (Helm's ci/ convention, as chart-testing reads
// them); the tests render the chart with the real helm binary for each
// variant and hold the output to what the controller and the API server
// require:
//
//   - every object decodes strictly into its Kubernetes type (an unknown or
//     misspelt field fails);
//   - the controller's arguments are accepted by the flag parser of a
//     freshly built cmd/controller;
//   - ports, probes, Services, ServiceMonitor, IngressClass, handoff volume,
//     security context and grace periods agree with those arguments;
//   - RBAC is least privilege: no wildcard, writes only to the status
//     subresources, Events and the leader-election Lease, and namespaced
//     grants confined to the watched namespace when there is one;
//   - invalid values fail at render time with a message naming the value.
//
// With -tags envtest the rendered objects are also dry-run created,
// with strict field validation, in a real kube-apiserver.
//
//	go test ./charts/baton/ci/                # needs bin/helm (make tools)
//	go test -tags envtest ./charts/baton/ci/  # also bin/kube-apiserver, bin/etcd
//
// The Go files are excluded from the packaged chart by .helmignore.
package ci
