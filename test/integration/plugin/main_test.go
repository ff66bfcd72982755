// Package plugin runs the kubectl-ssakit binary, built from cmd/kubectl-ssakit, against a real
// kube-apiserver, as a user runs it: with a kubeconfig file, reading its stdout, stderr and exit
// code.
package plugin

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/ssakit/ssakit/internal/controlplane"
	"github.com/ssakit/ssakit/internal/testcluster"
)

var (
	cluster *testcluster.Cluster
	// binary is the kubectl-ssakit built for this test run.
	binary string
)

func TestMain(m *testing.M) {
	os.Exit(testcluster.Run(m, &cluster, func(*testcluster.Cluster) (func(), error) {
		dir, err := os.MkdirTemp("", "kubectl-ssakit-")
		if err != nil {
			return nil, err
		}
		binary = filepath.Join(dir, "kubectl-ssakit")
		build := exec.Command("go", "build", "-o", binary, "github.com/ssakit/ssakit/cmd/kubectl-ssakit")
		if out, err := build.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("building kubectl-ssakit: %w\n%s", err, out)
		}
		if err := putKubectlOnPath(dir); err != nil {
			return nil, err
		}
		return func() { _ = os.RemoveAll(dir) }, nil
	}))
}

// putKubectlOnPath puts the project's kubectl (make kubectl: bin/kubectl-v<default release>) first
// on PATH as "kubectl", through a link in dir, so that the tests that run kubectl, as a user would
// with the commands the plugin prints, need no kubectl of the machine's.
func putKubectlOnPath(dir string) error {
	root, err := controlplane.RepositoryRoot()
	if err != nil {
		return err
	}
	kubectl := filepath.Join(root, "bin", "kubectl-v"+controlplane.DefaultKubeVersion)
	if _, err := os.Stat(kubectl); err != nil {
		return fmt.Errorf("the plugin's tests run kubectl: build it with make kubectl (%w)", err)
	}
	if err := os.Symlink(kubectl, filepath.Join(dir, "kubectl")); err != nil {
		return err
	}
	return os.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
}

// result is what one run of the plugin printed and returned.
type result struct {
	stdout, stderr string
	code           int
}

// plugin runs kubectl-ssakit with args against the cluster, in namespace by default.
func plugin(t *testing.T, namespace string, args ...string) result {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), binary, append(args, "--kubeconfig", cluster.Kubeconfig(t, namespace))...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	if exit, ok := errors.AsType[*exec.ExitError](err); ok {
		r.code = exit.ExitCode()
	} else if err != nil {
		t.Fatalf("running kubectl-ssakit %v: %v", args, err)
	}
	return r
}
