package cluster

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// BuildImage compiles the Go main package pkg (relative to Root) as a
// static binary and writes it as a one-layer OCI image tarball named ref,
// whose entrypoint is the binary followed by args. The same sources give
// the same image digest.
func (c *Cluster) BuildImage(tarPath, ref, pkg string, args ...string) error {
	tmp, err := os.MkdirTemp("", "baton-image-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	name := filepath.Base(pkg)
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(tmp, name), pkg)
	build.Dir = c.Root
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w: %s", pkg, err, out)
	}
	binary, err := os.ReadFile(filepath.Join(tmp, name))
	if err != nil {
		return err
	}
	return WriteImage(tarPath, ref, "/"+name, binary, append([]string{"/" + name}, args...))
}

type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int               `json:"size"`
	Platform    map[string]string `json:"platform,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// WriteImage writes an OCI image layout tarball holding one file (mode
// 0755) at path and an image config with entrypoint. Timestamps are zero so
// the digest depends only on the content.
func WriteImage(tarPath, ref, path string, content []byte, entrypoint []string) error {
	layer, diffID, err := gzipLayer(path, content)
	if err != nil {
		return err
	}
	config, _ := json.Marshal(map[string]any{
		"architecture": runtime.GOARCH, "os": "linux",
		"config": map[string]any{"Entrypoint": entrypoint, "Env": []string{"PATH=/"}},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{diffID}},
	})
	manifest, _ := json.Marshal(map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": describe("application/vnd.oci.image.config.v1+json", config),
		"layers": []descriptor{describe("application/vnd.oci.image.layer.v1.tar+gzip", layer)},
	})
	top := describe("application/vnd.oci.image.manifest.v1+json", manifest)
	top.Platform = map[string]string{"architecture": runtime.GOARCH, "os": "linux"}
	top.Annotations = map[string]string{"io.containerd.image.name": ref,
		"org.opencontainers.image.ref.name": ref[strings.LastIndexByte(ref, ':')+1:]}
	index, _ := json.Marshal(map[string]any{"schemaVersion": 2,
		"mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []descriptor{top}})
	return writeTar(tarPath, []tarFile{
		{"oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		{blobPath(layer), layer}, {blobPath(config), config}, {blobPath(manifest), manifest},
		{"index.json", index},
	})
}

// ImageDigest is the manifest digest WriteImage gives an image tarball,
// as containerd lists it after import.
func ImageDigest(tarPath string) (string, error) {
	f, err := os.Open(tarPath)
	if err != nil {
		return "", err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err != nil {
			return "", fmt.Errorf("%s: no index.json: %w", tarPath, err)
		}
		if h.Name != "index.json" {
			continue
		}
		var index struct{ Manifests []descriptor }
		if err := json.NewDecoder(tr).Decode(&index); err != nil || len(index.Manifests) != 1 {
			return "", fmt.Errorf("%s: want one manifest in index.json (%v)", tarPath, err)
		}
		return index.Manifests[0].Digest, nil
	}
}

func describe(mediaType string, blob []byte) descriptor {
	return descriptor{MediaType: mediaType, Digest: digest(blob), Size: len(blob)}
}

func digest(b []byte) string { return fmt.Sprintf("sha256:%x", sha256.Sum256(b)) }

func blobPath(b []byte) string { return "blobs/sha256/" + strings.TrimPrefix(digest(b), "sha256:") }

func gzipLayer(path string, content []byte) (layer []byte, diffID string, err error) {
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	if err := tw.WriteHeader(&tar.Header{Name: strings.TrimPrefix(path, "/"), Mode: 0o755,
		Size: int64(len(content)), Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
		return nil, "", err
	}
	if _, err := tw.Write(content); err != nil {
		return nil, "", err
	}
	if err := tw.Close(); err != nil {
		return nil, "", err
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := zw.Write(raw.Bytes()); err != nil {
		return nil, "", err
	}
	if err := zw.Close(); err != nil {
		return nil, "", err
	}
	return gz.Bytes(), digest(raw.Bytes()), nil
}

type tarFile struct {
	name string
	data []byte
}

func writeTar(path string, files []tarFile) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.data)),
			Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		if _, err := tw.Write(f.data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// ImportImage loads an image tarball (OCI layout or docker save) into the
// node's containerd, where the kubelet finds it: pods then run it with
// imagePullPolicy IfNotPresent or Never.
func (c *Cluster) ImportImage(tarPath string) error {
	return c.ctr("images", "import", "--all-platforms", tarPath)
}

// hasImage reports whether containerd lists ref at manifest digest dgst.
func (c *Cluster) hasImage(ref, dgst string) bool {
	out, err := exec.Command(c.bin("ctr"), "--address", containerdSocket(), "-n", "k8s.io",
		"images", "ls").Output()
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[0] == ref && f[2] == dgst {
			return true
		}
	}
	return false
}

func (c *Cluster) ctr(args ...string) error {
	return run(c.bin("ctr"), append([]string{"--address", containerdSocket(), "-n", "k8s.io"}, args...)...)
}
