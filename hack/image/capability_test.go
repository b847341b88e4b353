package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// needRoot skips tests that set file capabilities or change user.
func needRoot(t *testing.T, tools ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s", tool)
		}
	}
}

// The bytes this builder writes are the ones setcap writes.
func TestCapabilityIsWhatSetcapWrites(t *testing.T) {
	needRoot(t, "setcap")
	f := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(f, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("setcap", "cap_net_bind_service=ep", f).CombinedOutput(); err != nil {
		t.Fatalf("setcap: %v: %s", err, out)
	}
	buf := make([]byte, 64)
	n, err := syscall.Getxattr(f, capabilityXattr, buf)
	if err != nil {
		t.Fatal(err)
	}
	if got := netBindServiceCapability(); !bytes.Equal(got, buf[:n]) {
		t.Errorf("builder writes %x, setcap wrote %x", got, buf[:n])
	}
}

// The layer, unpacked by GNU tar as a runtime would, gives the real
// controller running as 65532 the right to bind a port below 1024. The same
// binary without the xattr is refused the port. Without NET_BIND_SERVICE in
// the bounding set (a container that drops ALL and adds nothing) the kernel
// refuses to execute it at all, because its file capability has the
// effective bit: hence the chart adds NET_BIND_SERVICE in every mode.
func TestFileCapabilityLetsNonrootBindPrivilegedPort(t *testing.T) {
	needRoot(t, "tar", "getcap", "setpriv", "capsh")
	if start, err := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start"); err == nil && strings.TrimSpace(string(start)) == "0" {
		t.Skip("net.ipv4.ip_unprivileged_port_start=0: every user may bind any port here")
	}
	dir := worldReadableDir(t)
	rootfs := unpackLayer(t, sharedImage(t), filepath.Join(dir, "rootfs"))
	baton := filepath.Join(rootfs, "baton")
	if out, err := exec.Command("getcap", baton).CombinedOutput(); err != nil || !strings.Contains(string(out), "cap_net_bind_service=ep") {
		t.Fatalf("getcap /baton: %v: %q, want cap_net_bind_service=ep", err, out)
	}
	withoutCap := filepath.Join(dir, "baton-without-capability")
	copyFile(t, baton, withoutCap) // a plain copy drops xattrs
	kubeconfig := fakeAPIServer(t, dir)

	asNonroot := func(binary string, extra ...string) []string {
		return append(append([]string{"setpriv"}, extra...), "--reuid=65532", "--regid=65532", "--clear-groups", binary)
	}
	cases := []struct {
		name    string
		command []string
		wantErr string // empty: /healthz answers on the port
	}{
		{"file capability", asNonroot(baton), ""},
		{"file capability, as runc runs the chart's pod", asChartRunsIt(baton), ""},
		{"no file capability", asNonroot(withoutCap), "bind: permission denied"},
		{"NET_BIND_SERVICE not in the bounding set", asNonroot(baton, "--bounding-set=-all"), "Operation not permitted"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			port := freePrivilegedPort(t)
			err := runController(t, c.command, kubeconfig, port)
			switch {
			case c.wantErr == "" && err != nil:
				t.Errorf("uid 65532 could not serve /healthz on port %d: %v", port, err)
			case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
				t.Errorf("want %q for port %d, got %v", c.wantErr, port, err)
			}
		})
	}
}

// asChartRunsIt starts the binary as runc starts the chart's container
// (capabilities drop ALL, add NET_BIND_SERVICE, allowPrivilegeEscalation
// false): the bounding set is the added capability, which stays permitted
// across the switch to uid 65532, and no_new_privs is set. The kernel then
// grants the file capability only as far as it was already permitted.
func asChartRunsIt(binary string) []string {
	var others []string
	last, _ := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	n, _ := strconv.Atoi(strings.TrimSpace(string(last)))
	for c := 0; c <= n; c++ {
		if c != capNetBindService {
			others = append(others, strconv.Itoa(c))
		}
	}
	return []string{"capsh", "--drop=" + strings.Join(others, ","), "--keep=1", "--gid=65532", "--groups=", "--uid=65532",
		"--caps=cap_net_bind_service+p", "--no-new-privs", "--shell=" + binary, "--"}
}

