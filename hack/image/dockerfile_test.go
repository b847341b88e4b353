package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
)

// The Dockerfile lays the filesystem out with this builder and sets the
// same user and entrypoint as the image config; Docker is not needed to
// check that much.
func TestDockerfileAgreesWithImageConfig(t *testing.T) {
	df, err := os.ReadFile(filepath.Join(repoRoot(t), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := image{}.config(layer{}).Config
	final := string(df[strings.LastIndex(string(df), "\nFROM "):])
	for _, want := range []string{
		"\nFROM scratch\n",
		"\nCOPY --from=build /rootfs/ /\n",
		"\nUSER " + cfg.User + "\n",
		`ENTRYPOINT ["` + cfg.Entrypoint[0] + `"]`,
	} {
		if !strings.Contains(final, want) {
			t.Errorf("Dockerfile's final stage lacks %q:\n%s", strings.TrimSpace(want), final)
		}
	}
	if !regexp.MustCompile(`(?m)^RUN go -C hack/image run \. -src /src -rootfs /rootfs$`).Match(df) {
		t.Error("Dockerfile does not lay /rootfs out with hack/image")
	}
}

// What the Dockerfile's build stage writes is what the layer holds: modes,
// owners and the file capability.
func TestRootfsMatchesLayer(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	o := options{src: repoRoot(t), rootfs: dir, arch: "amd64", epoch: "1700000000"}
	if _, _, _, err := build(o); err != nil {
		t.Fatal(err)
	}
	for _, e := range layout(nil, nil) {
		p := filepath.Join(dir, e.path)
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			t.Fatal(err)
		}
		if got := int64(st.Mode & 0o7777); got != e.mode || int(st.Uid) != e.uid || int(st.Gid) != e.gid {
			t.Errorf("%s: mode %o owner %d:%d, want %o %d:%d", e.path, got, st.Uid, st.Gid, e.mode, e.uid, e.gid)
		}
		if st.Mtim.Sec != testEpoch {
			t.Errorf("%s: mtime %d, want %d", e.path, st.Mtim.Sec, testEpoch)
		}
	}
	buf := make([]byte, 64)
	n, err := syscall.Getxattr(filepath.Join(dir, binaryPath), capabilityXattr, buf)
	if err != nil {
		t.Fatalf("/baton security.capability: %v", err)
	}
	if !bytes.Equal(buf[:n], []byte(wantCapability)) {
		t.Errorf("/baton security.capability = %x, want %x", buf[:n], wantCapability)
	}
}
