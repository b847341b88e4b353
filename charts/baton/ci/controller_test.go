package ci

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// controller is the rendered workload, whichever kind it is.
type controller struct {
	kind      string
	meta      metav1.ObjectMeta
	selector  *metav1.LabelSelector
	pod       corev1.PodTemplateSpec
	container corev1.Container
	args      []string
	flags     map[string]string
}

func controllerOf(t *testing.T, m *manifest) controller {
	t.Helper()
	deployments, daemonSets := all[*appsv1.Deployment](m), all[*appsv1.DaemonSet](m)
	if len(deployments)+len(daemonSets) != 1 {
		t.Fatalf("want one Deployment or DaemonSet, rendered %d and %d", len(deployments), len(daemonSets))
	}
	var c controller
	if len(deployments) == 1 {
		d := deployments[0]
		c = controller{kind: "Deployment", meta: d.ObjectMeta, selector: d.Spec.Selector, pod: d.Spec.Template}
	} else {
		d := daemonSets[0]
		c = controller{kind: "DaemonSet", meta: d.ObjectMeta, selector: d.Spec.Selector, pod: d.Spec.Template}
	}
	if n := len(c.pod.Spec.Containers); n != 1 {
		t.Fatalf("want one container, rendered %d", n)
	}
	c.container = c.pod.Spec.Containers[0]
	c.args = c.container.Args
	c.flags = flags(t, c.args)
	return c
}

// port returns the port of a ":N" bind-address flag, 0 when it is
// disabled ("0") or absent.
func (c controller) port(t *testing.T, flag string) int32 {
	t.Helper()
	v, ok := c.flags[flag]
	if !ok || v == "0" {
		return 0
	}
	p, err := strconv.ParseInt(strings.TrimPrefix(v, ":"), 10, 32)
	if err != nil || !strings.HasPrefix(v, ":") {
		t.Fatalf("--%s=%s is not :port", flag, v)
	}
	return int32(p)
}

func (c controller) hostNetwork() bool { return c.pod.Spec.HostNetwork }

// volume is the pod's volume of that name, nil if there is none.
func (c controller) volume(name string) *corev1.Volume {
	for i := range c.pod.Spec.Volumes {
		if c.pod.Spec.Volumes[i].Name == name {
			return &c.pod.Spec.Volumes[i]
		}
	}
	return nil
}

// selects reports whether the workload's selector matches the pod labels.
func (c controller) selects(t *testing.T, selector map[string]string) bool {
	t.Helper()
	return len(selector) > 0 && labels.SelectorFromSet(selector).Matches(labels.Set(c.pod.Labels))
}

func checkArgsAccepted(t *testing.T, c controller) {
	if err := controllerAccepts(kubeletArgs(t, c)); err != nil {
		t.Error(err)
	}
	if c.container.Command != nil {
		t.Errorf("command %v overrides the image's /baton entrypoint", c.container.Command)
	}
}

// kubeletArgs are the args as the kubelet passes them, each $(NAME)
// replaced by the container's variable; a resourceFieldRef to this
// container's limits.memory resolves as the values' 512Mi would.
func kubeletArgs(t *testing.T, c controller) []string {
	t.Helper()
	vars := map[string]string{}
	for _, e := range c.container.Env {
		switch ref := e.ValueFrom; {
		case ref == nil:
			vars[e.Name] = e.Value
		case ref.ResourceFieldRef != nil && ref.ResourceFieldRef.Resource == "limits.memory" &&
			ref.ResourceFieldRef.ContainerName == c.container.Name:
			vars[e.Name] = "536870912"
		}
	}
	out := make([]string, len(c.args))
	for i, a := range c.args {
		out[i] = varRef.ReplaceAllStringFunc(a, func(ref string) string {
			v, ok := vars[ref[2:len(ref)-1]]
			if !ok {
				t.Errorf("argument %q names %s, which the container's env does not define", a, ref)
			}
			return v
		})
	}
	return out
}

var varRef = regexp.MustCompile(`\$\([A-Za-z_][A-Za-z0-9_]*\)`)

func checkSelector(t *testing.T, c controller) {
	sel, err := metav1.LabelSelectorAsSelector(c.selector)
	if err != nil || sel.Empty() || !sel.Matches(labels.Set(c.pod.Labels)) {
		t.Errorf("selector %v does not select the pod labels %v (%v)", c.selector, c.pod.Labels, err)
	}
}

