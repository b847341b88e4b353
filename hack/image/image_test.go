package main

import (
	"bytes"
	"crypto/x509"
	"debug/elf"
	"encoding/pem"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The security.capability value `setcap cap_net_bind_service=ep` writes:
// VFS_CAP_REVISION_2|VFS_CAP_FLAGS_EFFECTIVE, permitted word 0 = 1<<10,
// everything else zero (linux/capability.h, little endian).
const wantCapability = "\x01\x00\x00\x02" + "\x00\x04\x00\x00" + "\x00\x00\x00\x00" + "\x00\x00\x00\x00" + "\x00\x00\x00\x00"

func TestTarballIsOCILayoutAndDockerArchive(t *testing.T) {
	files, order := readTarFile(t, sharedImage(t))
	if !slices.IsSorted(order) {
		t.Errorf("entries not sorted: %v", order)
	}
	for _, e := range files {
		wantMtime(t, e.hdr)
	}
	if got := string(files["oci-layout"].data); got != `{"imageLayoutVersion":"1.0.0"}` {
		t.Errorf("oci-layout = %s", got)
	}
	var idx index
	decodeJSON(t, "index.json", files["index.json"].data, &idx)
	if len(idx.Manifests) != 1 {
		t.Fatalf("index.json has %d manifests, want 1", len(idx.Manifests))
	}
	md := idx.Manifests[0]
	ref := chartImage(t)
	if name := md.Annotations[annotationImageName]; name != ref {
		t.Errorf("index names the image %q, want the chart's default %q", name, ref)
	}
	var m manifest
	decodeJSON(t, "manifest", blob(t, files, md.Digest), &m)
	if m.MediaType != mediaTypeManifest || md.MediaType != mediaTypeManifest || len(m.Layers) != 1 {
		t.Fatalf("manifest %+v", m)
	}
	var docker []dockerManifest
	decodeJSON(t, "manifest.json", files["manifest.json"].data, &docker)
	want := []dockerManifest{{Config: blobPath(m.Config.Digest), RepoTags: []string{ref}, Layers: []string{blobPath(m.Layers[0].Digest)}}}
	if len(docker) != 1 || docker[0].Config != want[0].Config || !slices.Equal(docker[0].RepoTags, want[0].RepoTags) || !slices.Equal(docker[0].Layers, want[0].Layers) {
		t.Errorf("manifest.json = %+v, want %+v", docker, want)
	}
	var cfg imageConfig
	decodeJSON(t, "config", blob(t, files, m.Config.Digest), &cfg)
	if cfg.Config.User != "65532:65532" || !slices.Equal(cfg.Config.Entrypoint, []string{"/baton"}) || cfg.OS != "linux" {
		t.Errorf("config %+v: want User 65532:65532, Entrypoint [/baton], os linux", cfg.Config)
	}
	layerTar := gunzip(t, blob(t, files, m.Layers[0].Digest))
	if got := sha256Digest(layerTar); len(cfg.RootFS.DiffIDs) != 1 || cfg.RootFS.DiffIDs[0] != got {
		t.Errorf("config diff_ids %v, uncompressed layer is %s", cfg.RootFS.DiffIDs, got)
	}
}

// chartImage is the image the chart deploys by default.
func chartImage(t *testing.T) string {
	t.Helper()
	values, err := os.ReadFile(repoRoot(t) + "/charts/baton/values.yaml")
	if err != nil {
		t.Fatal(err)
	}
	repo := regexp.MustCompile(`(?m)^image:\n(?:  #.*\n)*  repository: (\S+)\n(?:  #.*\n)*  tag: ""`).FindSubmatch(values)
	if repo == nil {
		t.Fatal(`values.yaml: no image.repository followed by an empty image.tag (the chart's appVersion)`)
	}
	version, err := appVersion(repoRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	return string(repo[1]) + ":" + version
}

func TestLayerHoldsCapableStaticBinaryCertsAndNonrootUser(t *testing.T) {
	files, _ := readTarFile(t, sharedImage(t))
	var idx index
	decodeJSON(t, "index.json", files["index.json"].data, &idx)
	var m manifest
	decodeJSON(t, "manifest", files[blobPath(idx.Manifests[0].Digest)].data, &m)
	layer, order := readTar(t, bytes.NewReader(gunzip(t, files[blobPath(m.Layers[0].Digest)].data)))

	wantPaths := []string{"baton", "etc/", "etc/group", "etc/passwd", "etc/ssl/", "etc/ssl/certs/",
		"etc/ssl/certs/ca-certificates.crt", "home/", "home/nonroot/", "tmp/"}
	if !slices.Equal(order, wantPaths) {
		t.Errorf("layer holds %v, want exactly %v (no shell, sorted)", order, wantPaths)
	}
	baton := layer["baton"]
	if baton.hdr.Mode != 0o755 || baton.hdr.Uid != 0 || baton.hdr.Gid != 0 {
		t.Errorf("/baton mode %o owner %d:%d, want 755 0:0", baton.hdr.Mode, baton.hdr.Uid, baton.hdr.Gid)
	}
	if got := baton.hdr.PAXRecords["SCHILY.xattr.security.capability"]; got != wantCapability {
		t.Errorf("/baton security.capability = %x, want %x (cap_net_bind_service=ep)", got, wantCapability)
	}
	wantStatic(t, baton.data)
	wantCertificates(t, layer["etc/ssl/certs/ca-certificates.crt"].data)
	if !strings.Contains(string(layer["etc/passwd"].data), "\nnonroot:x:65532:65532:") ||
		!strings.Contains(string(layer["etc/group"].data), "\nnonroot:x:65532:\n") {
		t.Errorf("passwd/group lack nonroot 65532:\n%s%s", layer["etc/passwd"].data, layer["etc/group"].data)
	}
	for _, e := range layer {
		wantMtime(t, e.hdr)
		if e.hdr.Uname != "" || e.hdr.Gname != "" || !e.hdr.AccessTime.IsZero() || !e.hdr.ChangeTime.IsZero() {
			t.Errorf("%s carries build-machine metadata: %+v", e.hdr.Name, e.hdr)
		}
	}
}

// wantStatic fails unless the binary is an ELF executable without an
// interpreter: it runs in an image that has no libc.
func wantStatic(t *testing.T, binary []byte) {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(binary))
	if err != nil {
		t.Fatalf("/baton: %v", err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("/baton is dynamically linked (has PT_INTERP)")
		}
	}
}

func wantCertificates(t *testing.T, bundle []byte) {
	t.Helper()
	n := 0
	for rest := bundle; ; n++ {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			t.Fatalf("certificate %d: %v", n, err)
		}
	}
	if n < 100 {
		t.Errorf("CA bundle holds %d certificates, want the NSS root store (100+)", n)
	}
}

// Same commit, other directory, later time: same bytes.
func TestBuildIsReproducible(t *testing.T) {
	first := sharedImage(t)
	second, digest := buildImage(t, t.TempDir())
	a, err := os.ReadFile(first)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(second)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatalf("two builds differ: %s vs %s", sha256Digest(a), sha256Digest(b))
	}
	t.Logf("manifest digest %s, tarball %s", digest, sha256Digest(a))
}
