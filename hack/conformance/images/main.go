// Command images builds every container image the Gateway API conformance
// suite's manifests name, from source, and imports each into the node's
// containerd under the exact reference the manifests use, so the suite runs
// unmodified with no registry:
//
//	go run ./hack/conformance/images -root . -suite $(go list -m -f '{{.Dir}}' sigs.k8s.io/gateway-api/conformance)
//
// The references are read from the suite's own YAML (base/ and tests/), so a
// newer suite that names a new image fails here, loudly, instead of leaving a
// pod in ErrImageNeverPull. None of them says imagePullPolicy Always, and
// none is tagged latest, so the kubelet's default (IfNotPresent) uses the
// imported image.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/baton-dev/baton/hack/cluster"
)

func main() {
	root := flag.String("root", ".", "the Baton checkout (ctr in root/bin, images in root/bin/conformance)")
	suite := flag.String("suite", "", "directory of the sigs.k8s.io/gateway-api/conformance module (required)")
	noImport := flag.Bool("no-import", false, "only build the tarballs")
	flag.Parse()
	if *suite == "" {
		log.Fatal("-suite is required")
	}
	abs, err := filepath.Abs(*root)
	if err != nil {
		log.Fatal(err)
	}
	if err := run(abs, *suite, !*noImport); err != nil {
		log.Fatal(err)
	}
}

func run(root, suiteDir string, load bool) error {
	refs, err := manifestImages(suiteDir)
	if err != nil {
		return err
	}
	out := filepath.Join(root, "bin", "conformance", "images")
	b := &builder{suiteDir: suiteDir, work: filepath.Join(root, "bin", "conformance", "build"),
		binaries: map[string]string{}}
	c := &cluster.Cluster{Root: root, Logf: log.Printf}
	for _, ref := range refs {
		start := time.Now()
		tarPath, err := b.image(ref, out)
		if err != nil {
			return fmt.Errorf("%s: %w", ref, err)
		}
		if load {
			if err := c.ImportImage(tarPath); err != nil {
				return fmt.Errorf("import %s: %w", ref, err)
			}
		}
		log.Printf("%s (%s)", ref, time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// image builds (or reuses) the binary behind ref and writes it as a
// one-layer image tarball named ref.
func (b *builder) image(ref, outDir string) (string, error) {
	r, err := recipeFor(ref)
	if err != nil {
		return "", err
	}
	binary, err := b.binary(r)
	if err != nil {
		return "", err
	}
	content, err := os.ReadFile(binary)
	if err != nil {
		return "", err
	}
	tarPath := filepath.Join(outDir, fileName(ref)+".tar")
	entry := "/" + r.name
	return tarPath, cluster.WriteImage(tarPath, ref, entry, content, []string{entry})
}
