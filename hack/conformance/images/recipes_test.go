package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestManifestImagesReadsBaseAndTestsOnce(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "base", "manifests.yaml"), `
containers:
  - name: a
    image: registry.k8s.io/gateway-api/echo-basic:v1.5.1
  - image: "registry.k8s.io/coredns/coredns:v1.12.2"
`)
	writeFile(t, filepath.Join(dir, "tests", "x.yaml"), "      image: registry.k8s.io/gateway-api/echo-basic:v1.5.1\n"+
		"      image: registry.k8s.io/gateway-api/echo-basic:v1.6.0-dev.2\n")
	writeFile(t, filepath.Join(dir, "tests", "x.go"), `image: registry.k8s.io/ignored:go-source`)
	writeFile(t, filepath.Join(dir, "mesh", "manifests.yaml"), `image: registry.k8s.io/gateway-api/echo-advanced:v1.5.1`)

	got, err := manifestImages(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"registry.k8s.io/coredns/coredns:v1.12.2",
		"registry.k8s.io/gateway-api/echo-basic:v1.5.1", "registry.k8s.io/gateway-api/echo-basic:v1.6.0-dev.2"}
	if !slices.Equal(got, want) {
		t.Fatalf("images %q, want %q", got, want)
	}
}

func TestRecipeFor(t *testing.T) {
	for _, tc := range []struct {
		ref, kind, version, err string
	}{
		{ref: "registry.k8s.io/gateway-api/echo-basic:v1.6.0-dev.3", kind: "echo-basic"},
		{ref: "registry.k8s.io/coredns/coredns:v1.12.2", kind: "coredns", version: "v1.12.2"},
		{ref: "registry.k8s.io/gateway-api/echo-advanced:v1.5.1", err: "no recipe"},
		{ref: "registry.k8s.io/gateway-api/echo-basic", err: "no tag"},
	} {
		r, err := recipeFor(tc.ref)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want %q", tc.ref, err, tc.err)
			}
			continue
		}
		if err != nil || r.kind != tc.kind || r.version != tc.version {
			t.Errorf("%s: %+v, %v; want kind %s version %q", tc.ref, r, err, tc.kind, tc.version)
		}
	}
}
