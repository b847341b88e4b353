package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// defaultRepository is the chart's default image.repository.
const defaultRepository = "ghcr.io/baton-dev/baton"

type options struct {
	src        string // repository root
	out        string // image tarball to write
	rootfs     string // or: directory to lay the filesystem out in
	repository string
	arch       string
	epoch      string // SOURCE_DATE_EPOCH; empty: commit time of HEAD
}

func main() {
	opts, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err == nil {
		err = run(opts)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	fs.StringVar(&o.src, "src", "", "Root of the Baton repository (required).")
	fs.StringVar(&o.out, "out", "", "Image tarball to write (OCI layout + docker-archive manifest.json).")
	fs.StringVar(&o.rootfs, "rootfs", "", "Instead of a tarball, lay the image's filesystem out in this directory (needs root).")
	fs.StringVar(&o.repository, "repository", defaultRepository, "Image repository; the tag is the chart's appVersion.")
	fs.StringVar(&o.arch, "arch", runtime.GOARCH, "GOARCH of the binary and the image.")
	fs.StringVar(&o.epoch, "source-date-epoch", os.Getenv("SOURCE_DATE_EPOCH"), "Seconds since 1970 used for every timestamp; default $SOURCE_DATE_EPOCH, else the commit time of HEAD, else 0.")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.src == "" || (o.out == "") == (o.rootfs == "") {
		return o, errors.New("need -src and exactly one of -out and -rootfs")
	}
	return o, nil
}

func run(o options) error {
	start := time.Now()
	ref, digest, skipped, err := build(o)
	if err != nil || o.rootfs != "" {
		return err
	}
	fmt.Printf("%s %s -> %s (%d constrained CA roots left out, %s)\n",
		ref, digest, o.out, skipped, time.Since(start).Round(time.Second))
	return nil
}

// build writes the image tarball (or the rootfs) and returns the image's
// reference and manifest digest.
func build(o options) (ref, digest string, skippedRoots int, err error) {
	epoch, err := sourceDateEpoch(o)
	if err != nil {
		return "", "", 0, err
	}
	work, err := os.MkdirTemp("", "baton-image-")
	if err != nil {
		return "", "", 0, err
	}
	defer os.RemoveAll(work)
	binary, err := buildBinary(o.src, work, o.arch)
	if err != nil {
		return "", "", 0, err
	}
	caBundle, skipped := caCertificates()
	entries := layout(binary, caBundle)
	mtime := time.Unix(epoch, 0).UTC()
	if o.rootfs != "" {
		return "", "", skipped, writeRootfs(o.rootfs, entries, mtime)
	}
	version, err := appVersion(o.src)
	if err != nil {
		return "", "", 0, err
	}
	img := image{ref: o.repository + ":" + version, version: version, arch: o.arch, created: mtime}
	digest, err = writeImage(o.out, img, entries)
	return img.ref, digest, skipped, err
}

// writeImage writes the tarball next to its final name first, so that a
// failed build never leaves a truncated image behind.
func writeImage(out string, img image, entries []entry) (string, error) {
	l, err := buildLayer(entries, img.created)
	if err != nil {
		return "", err
	}
	f, err := os.CreateTemp(filepath.Dir(out), ".baton-image-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(f.Name())
	digest, err := writeArchive(f, img, l)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), out)
	}
	return digest, err
}

// buildBinary builds a static controller whose bytes depend only on the
// sources and the Go toolchain: no cgo, no paths, no VCS stamp, and none of
// the caller's GOFLAGS.
func buildBinary(src, work, arch string) ([]byte, error) {
	out := filepath.Join(work, "baton")
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", out, "./cmd/controller")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch, "GOFLAGS=")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go build: %w", err)
	}
	return os.ReadFile(out)
}

var appVersionLine = regexp.MustCompile(`(?m)^appVersion:\s*"?([^"\s]+)"?\s*$`)

// appVersion is the chart's appVersion, which is also the image tag the
// chart deploys when image.tag is empty.
func appVersion(src string) (string, error) {
	chart, err := os.ReadFile(filepath.Join(src, "charts", "baton", "Chart.yaml"))
	if err != nil {
		return "", err
	}
	m := appVersionLine.FindSubmatch(chart)
	if m == nil {
		return "", errors.New("charts/baton/Chart.yaml has no appVersion")
	}
	return string(m[1]), nil
}

func sourceDateEpoch(o options) (int64, error) {
	epoch := o.epoch
	if epoch == "" {
		out, err := exec.Command("git", "-C", o.src, "log", "-1", "--format=%ct").Output()
		if err != nil {
			return 0, nil // not a git checkout, e.g. a Docker build context
		}
		epoch = strings.TrimSpace(string(out))
	}
	secs, err := strconv.ParseInt(epoch, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("SOURCE_DATE_EPOCH %q: %w", epoch, err)
	}
	return secs, nil
}
