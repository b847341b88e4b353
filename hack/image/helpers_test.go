package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// testEpoch is the SOURCE_DATE_EPOCH of the test builds, so that the test
// does not depend on the checkout's commit time.
const testEpoch = 1700000000

var (
	shared     sync.Once
	sharedTar  string
	sharedErr  error
	sharedRoot string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "baton-image-test-")
	if err != nil {
		panic(err)
	}
	sharedRoot = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// repoRoot is the Baton checkout this module lives in.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// buildImage runs the builder like `make image` into a fresh directory.
func buildImage(t *testing.T, dir string) (path, digest string) {
	t.Helper()
	path = filepath.Join(dir, "baton-image.tar")
	o := options{src: repoRoot(t), out: path, repository: defaultRepository, arch: "amd64", epoch: "1700000000"}
	_, digest, _, err := build(o)
	if err != nil {
		t.Fatal(err)
	}
	return path, digest
}

// sharedImage is one build shared by the tests that only read it: building
// the controller binary is the slow part.
func sharedImage(t *testing.T) string {
	t.Helper()
	shared.Do(func() {
		dir := filepath.Join(sharedRoot, "shared")
		if sharedErr = os.Mkdir(dir, 0o755); sharedErr != nil {
			return
		}
		o := options{src: repoRoot(t), out: filepath.Join(dir, "baton-image.tar"), repository: defaultRepository, arch: "amd64", epoch: "1700000000"}
		_, _, _, sharedErr = build(o)
		sharedTar = o.out
	})
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return sharedTar
}

// archiveEntry is one file of a tar, header and contents.
type archiveEntry struct {
	hdr  *tar.Header
	data []byte
}

// readTar returns the entries of a tar stream by name, failing on
// duplicates, and their names in archive order.
func readTar(t *testing.T, r io.Reader) (map[string]archiveEntry, []string) {
	t.Helper()
	tr := tar.NewReader(r)
	entries := map[string]archiveEntry{}
	var order []string
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return entries, order
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if _, dup := entries[hdr.Name]; dup {
			t.Fatalf("%s appears twice", hdr.Name)
		}
		entries[hdr.Name] = archiveEntry{hdr: hdr, data: data}
		order = append(order, hdr.Name)
	}
}

func readTarFile(t *testing.T, path string) (map[string]archiveEntry, []string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return readTar(t, f)
}

func gunzip(t *testing.T, data []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sha256Digest(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func decodeJSON(t *testing.T, name string, data []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v\n%s", name, err, data)
	}
}

// blob returns a blob of the layout after checking it is what its digest says.
func blob(t *testing.T, files map[string]archiveEntry, digest string) []byte {
	t.Helper()
	e, ok := files[blobPath(digest)]
	if !ok {
		t.Fatalf("no blob %s", digest)
	}
	if got := sha256Digest(e.data); got != digest {
		t.Fatalf("blob %s holds content with digest %s", digest, got)
	}
	return e.data
}

func wantMtime(t *testing.T, hdr *tar.Header) {
	t.Helper()
	if !hdr.ModTime.Equal(time.Unix(testEpoch, 0)) {
		t.Errorf("%s: mtime %v, want SOURCE_DATE_EPOCH %d", hdr.Name, hdr.ModTime, testEpoch)
	}
}
