// Package controlplane finds the kube-apiserver and etcd binaries built by hack/controlplane and
// prepares a controller-runtime envtest Environment to run them, for the integration tests and
// for the example operator's demo.
package controlplane

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// DefaultKubeVersion is the release used unless KUBE_VERSION says otherwise. It must match
// DEFAULT_KUBE_VERSION in the Makefile.
const DefaultKubeVersion = "1.37.2"

// Environment returns an envtest Environment that runs the binaries in assets.
func Environment(assets string) *envtest.Environment {
	env := &envtest.Environment{BinaryAssetsDirectory: assets, ErrorIfCRDPathMissing: true}
	// envtest looks for kubectl too, but only runs it on request; point it at a path that says
	// why it is missing instead of at a file that would never exist.
	env.ControlPlane.KubectlPath = filepath.Join(assets, "kubectl-is-not-built")
	return env
}

// AssetsDir returns the directory that holds kube-apiserver and etcd: KUBEBUILDER_ASSETS when it
// is set, otherwise bin/controlplane/<KUBE_VERSION> in the repository. Its error says what to run.
func AssetsDir() (string, error) {
	if dir, ok := os.LookupEnv("KUBEBUILDER_ASSETS"); ok {
		return checkAssets(dir, "KUBEBUILDER_ASSETS="+dir)
	}
	root, err := RepositoryRoot()
	if err != nil {
		return "", err
	}
	version := os.Getenv("KUBE_VERSION")
	if version == "" {
		version = DefaultKubeVersion
	}
	return checkAssets(filepath.Join(root, "bin", "controlplane", version),
		"run `make controlplane KUBE_VERSION="+version+"` to build them from their Go modules (about 8 minutes the first time on 2 cores), or set KUBEBUILDER_ASSETS to a directory that holds kube-apiserver and etcd")
}

func checkAssets(dir, hint string) (string, error) {
	var missing []string
	for _, name := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return "", fmt.Errorf("no control-plane binaries %v in %s: %s", missing, dir, hint)
	}
	return dir, nil
}

// RepositoryRoot walks up from the working directory (a test's package directory) to the
// directory that holds the project's go.mod and hack/: where the pinned tools of the Makefile land
// (bin/).
func RepositoryRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "hack", "controlplane")); err == nil {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				return dir, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("cannot find the ssakit repository root above the working directory; set KUBEBUILDER_ASSETS to a directory that holds kube-apiserver and etcd")
		}
		dir = parent
	}
}
