// Package cluster assembles a real single-node Kubernetes cluster on this
// machine from parts that build or install without a container registry:
// etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubelet
// and kube-proxy built from k8s.io/kubernetes, containerd 2.x built from
// source, Debian's runc and CNI plugins. Images (the pause sandbox and the
// echo backend) are built from Go sources into OCI tarballs and imported
// into containerd, so pods use imagePullPolicy IfNotPresent or Never.
//
// Everything it creates is named so that Stop can find and remove it:
// state under bin/cluster, /run/baton-cluster and /var/lib/baton-cluster,
// the bridge baton0 (10.88.0.1/24, pods 10.88.0.0/24, Services
// 10.96.0.0/16) and the KUBE-* and CNI-* iptables chains.
//
// `make cluster` and `make cluster-down` drive it through cmd/cluster;
// Go tests use it directly (as root, after hack/cluster/build.sh):
//
//	c := &cluster.Cluster{Root: root, Logf: t.Logf}
//	err := c.Start(ctx)                         // no-op when already up
//	err = c.ImportImage(root + "/bin/baton-image.tar")
//	// kubectl/helm with KUBECONFIG=c.Kubeconfig(); pods use
//	// imagePullPolicy Never; reach pods at their 10.88.0.x addresses.
//	err = c.Stop(ctx)
package cluster