// checkPorts: in its own network namespace the pod declares what it
// binds; on the host network it declares nothing, because a declared port
// there is a hostPort and would keep the surge pod off the node.
func checkPorts(t *testing.T, c controller) {
	bound := map[string]int32{"http": c.port(t, "http-bind-address"), "https": c.port(t, "https-bind-address"),
		"health": c.port(t, "health-probe-bind-address"), "metrics": c.port(t, "metrics-bind-address")}
	if c.hostNetwork() {
		if len(c.container.Ports) != 0 {
			t.Errorf("hostNetwork pod declares ports %v", c.container.Ports)
		}
		return
	}
	declared := map[string]int32{}
	for _, p := range c.container.Ports {
		declared[p.Name] = p.ContainerPort
	}
	for name, port := range bound {
		if port != 0 && declared[name] != port {
			t.Errorf("binds %s on %d, declares port %q as %d", name, port, name, declared[name])
		}
	}
}

// checkProbes: in its own network namespace the pod is probed over HTTP on
// the health port; on the host network, where the surge pod shares that
// port with the old one, each pod is asked on its own probe socket by an
// exec of `baton probe`, and the socket lives in a volume of its own.
func checkProbes(t *testing.T, c controller) {
	if c.hostNetwork() {
		checkExecProbes(t, c)
		return
	}
	if c.flags["probe-socket"] != "" {
		t.Errorf("--probe-socket set although the pod has its own network")
	}
	health := c.port(t, "health-probe-bind-address")
	for probePath, probe := range map[string]*corev1.Probe{"/readyz": c.container.ReadinessProbe, "/healthz": c.container.LivenessProbe} {
		if probe == nil || probe.HTTPGet == nil {
			t.Errorf("no HTTP probe for %s", probePath)
			continue
		}
		if probe.HTTPGet.Path != probePath || probe.HTTPGet.Port.IntValue() != int(health) {
			t.Errorf("probe %s:%s, want %s on the health port %d", probe.HTTPGet.Path, probe.HTTPGet.Port.String(), probePath, health)
		}
	}
}

func checkExecProbes(t *testing.T, c controller) {
	socket := c.flags["probe-socket"]
	if socket == "" {
		t.Fatal("hostNetwork pod without --probe-socket")
	}
	for probePath, probe := range map[string]*corev1.Probe{"/readyz": c.container.ReadinessProbe, "/healthz": c.container.LivenessProbe} {
		want := []string{"/baton", "probe", "--socket", socket, "--path", probePath}
		if probe == nil || probe.Exec == nil || !slices.Equal(probe.Exec.Command, want) {
			t.Errorf("probe for %s: %+v, want exec %q", probePath, probe, want)
		}
	}
	mounted := false
	for _, m := range c.container.VolumeMounts {
		if m.MountPath == path.Dir(socket) {
			mounted = c.volume(m.Name) != nil && c.volume(m.Name).EmptyDir != nil
		}
	}
	if !mounted {
		t.Errorf("probe socket directory %s is not a per-pod emptyDir", path.Dir(socket))
	}
}

// checkGracePeriod: the kubelet must not kill a pod that is still in its
// preStop sleep, waiting for its successor, or draining.
func checkGracePeriod(t *testing.T, c controller) {
	drain, err := time.ParseDuration(c.flags["shutdown-grace-period"])
	if err != nil {
		t.Fatalf("--shutdown-grace-period: %v", err)
	}
	need := drain
	if w := c.flags["handoff-wait"]; w != "" {
		wait, err := time.ParseDuration(w)
		if err != nil {
			t.Fatalf("--handoff-wait: %v", err)
		}
		need += wait
	}
	if h := c.container.Lifecycle; h != nil && h.PreStop != nil && h.PreStop.Sleep != nil {
		need += time.Duration(h.PreStop.Sleep.Seconds) * time.Second
	}
	tgp := c.pod.Spec.TerminationGracePeriodSeconds
	if tgp == nil || time.Duration(*tgp)*time.Second <= need {
		t.Errorf("terminationGracePeriodSeconds %v does not exceed preStop + drain (%v)", tgp, need)
	}
}

