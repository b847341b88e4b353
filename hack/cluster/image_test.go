package cluster

import (
	"archive/tar"
	"os"
	"path/filepath"
	"testing"
)

// The node cannot pull, so `make cluster` re-imports an image only when
// its digest changes: equal content must give an equal tarball and digest.
func TestWriteImageIsReproducible(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.tar"), filepath.Join(dir, "b.tar")
	for _, p := range []string{a, b} {
		if err := WriteImage(p, "baton.local/x:1", "/x", []byte("binary"), []string{"/x"}); err != nil {
			t.Fatal(err)
		}
	}
	da, err := ImageDigest(a)
	if err != nil {
		t.Fatal(err)
	}
	if db, _ := ImageDigest(b); da != db {
		t.Fatalf("digests differ: %s vs %s", da, db)
	}
	if err := WriteImage(b, "baton.local/x:1", "/x", []byte("other"), []string{"/x"}); err != nil {
		t.Fatal(err)
	}
	if db, _ := ImageDigest(b); da == db {
		t.Fatalf("different content, same digest %s", da)
	}
	assertHasBlob(t, a, da)
}

func assertHasBlob(t *testing.T, tarPath, dgst string) {
	f, err := os.Open(tarPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("no blob for %s in %s", dgst, tarPath)
		}
		if h.Name == "blobs/sha256/"+dgst[len("sha256:"):] {
			return
		}
	}
}
