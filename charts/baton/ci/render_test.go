package ci

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"
)

// The release is deliberately not called "baton", so a name the chart
// hard-codes instead of deriving from the release shows.
const (
	release   = "edge"
	releaseNS = "ingress-system"
)

var (
	root     string // the repository
	chartDir string
	helmBin  string
	batonBin string // cmd/controller, built for this run
)

func TestMain(m *testing.M) {
	code, err := setUp(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "charts/baton/ci:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func setUp(m *testing.M) (int, error) {
	var err error
	if root, err = filepath.Abs("../../.."); err != nil {
		return 0, err
	}
	chartDir = filepath.Join(root, "charts", "baton")
	helmBin = filepath.Join(root, "bin", "helm")
	if _, err := os.Stat(helmBin); err != nil {
		return 0, fmt.Errorf("needs bin/helm: run make tools (%w)", err)
	}
	tmp, err := os.MkdirTemp("", "baton-chart-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmp)
	batonBin = filepath.Join(tmp, "baton")
	build := exec.Command("go", "build", "-o", batonBin, "./cmd/controller")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("build cmd/controller: %w\n%s", err, out)
	}
	return m.Run(), nil
}

// variant is one way of installing the chart: helm arguments after the
// chart path.
type variant struct {
	name string
	args []string
}

// variants are the defaults, DaemonSet mode with otherwise default values,
// and every ci/*-values.yaml.
func variants(t *testing.T) []variant {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(chartDir, "ci", "*-values.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no ci/*-values.yaml found (%v)", err)
	}
	vs := []variant{{name: "defaults"}, {name: "daemonset-defaults", args: []string{"--set", "mode=DaemonSet"}}}
	for _, f := range files {
		vs = append(vs, variant{name: strings.TrimSuffix(filepath.Base(f), "-values.yaml"), args: []string{"-f", f}})
	}
	return vs
}

// helmTemplate renders the chart; the error carries helm's message.
func helmTemplate(args ...string) ([]byte, error) {
	full := append([]string{"template", release, chartDir, "--namespace", releaseNS}, args...)
	cmd := exec.Command(helmBin, full...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("helm template %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	return out, nil
}

// manifest is a rendered chart: typed objects for the kinds client-go
// knows, generic maps for the others (the ServiceMonitor).
type manifest struct {
	typed   []runtime.Object
	generic []map[string]any
	docs    []map[string]any // every object as rendered, typed or not
}

func render(t *testing.T, args ...string) *manifest {
	t.Helper()
	out, err := helmTemplate(args...)
	if err != nil {
		t.Fatal(err)
	}
	m, err := decode(out)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// strict rejects unknown and duplicate fields, as the API server does with
// fieldValidation=Strict.
var strict = serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict).UniversalDeserializer()

func decode(out []byte) (*manifest, error) {
	m := &manifest{}
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(out)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return m, nil
		}
		if err != nil {
			return nil, err
		}
		if err := m.add(doc); err != nil {
			return nil, err
		}
	}
}

func (m *manifest) add(doc []byte) error {
	var tm metav1.TypeMeta
	if err := utilyaml.Unmarshal(doc, &tm); err != nil {
		return fmt.Errorf("%w in\n%s", err, doc)
	}
	if tm.Kind == "" {
		return nil // a document holding only comments
	}
	var u map[string]any
	if err := utilyaml.Unmarshal(doc, &u); err != nil {
		return err
	}
	m.docs = append(m.docs, u)
	if !scheme.Scheme.Recognizes(tm.GroupVersionKind()) {
		m.generic = append(m.generic, u)
		return nil
	}
	obj, _, err := strict.Decode(doc, nil, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", tm.Kind, err)
	}
	m.typed = append(m.typed, obj)
	return nil
}

// all returns the objects of type T, in rendering order.
func all[T runtime.Object](m *manifest) []T {
	var found []T
	for _, o := range m.typed {
		if v, ok := o.(T); ok {
			found = append(found, v)
		}
	}
	return found
}

// only returns the single object of type T; several or none is a failure.
func only[T runtime.Object](t *testing.T, m *manifest) T {
	t.Helper()
	found := all[T](m)
	if len(found) != 1 {
		var zero T
		t.Fatalf("want exactly one %T, rendered %d", zero, len(found))
	}
	return found[0]
}

// genericOfKind returns the untyped objects of a kind.
func genericOfKind(m *manifest, kind string) []map[string]any {
	var found []map[string]any
	for _, u := range m.generic {
		if u["kind"] == kind {
			found = append(found, u)
		}
	}
	return found
}

// flags parses "--name=value" and "--name" arguments; the last of a
// repeated flag wins, as in the flag package.
func flags(t *testing.T, args []string) map[string]string {
	t.Helper()
	f := map[string]string{}
	for _, a := range args {
		name, value, hasValue := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !strings.HasPrefix(a, "--") || name == "" {
			t.Fatalf("argument %q is not --name[=value]", a)
		}
		if !hasValue {
			value = "true"
		}
		f[name] = value
	}
	return f
}

// controllerAccepts runs the real controller with args. The flags are
// parsed and validated first (exit 2 on an unknown flag, a bad value or
// contradictory flags); a kubeconfig that does not exist then stops it
// before it contacts anything (exit 1, naming the file).
func controllerAccepts(args []string) error {
	missing := filepath.Join(os.TempDir(), "baton-chart-test-no-such-kubeconfig")
	cmd := exec.Command(batonBin, append([]string{"--kubeconfig=" + missing}, args...)...)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !bytes.Contains(out, []byte(missing)) {
		return fmt.Errorf("controller rejected the chart's arguments (%v):\n%s", err, out)
	}
	return nil
}
