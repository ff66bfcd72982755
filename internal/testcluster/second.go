package testcluster

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// SecondAPIServer is a second kube-apiserver on the etcd of a Cluster, as two API servers behind
// a load balancer are: each serves the same objects, from a watch cache of its own fed by its
// own watch of etcd, so a client that watches one and writes through the other sees two caches
// that lag differently.
type SecondAPIServer struct {
	// Config is an admin rest.Config for the second kube-apiserver: the cluster's Config with
	// the second one's address.
	Config *rest.Config
	// Client is an admin client of the second kube-apiserver that records nothing.
	Client client.Client

	server *envtest.APIServer
	dir    string
}

// sharedFiles are what the second kube-apiserver takes from the first one's certificate
// directory, as envtest's APIServer names them (controller-runtime
// pkg/internal/testing/controlplane: apiserver.go and auth.go): its serving certificate, valid for
// localhost and 127.0.0.1 whatever the port, so the clients' CA trusts both servers; the
// service-account signing keys, so a token one issues the other accepts; and the CA of the
// users' client certificates, so every user (Config's, AddUser's) is the same user on both.
var sharedFiles = []string{"apiserver.crt", "apiserver.key", "sa-signer.crt", "sa-signer.key", clientCAFile}

// clientCAFile is the file in which envtest's certificate authentication (CertAuthn) keeps the
// CA of the users' client certificates.
const clientCAFile = "client-cert-auth-ca.crt"

// StartSecondAPIServer starts a second kube-apiserver on the cluster's etcd, sharing the first
// one's serving certificate, service-account keys, service-account issuer and users, and waits
// until it is healthy. Stop it with its Stop before the cluster stops: it would otherwise lose
// its etcd under it.
//
// It is envtest's own APIServer (controller-runtime's envtest.APIServer), given the first one's
// etcd URL and a certificate directory holding copies of sharedFiles: envtest then generates no
// certificates of its own, and the authentication below points it at the same client CA.
func (c *Cluster) StartSecondAPIServer() (*SecondAPIServer, error) {
	first := c.env.ControlPlane.APIServer
	if first == nil || first.EtcdURL == nil || first.CertDir == "" {
		return nil, errors.New("testcluster: the cluster's kube-apiserver is not running; start a second one after Start")
	}
	dir, err := os.MkdirTemp("", "ssakit-apiserver-2-")
	if err != nil {
		return nil, err
	}
	for _, name := range sharedFiles {
		if err := copyFile(filepath.Join(first.CertDir, name), filepath.Join(dir, name)); err != nil {
			return nil, errors.Join(fmt.Errorf("testcluster: sharing the first kube-apiserver's %s (has envtest renamed it?): %w", name, err), os.RemoveAll(dir))
		}
	}
	server := &envtest.APIServer{
		Path:          first.Path,
		EtcdURL:       first.EtcdURL,
		CertDir:       dir,
		SecureServing: envtest.SecureServing{Authn: sharedClientCA{file: filepath.Join(dir, clientCAFile)}},
	}
	// Both servers issue and accept service-account tokens as one cluster.
	server.Configure().Set("service-account-issuer", first.SecureServing.URL("https", "/").String())
	if err := server.Start(); err != nil {
		return nil, errors.Join(fmt.Errorf("testcluster: starting a second kube-apiserver on %s: %w", first.EtcdURL, err), os.RemoveAll(dir))
	}
	s := &SecondAPIServer{server: server, dir: dir}
	s.Config = s.ConfigFor(c.Config)
	httpClient, err := rest.HTTPClientFor(s.Config)
	if err == nil {
		s.Client, err = c.clientOn(s.Config, httpClient)
	}
	if err != nil {
		return nil, errors.Join(err, s.Stop())
	}
	return s, nil
}

// clientOn is an unrecorded client of cfg with the cluster's scheme and mapper.
func (c *Cluster) clientOn(cfg *rest.Config, httpClient *http.Client) (client.Client, error) {
	return client.New(cfg, client.Options{Scheme: c.Scheme, HTTPClient: httpClient, Mapper: c.Mapper})
}

// ConfigFor returns cfg, a config of the cluster's first kube-apiserver (Config, or one from
// AddUser or RecordingConfig), pointed at the second one: the same user, the same CA.
func (s *SecondAPIServer) ConfigFor(cfg *rest.Config) *rest.Config {
	cfg = rest.CopyConfig(cfg)
	cfg.Host = s.server.SecureServing.URL("https", "/").String()
	return cfg
}

// Stop stops the second kube-apiserver and removes its certificate directory; the cluster's
// kube-apiserver and etcd keep running.
func (s *SecondAPIServer) Stop() error {
	return errors.Join(s.server.Stop(), os.RemoveAll(s.dir))
}

// sharedClientCA is envtest's Authn for the second kube-apiserver: it authenticates the client
// certificates of the first one's CA (envtest's CertAuthn, whose CA is not exported), from the
// copy of its file. Users are added on the cluster (AddUser) and work on both servers.
type sharedClientCA struct{ file string }

// Configure implements envtest.Authn.
func (a sharedClientCA) Configure(_ string, args *envtest.Arguments) error {
	args.Set("client-ca-file", a.file)
	return nil
}

// Start implements envtest.Authn.
func (sharedClientCA) Start() error { return nil }

// AddUser implements envtest.Authn.
func (sharedClientCA) AddUser(envtest.User, *rest.Config) (*rest.Config, error) {
	return nil, errors.New("testcluster: add users on the Cluster (AddUser) and point their config at the second kube-apiserver with ConfigFor")
}

// Stop implements envtest.Authn.
func (sharedClientCA) Stop() error { return nil }

func copyFile(from, to string) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, data, 0o600)
}