// worldReadableDir is a temp directory uid 65532 can enter.
func worldReadableDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// unpackLayer extracts the image's layer with GNU tar, xattrs included, the
// way an image's layer reaches a container's root filesystem.
func unpackLayer(t *testing.T, image, rootfs string) string {
	t.Helper()
	files, _ := readTarFile(t, image)
	var docker []dockerManifest
	decodeJSON(t, "manifest.json", files["manifest.json"].data, &docker)
	layer := filepath.Join(filepath.Dir(rootfs), "layer.tar.gz")
	if err := os.WriteFile(layer, files[docker[0].Layers[0]].data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(rootfs, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("tar", "--xattrs", "--xattrs-include=*", "--same-owner", "-xpzf", layer, "-C", rootfs).CombinedOutput()
	if err != nil {
		t.Fatalf("tar: %v: %s", err, out)
	}
	return rootfs
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o755); err != nil {
		t.Fatal(err)
	}
}

// freePrivilegedPort is a loopback port below 1024 that nothing listens on
// now (port 80 itself may be taken on a shared machine).
func freePrivilegedPort(t *testing.T) int {
	t.Helper()
	for port := 1023; port > 900; port-- {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			l.Close()
			return port
		}
	}
	t.Fatal("no free port in 901-1023")
	return 0
}

// runController starts the controller with the command (a launcher and
// the binary), with its health
// endpoint on the port, and returns nil once /healthz answers 200, or the
// controller's error output if it exits first. The admin listeners are
// opened after the reconcilers are set up, which needs API discovery: the
// fake API server answers that much.
func runController(t *testing.T, command []string, kubeconfig string, port int) error {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	args := append(append([]string{}, command[1:]...), "--kubeconfig="+kubeconfig,
		"--health-probe-bind-address="+addr, "--metrics-bind-address=0",
		"--http-bind-address=127.0.0.1:0", "--https-bind-address=")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, command[0], args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() { cmd.Process.Kill(); <-exited }()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-exited:
			exited <- err
			return fmt.Errorf("controller exited (%v): %s", err, lastLine(stderr.String()))
		case <-ctx.Done():
			return fmt.Errorf("/healthz did not answer in time: %s", lastLine(stderr.String()))
		case <-tick.C:
			if healthy(addr) {
				return nil
			}
		}
	}
}

func healthy(addr string) bool {
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode == http.StatusOK
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// fakeAPIServer answers the discovery requests controller-runtime makes
// while the reconcilers are set up, and 404 to everything else, and returns
// a kubeconfig for it.
func fakeAPIServer(t *testing.T, dir string) string {
	t.Helper()
	mux := http.NewServeMux()
	serve := func(path, body string) {
		mux.HandleFunc(path, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, body)
		})
	}
	serve("/api", `{"kind":"APIVersions","versions":["v1"]}`)
	serve("/api/v1", resourceList("v1", "services:Service", "secrets:Secret", "events:Event"))
	groups := map[string]string{
		"networking.k8s.io/v1":   resourceList("networking.k8s.io/v1", "ingresses:Ingress", "-ingressclasses:IngressClass"),
		"discovery.k8s.io/v1":    resourceList("discovery.k8s.io/v1", "endpointslices:EndpointSlice"),
		"baton.dev/v1alpha1":     resourceList("baton.dev/v1alpha1", "upstreams:Upstream"),
		"coordination.k8s.io/v1": resourceList("coordination.k8s.io/v1", "leases:Lease"),
	}
	var list []string
	for gv, resources := range groups {
		serve("/apis/"+gv, resources)
		g, v, _ := strings.Cut(gv, "/")
		list = append(list, fmt.Sprintf(`{"name":%q,"versions":[{"groupVersion":%q,"version":%q}],"preferredVersion":{"groupVersion":%q,"version":%q}}`, g, gv, v, gv, v))
	}
	serve("/apis", `{"kind":"APIGroupList","apiVersion":"v1","groups":[`+strings.Join(list, ",")+`]}`)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	kubeconfig := filepath.Join(dir, "kubeconfig")
	config := fmt.Sprintf("apiVersion: v1\nkind: Config\nclusters: [{name: fake, cluster: {server: %q}}]\n"+
		"contexts: [{name: fake, context: {cluster: fake, user: fake}}]\ncurrent-context: fake\nusers: [{name: fake, user: {token: fake}}]\n", srv.URL)
	if err := os.WriteFile(kubeconfig, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	return kubeconfig
}

// resourceList is an APIResourceList; a leading "-" marks a cluster-scoped
// resource.
func resourceList(groupVersion string, resources ...string) string {
	var items []string
	for _, r := range resources {
		namespaced := !strings.HasPrefix(r, "-")
		name, kind, _ := strings.Cut(strings.TrimPrefix(r, "-"), ":")
		items = append(items, fmt.Sprintf(`{"name":%q,"singularName":"","namespaced":%t,"kind":%q,"verbs":["get","list","watch"]}`, name, namespaced, kind))
	}
	return fmt.Sprintf(`{"kind":"APIResourceList","apiVersion":"v1","groupVersion":%q,"resources":[%s]}`, groupVersion, strings.Join(items, ","))
}
