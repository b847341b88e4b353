// Package framework runs the real parts Baton's end-to-end tests and
// `make run` need: a kube-apiserver + etcd (through controller-runtime's
// envtest, from the binaries in bin/), backend processes inside network
// namespaces standing in for pods, and the Baton binary itself.
//
// Pods are network namespaces because EndpointSlices refuse loopback
// addresses: each gets a veth pair and its own 10.244.N.0/24, reachable from
// the host and from nowhere else. Everything is created by the caller's
// process and removed again; names carry a prefix so that a run that died
// can be cleaned up by the next one.
package framework
