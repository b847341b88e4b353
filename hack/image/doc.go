// Command image builds Baton's controller image without a container daemon:
// one layer holding a static /baton, CA certificates and passwd/group entries
// for the nonroot user, written as a tarball that is both an OCI image layout
// (oci-layout, index.json, blobs/sha256/...) and a docker-archive (its
// manifest.json), so `ctr images import` and `docker load` both accept it.
//
// The output is reproducible: the same sources and Go toolchain give the same
// digest. Every timestamp is SOURCE_DATE_EPOCH (default: the commit time of
// HEAD), owners and modes are fixed, tar entries are sorted and the gzip
// header carries no name or time. The CA bundle comes from a pinned Go module,
// not from the build machine, for the same reason.
//
// /baton carries the file capability cap_net_bind_service=ep, so that the
// non-root controller can bind ports 80 and 443 on the host network
// (DaemonSet mode). The container must still have NET_BIND_SERVICE in its
// bounding set, which the chart adds in that mode.
//
// Usage, from the repository root (this is a separate module):
//
//	go -C hack/image run . -src "$PWD" -out "$PWD/bin/baton-image.tar"
//	go -C hack/image run . -src "$PWD" -rootfs /rootfs   # the Dockerfile's way
package main
