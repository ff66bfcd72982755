package controlplane

import (
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// WriteKubeconfig writes config as a kubeconfig file at path, with one cluster, user and context,
// all named "envtest", and namespace as the context's namespace: what a command-line tool (kubectl,
// kubectl-ssakit) is given to talk to a control plane started here.
func WriteKubeconfig(config *rest.Config, namespace, path string) error {
	return clientcmd.WriteToFile(clientcmdapi.Config{
		Clusters: map[string]*clientcmdapi.Cluster{"envtest": {
			Server: config.Host, CertificateAuthorityData: config.CAData,
		}},
		AuthInfos: map[string]*clientcmdapi.AuthInfo{"envtest": {
			ClientCertificateData: config.CertData, ClientKeyData: config.KeyData, Token: config.BearerToken,
		}},
		Contexts:       map[string]*clientcmdapi.Context{"envtest": {Cluster: "envtest", AuthInfo: "envtest", Namespace: namespace}},
		CurrentContext: "envtest",
	}, path)
}
