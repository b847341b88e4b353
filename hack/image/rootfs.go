package main

import (
	"bytes"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// The controller's user; the chart's podSecurityContext uses the same ids.
const (
	nonrootUID = 65532
	nonrootGID = 65532
	binaryPath = "baton"
	caPath     = "etc/ssl/certs/ca-certificates.crt"
)

// Same accounts as distroless/static, without a login shell.
const (
	passwd = "root:x:0:0:root:/root:/sbin/nologin\n" +
		"nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n" +
		"nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
	group = "root:x:0:\n" +
		"nobody:x:65534:\n" +
		"nonroot:x:65532:\n"
)

// entry is one file or directory of the image's only layer.
type entry struct {
	path     string // relative to /, no trailing slash
	dir      bool
	mode     int64
	uid, gid int
	data     []byte
	xattrs   map[string]string
}

// layout is the whole filesystem of the image, sorted by path so that the
// layer's bytes do not depend on the order of this list.
func layout(binary, caBundle []byte) []entry {
	entries := []entry{
		{path: binaryPath, mode: 0o755, data: binary,
			xattrs: map[string]string{capabilityXattr: string(netBindServiceCapability())}},
		{path: "etc", dir: true, mode: 0o755},
		{path: "etc/group", mode: 0o644, data: []byte(group)},
		{path: "etc/passwd", mode: 0o644, data: []byte(passwd)},
		{path: "etc/ssl", dir: true, mode: 0o755},
		{path: "etc/ssl/certs", dir: true, mode: 0o755},
		{path: caPath, mode: 0o644, data: caBundle},
		{path: "home", dir: true, mode: 0o755},
		{path: "home/nonroot", dir: true, mode: 0o700, uid: nonrootUID, gid: nonrootGID},
		{path: "tmp", dir: true, mode: 0o1777},
	}
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.path, b.path) })
	return entries
}

// caCertificates is the Mozilla (NSS) root store pinned by go.sum, as PEM.
// Roots that NSS trusts only for certificates issued before a date are left
// out: a PEM bundle cannot carry that constraint, and trusting them without
// it would trust more than NSS does.
func caCertificates() (pemBundle []byte, skipped int) {
	var buf bytes.Buffer
	for root := range bundle.Roots() {
		if root.Constraint != nil {
			skipped++
			continue
		}
		pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: root.Certificate})
	}
	return buf.Bytes(), skipped
}

// writeRootfs lays the entries out under dir, as the Dockerfile's final
// stage copies them: owners, modes, times and the file capability included.
// Setting security.capability and the owners needs root.
func writeRootfs(dir string, entries []entry, mtime time.Time) error {
	for _, e := range entries {
		if err := writeRootfsEntry(filepath.Join(dir, e.path), e); err != nil {
			return fmt.Errorf("%s: %w", e.path, err)
		}
	}
	// Parents last: writing a child changes its directory's mtime.
	for _, e := range slices.Backward(entries) {
		if err := os.Chtimes(filepath.Join(dir, e.path), mtime, mtime); err != nil {
			return err
		}
	}
	return nil
}

func writeRootfsEntry(p string, e entry) error {
	var err error
	if e.dir {
		err = os.MkdirAll(p, 0o755)
	} else {
		err = os.WriteFile(p, e.data, 0o600)
	}
	if err != nil {
		return err
	}
	if err := os.Lchown(p, e.uid, e.gid); err != nil {
		return err
	}
	// After chown, which clears file capabilities and set-id bits.
	if err := os.Chmod(p, fileMode(e.mode)); err != nil {
		return err
	}
	for name, value := range e.xattrs {
		if err := syscall.Setxattr(p, name, []byte(value), 0); err != nil {
			return fmt.Errorf("setxattr %s: %w", name, err)
		}
	}
	return nil
}

// fileMode turns a tar mode into an os.FileMode, keeping the sticky bit.
func fileMode(mode int64) os.FileMode {
	m := os.FileMode(mode & 0o777)
	if mode&0o1000 != 0 {
		m |= os.ModeSticky
	}
	return m
}
