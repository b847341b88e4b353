// Package reconcile keeps Baton's data plane in step with the cluster.
//
// The shape is Contour's: an object cache, a pure builder, an observer.
// Informers for IngressClass, Ingress, Service, EndpointSlice, Secret and
// baton.dev Upstream feed one cache; every event only marks the world
// dirty. One loop rebuilds at once after a quiet spell (a few times back
// to back) and at most once per Options.Debounce on average while changes
// keep arriving; it lists everything,
// translates it with a translate.Cache (which re-does only what depends on
// changed objects), numbers the snapshot and hands it to the Sink exactly
// once. Endpoint churn thus yields a new snapshot and
// nothing else: no reload, no per-object reconcile. A rebuild whose
// snapshot routes exactly like the applied one is not applied again, so
// Secret churn and resyncs cost one translation and no data plane work.
//
// Every replica builds and applies snapshots. Writing to the API is the
// leader's job: Upstream status, Ingress status.loadBalancer and Warning
// Events. With Options.LeaderElection the leader is elected through a
// Lease by Baton's own elector (leader.go), not the manager's: losing the
// Lease only stops the writer, which resumes when this replica wins again,
// while the manager, and so routing, goes on. A term ends RenewDeadline
// after the start of the last successful renewal, earlier than client-go
// alone would end it, so a deposed writer has stopped before another
// replica may take the Lease. Each term starts by writing the latest
// results, built before or between terms.
//
// Decisions worth knowing:
//
//   - The controller owns its cache instead of using the manager's, so the
//     namespace limit and the Secret transform hold however the manager was
//     built. With Options.WatchNamespace the cache covers that namespace
//     (IngressClasses stay cluster-wide), plus the namespace of the default
//     TLS Secret for Secrets and of the publish Service for Services.
//   - Secrets: a field selector on type=kubernetes.io/tls would hide the
//     CA Secrets that Upstreams may reference, whatever their type. A
//     transform instead keeps tls.crt and tls.key of TLS Secrets and, from
//     any Secret, only values holding PEM certificates; everything else,
//     and kubectl's last-applied annotation (which holds the data in clear),
//     is dropped before it is stored.
//   - EndpointSlices without the kubernetes.io/service-name label are not
//     cached: no reference can reach them.
//   - Status is written only when it differs from the cached object.
//     Upstream conditions keep their lastTransitionTime unless their status
//     flips. Ingress status.loadBalancer comes from PublishStatusAddress
//     (IP addresses as ip, other entries as hostname) or else from the
//     PublishService, chosen like ingress-nginx: a LoadBalancer's ingress
//     points plus external IPs, a NodePort's external IPs else cluster IP,
//     a ClusterIP's cluster IP, an ExternalName's name. Without either
//     option Ingress status is never touched. A missing publish Service
//     leaves every status unchanged (and is logged as an error).
//   - An Ingress that leaves our class has its status.loadBalancer cleared,
//     but only if it still shows exactly our addresses, so a status the
//     new owner already wrote survives. Which Ingresses were ours is
//     remembered per process, across its terms: an Ingress that left while
//     no process that had written it was leader keeps its stale status
//     until its new controller overwrites it.
//   - Ingress status.loadBalancer is written only for Ingresses of our
//     class; translate decides which those are.
//   - Events (events.k8s.io/v1, through the manager's recorder) are emitted
//     for each warning translate reports on an Ingress or Upstream, once
//     when it appears; a warning that persists over rebuilds is not
//     repeated, one that disappears and returns is. Warnings about no
//     object (the default certificate) are logged when they change.
//   - Translate never modifies its input, so objects are listed from the
//     cache without deep copies.
//
// Metrics, in controller-runtime's registry: baton_snapshot_build_seconds,
// baton_snapshot_applies_total{result}, baton_snapshot_version and
// baton_upstream_endpoints{upstream,state}.
package reconcile
