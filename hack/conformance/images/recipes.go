package main

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
)

// A recipe says how to build the one static binary an image runs.
type recipe struct {
	// name is the binary's file name, at / in the image, and its entrypoint.
	name string
	// kind selects the build: "echo-basic" from the suite's own source,
	// "coredns" from the CoreDNS module at version.
	kind    string
	version string
}

const (
	echoBasicRepo = "registry.k8s.io/gateway-api/echo-basic"
	coreDNSRepo   = "registry.k8s.io/coredns/coredns"
)

// recipeFor maps an image reference of the suite to its build. Every
// echo-basic tag (the manifests name v1.5.1 and v1.6.0-dev.N side by side)
// is the echo-basic of the suite being run: it is the server the suite's
// assertions were written against. CoreDNS backs only the UDPRoute tests,
// but its pod sits in the base namespace whose pods must all be Ready before
// any test starts.
func recipeFor(ref string) (recipe, error) {
	repo, tag, ok := strings.Cut(ref, ":")
	if !ok || strings.Contains(tag, "/") {
		return recipe{}, fmt.Errorf("no tag in %q: the kubelet would default to :latest and pull always", ref)
	}
	switch repo {
	case echoBasicRepo:
		return recipe{name: "echo-basic", kind: "echo-basic"}, nil
	case coreDNSRepo:
		return recipe{name: "coredns", kind: "coredns", version: tag}, nil
	}
	return recipe{}, fmt.Errorf("no recipe for image %q: add one to hack/conformance/images", ref)
}

// imageLine is a container's image field in the suite's YAML.
var imageLine = regexp.MustCompile(`(?m)^\s*(?:-\s+)?image:\s*["']?([^"'\s]+)`)

// manifestImages lists, sorted and once each, the images named by the
// manifests the Gateway profiles apply: base/ (applied before any test) and
// tests/. mesh/ (the mesh profile's echo-advanced) is left out.
func manifestImages(suiteDir string) ([]string, error) {
	var refs []string
	for _, dir := range []string{"base", "tests"} {
		err := filepath.WalkDir(filepath.Join(suiteDir, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
				return err
			}
			data, err := os.ReadFile(path)
			for _, m := range imageLine.FindAllSubmatch(data, -1) {
				refs = append(refs, string(m[1]))
			}
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	if len(refs) == 0 {
		return nil, fmt.Errorf("no image in %s/{base,tests}: is it the conformance module?", suiteDir)
	}
	slices.Sort(refs)
	return slices.Compact(refs), nil
}

// fileName turns a reference into a tarball name.
func fileName(ref string) string {
	return strings.NewReplacer("/", "_", ":", "_").Replace(ref)
}

// builder builds each recipe's binary once per run.
type builder struct {
	suiteDir string
	work     string
	binaries map[string]string // recipe kind+version -> binary path
}

func (b *builder) binary(r recipe) (string, error) {
	key := r.kind + "@" + r.version
	if path, ok := b.binaries[key]; ok {
		return path, nil
	}
	out := filepath.Join(b.work, r.name)
	if r.version != "" {
		out += "-" + r.version
	}
	var err error
	switch r.kind {
	case "echo-basic":
		err = b.buildEchoBasic(out)
	case "coredns":
		err = buildModule("github.com/coredns/coredns", r.version, out)
	}
	if err != nil {
		return "", err
	}
	b.binaries[key] = out
	return out, nil
}

// buildEchoBasic builds echo-basic as the suite's docker/Dockerfile.echo-basic
// does: the directory is its own module once .go.mod and .go.sum are renamed,
// built with CGO_ENABLED=0 -trimpath -ldflags="-buildid= -s -w".
func (b *builder) buildEchoBasic(out string) error {
	src := filepath.Join(b.work, "echo-basic-src")
	if err := os.RemoveAll(src); err != nil {
		return err
	}
	if err := copyTree(filepath.Join(b.suiteDir, "echo-basic"), src); err != nil {
		return err
	}
	for _, f := range []string{"go.mod", "go.sum"} {
		if err := os.Rename(filepath.Join(src, "."+f), filepath.Join(src, f)); err != nil {
			return err
		}
	}
	return goBuild(src, out, ".", "-ldflags=-buildid= -s -w")
}

// buildModule builds the main package at the root of module@version in the
// module cache, with the module's own go.mod and go.sum.
func buildModule(module, version, out string) error {
	cmd := exec.Command("go", "mod", "download", "-json", module+"@"+version)
	cmd.Env = goEnv()
	raw, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("go mod download %s@%s: %w", module, version, err)
	}
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(raw, &info); err != nil || info.Dir == "" {
		return fmt.Errorf("go mod download %s@%s: %v %s", module, version, err, info.Error)
	}
	return goBuild(info.Dir, out, ".", "-ldflags=-s -w")
}

func goBuild(dir, out, pkg, ldflags string) error {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	cmd := exec.Command("go", "build", "-trimpath", ldflags, "-o", out, pkg)
	cmd.Dir = dir
	cmd.Env = goEnv()
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build in %s: %w", dir, err)
	}
	return nil
}

// goEnv builds static Linux binaries for this machine, outside any
// workspace and without the caller's GOFLAGS (a -mod=mod would try to
// write into the read-only module cache).
func goEnv() []string {
	return append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH,
		"GOFLAGS=-mod=readonly", "GOWORK=off")
}

// copyTree copies a directory of regular files (the module cache's are
// read-only, the copy's are writable so that the next run can remove it).
func copyTree(from, to string) error {
	return filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, data, 0o644)
	})
}
