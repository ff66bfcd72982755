package testcluster

import (
	"path/filepath"
	"testing"

	"github.com/ssakit/ssakit/internal/controlplane"
)

// Kubeconfig writes a kubeconfig file for the cluster's admin into the test's temporary directory,
// with namespace as its context's namespace, and returns its path: what a command-line tool under
// test (kubectl-ssakit) is given with --kubeconfig.
func (c *Cluster) Kubeconfig(t testing.TB, namespace string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := controlplane.WriteKubeconfig(c.Config, namespace, path); err != nil {
		t.Fatalf("writing a kubeconfig: %v", err)
	}
	return path
}