func checkSecurity(t *testing.T, c controller) {
	pod, ctr := c.pod.Spec.SecurityContext, c.container.SecurityContext
	if pod == nil || pod.RunAsNonRoot == nil || !*pod.RunAsNonRoot {
		t.Error("pod does not require runAsNonRoot")
	}
	if ctr == nil || ctr.ReadOnlyRootFilesystem == nil || !*ctr.ReadOnlyRootFilesystem ||
		ctr.AllowPrivilegeEscalation == nil || *ctr.AllowPrivilegeEscalation || ctr.Capabilities == nil ||
		!slices.Equal(ctr.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Fatalf("container security context %+v: want read-only root, no privilege escalation, drop ALL", ctr)
	}
	// Always: the image's /baton has a file capability with the effective
	// bit, which the kernel refuses to execute when the bounding set lacks it
	// (hack/image, TestFileCapabilityLetsNonrootBindPrivilegedPort).
	if !slices.Equal(ctr.Capabilities.Add, []corev1.Capability{"NET_BIND_SERVICE"}) {
		t.Errorf("capabilities added %v, want [NET_BIND_SERVICE] (in every mode, for /baton's file capability)", ctr.Capabilities.Add)
	}
}

// checkInitContainers: the hostPath preparation runs as root, so it may
// hold no capability but CHOWN and nothing else.
func checkInitContainers(t *testing.T, c controller) {
	for _, ic := range c.pod.Spec.InitContainers {
		sc := ic.SecurityContext
		if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
			sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.Capabilities == nil ||
			!slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) ||
			!slices.Equal(sc.Capabilities.Add, []corev1.Capability{"CHOWN"}) {
			t.Errorf("init container %s security context %+v: want read-only root, no escalation, only CHOWN", ic.Name, sc)
		}
	}
}

// checkHandoff: the socket's directory is a volume the next process can
// reach: the pod's own emptyDir, or on the host network a node directory
// the old and the new pod share.
func checkHandoff(t *testing.T, c controller) {
	socket, ok := c.flags["handoff-socket"]
	if !ok {
		return
	}
	dir := path.Dir(socket)
	var volume string
	for _, vm := range c.container.VolumeMounts {
		if vm.MountPath == dir {
			volume = vm.Name
		}
	}
	for _, v := range c.pod.Spec.Volumes {
		if v.Name != volume {
			continue
		}
		if c.hostNetwork() && (v.HostPath == nil || v.HostPath.Type == nil || *v.HostPath.Type != corev1.HostPathDirectoryOrCreate) {
			t.Errorf("host network: handoff volume %+v is not a DirectoryOrCreate hostPath", v.VolumeSource)
		}
		if !c.hostNetwork() && v.EmptyDir == nil {
			t.Errorf("pod network: handoff volume %+v is not an emptyDir", v.VolumeSource)
		}
		return
	}
	t.Errorf("--handoff-socket=%s: no volume is mounted at %s", socket, dir)
}

// checkMode: what each mode promises in the README.
func checkMode(t *testing.T, m *manifest, c controller) {
	if c.kind == "Deployment" {
		if c.hostNetwork() {
			t.Error("Deployment on the host network")
		}
		return
	}
	if !c.hostNetwork() || c.pod.Spec.DNSPolicy != corev1.DNSClusterFirstWithHostNet {
		t.Errorf("DaemonSet: hostNetwork %v, dnsPolicy %q", c.hostNetwork(), c.pod.Spec.DNSPolicy)
	}
	if _, ok := c.flags["handoff-socket"]; !ok {
		return
	}
	ds := only[*appsv1.DaemonSet](t, m)
	ru := ds.Spec.UpdateStrategy.RollingUpdate
	if ru == nil || ru.MaxSurge == nil || ru.MaxSurge.IntValue() != 1 || ru.MaxUnavailable == nil || ru.MaxUnavailable.IntValue() != 0 {
		t.Errorf("DaemonSet update strategy %+v: want maxSurge 1, maxUnavailable 0", ds.Spec.UpdateStrategy)
	}
}

// checkNamespaces: every namespaced object says where it goes, so that
// `helm template | kubectl apply` cannot scatter them.
func checkNamespaces(t *testing.T, m *manifest) {
	clusterScoped := map[string]bool{"ClusterRole": true, "ClusterRoleBinding": true, "IngressClass": true,
		"CustomResourceDefinition": true} // a typed kind when the envtest build registers it
	for _, o := range m.typed {
		meta, err := apimeta.Accessor(o)
		if err != nil {
			t.Fatal(err)
		}
		kind := fmt.Sprintf("%T", o)
		kind = kind[strings.LastIndex(kind, ".")+1:]
		if clusterScoped[kind] != (meta.GetNamespace() == "") {
			t.Errorf("%s %s: namespace %q", kind, meta.GetName(), meta.GetNamespace())
		}
	}
}
