// Package helm drives the helm CLI of Helm 4 (HelmVersion, built from hack/helm by `make helm`)
// against the test control plane, with Helm 4's defaults: server-side apply as the field manager
// "helm", no forced conflicts. A chart holding one Widget is installed, upgraded and uninstalled
// while a controller reconciles the Widget: an ssakit controller (pkg/reconcile), and a
// kubebuilder-style one (controllerutil.AddFinalizer + Update, Status().Update).
package helm

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ssakit/ssakit/internal/controlplane"
	"github.com/ssakit/ssakit/internal/testcluster"
)

// HelmVersion is the helm release the tests run. It must match HELM_VERSION in the Makefile and
// the helm.sh/helm/v4 version in hack/helm/go.mod.
const HelmVersion = "v4.3.2"

var (
	cluster *testcluster.Cluster
	// helmBinary is bin/helm-<HelmVersion> in the repository.
	helmBinary string
)

func TestMain(m *testing.M) {
	// A missing binary fails the suite, as a missing control plane does: never a silent skip.
	binary, err := findHelm()
	if err != nil {
		fmt.Fprintf(os.Stderr, "helm: %v\n", err)
		os.Exit(1)
	}
	helmBinary = binary
	testcluster.Main(m, &cluster)
}

// findHelm returns the path of bin/helm-<HelmVersion> in the repository, or an error that says
// to run `make helm`.
func findHelm() (string, error) {
	root, err := controlplane.RepositoryRoot()
	if err != nil {
		return "", err
	}
	path := filepath.Join(root, "bin", "helm-"+HelmVersion)
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("no helm %s at %s: run `make helm` to build it from hack/helm (a few minutes the first time)", HelmVersion, path)
	}
	// make helm stamps the version into the binary, as Helm's own release build does.
	out, err := exec.Command(path, "version", "--template", "{{.Version}}").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("running %s version: %w\n%s", path, err, out)
	}
	if got := strings.TrimSpace(string(out)); got != HelmVersion {
		return "", fmt.Errorf("%s reports version %q, not %s: delete it and run `make helm`", path, got, HelmVersion)
	}
	return path, nil
}

// helmCLI runs helm for one test, against the test control plane, in one namespace, with helm's
// own directories (cache, configuration, data) in the test's temporary directory. What helm
// printed is logged when the test fails.
type helmCLI struct {
	t          *testing.T
	namespace  string
	kubeconfig string
	home       string
	transcript strings.Builder
}

func newHelm(t *testing.T, namespace string) *helmCLI {
	t.Helper()
	h := &helmCLI{t: t, namespace: namespace, kubeconfig: cluster.Kubeconfig(t, namespace), home: t.TempDir()}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("what helm printed:\n%s", h.transcript.String())
		}
	})
	return h
}

// run runs helm with args and the namespace and kubeconfig of the test, and returns what it
// printed on stdout and stderr together, and its error (an *exec.ExitError when helm failed).
func (h *helmCLI) run(args ...string) (string, error) {
	h.t.Helper()
	args = append(args, "--kubeconfig", h.kubeconfig, "--namespace", h.namespace)
	cmd := exec.CommandContext(h.t.Context(), helmBinary, args...)
	cmd.Env = append(os.Environ(),
		"HELM_CACHE_HOME="+filepath.Join(h.home, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(h.home, "config"),
		"HELM_DATA_HOME="+filepath.Join(h.home, "data"),
	)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	fmt.Fprintf(&h.transcript, "$ helm %s\n%s", strings.Join(args[:len(args)-4], " "), out.String())
	if err != nil && !isExit(err) {
		h.t.Fatalf("running helm %v: %v", args, err)
	}
	return out.String(), err
}

func isExit(err error) bool {
	_, ok := errors.AsType[*exec.ExitError](err)
	return ok
}

// chart is the path of the Widget chart: one Widget named after the release, whose spec.color
// is always rendered (empty by default) and spec.replicas only when given a value.
func chart(t *testing.T) string {
	t.Helper()
	path, err := filepath.Abs(filepath.Join("testdata", "widget"))
	if err != nil {
		t.Fatal(err)
	}
	return path
}
