package testcluster

import (
	"path/filepath"
	"testing"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Kubeconfig writes a kubeconfig file for the cluster's admin into the test's temporary directory,
// with namespace as its context's namespace, and returns its path: what a command-line tool under
// test (kubectl-ssakit) is given with --kubeconfig.
func (c *Cluster) Kubeconfig(t testing.TB, namespace string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(kubeconfigOf(c.Config, namespace), path); err != nil {
		t.Fatalf("writing a kubeconfig: %v", err)
	}
	return path
}

// kubeconfigOf is config as a kubeconfig with one cluster, user and context, all named "test".
func kubeconfigOf(config *rest.Config, namespace string) clientcmdapi.Config {
	return clientcmdapi.Config{
		Clusters: map[string]*clientcmdapi.Cluster{"test": {
			Server: config.Host, CertificateAuthorityData: config.CAData,
		}},
		AuthInfos: map[string]*clientcmdapi.AuthInfo{"test": {
			ClientCertificateData: config.CertData, ClientKeyData: config.KeyData, Token: config.BearerToken,
		}},
		Contexts:       map[string]*clientcmdapi.Context{"test": {Cluster: "test", AuthInfo: "test", Namespace: namespace}},
		CurrentContext: "test",
	}
}
