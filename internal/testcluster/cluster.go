// Package testcluster starts one real kube-apiserver and etcd per test binary, through
// controller-runtime's envtest, and gives each test what it needs against it: a fresh namespace
// and clients that record the requests they send and the warnings they receive.
//
// The binaries are found by internal/controlplane.
package testcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/ssakit/ssakit/internal/controlplane"
	"github.com/ssakit/ssakit/pkg/ssa"
)

// Cluster is a running control plane with an admin client.
type Cluster struct {
	// Config is an admin rest.Config for the control plane.
	Config *rest.Config
	// Scheme knows the built-in types and the typed Widget; Gadget is used as unstructured.
	Scheme *runtime.Scheme
	// Mapper is shared by every client of the cluster, so that the discovery requests it makes
	// are never counted as a recorded client's requests.
	Mapper meta.RESTMapper
	// Client is an admin client that records nothing.
	Client client.Client
	// AssetsDir is the directory kube-apiserver and etcd were started from.
	AssetsDir string

	env *envtest.Environment
	// certDir holds kube-apiserver's certificates when they outlive a restart (StartRestartable);
	// empty otherwise.
	certDir string
}

// Main is the body of a TestMain: it starts the control plane, stores it in *cluster, runs the
// tests, stops the control plane and exits with the tests' code. When no binaries are found it
// prints what to run and exits non-zero, so a missing control plane is never a skipped suite.
func Main(m *testing.M, cluster **Cluster, crdPaths ...string) {
	os.Exit(Run(m, cluster, nil, crdPaths...))
}

// Run is Main with a setup step between the start of the control plane and the tests (starting
// an operator, say); the stop function setup returns runs after the tests. It returns the exit
// code.
func Run(m *testing.M, cluster **Cluster, setup func(*Cluster) (stop func(), err error), crdPaths ...string) (code int) {
	// controller-runtime prints a stack trace when something logs before a logger is set; tests
	// that want logs set their own.
	ctrllog.SetLogger(logr.Discard())
	c, err := Start(crdPaths...)
	if err != nil {
		fmt.Fprintf(os.Stderr, "testcluster: %v\n", err)
		return 1
	}
	defer func() {
		if err := c.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "testcluster: stopping the control plane: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
	}()
	*cluster = c
	if setup != nil {
		stop, err := setup(c)
		if err != nil {
			fmt.Fprintf(os.Stderr, "testcluster: setup: %v\n", err)
			return 1
		}
		defer stop()
	}
	return m.Run()
}

// Start starts kube-apiserver and etcd, installs the test CRDs and those in crdPaths (files or
// directories, relative to the working directory), and returns the cluster.
func Start(crdPaths ...string) (*Cluster, error) { return start("", crdPaths) }

// StartRestartable is Start for a test that stops and starts kube-apiserver itself
// (StopAPIServer, StartAPIServer), on a control plane of its own so that no other test loses its
// API server. Stop it with Stop.
//
// envtest restarts kube-apiserver on the same port, with the same client CA and etcd, but puts
// its serving certificates in a temporary directory that it deletes at every stop, so a restart
// would serve a new CA and no client made before it could connect. Here the directory is the
// cluster's own and kept until Stop.
func StartRestartable(crdPaths ...string) (*Cluster, error) {
	dir, err := os.MkdirTemp("", "ssakit-apiserver-")
	if err != nil {
		return nil, err
	}
	c, err := start(dir, crdPaths)
	if err != nil {
		return nil, errors.Join(err, os.RemoveAll(dir))
	}
	return c, nil
}

// start starts the control plane; a non-empty certDir keeps kube-apiserver's certificates there.
func start(certDir string, crdPaths []string) (*Cluster, error) {
	assets, err := controlplane.AssetsDir()
	if err != nil {
		return nil, err
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := AddWidgetToScheme(scheme); err != nil {
		return nil, err
	}
	env := controlplane.Environment(assets)
	if certDir != "" {
		env.ControlPlane.APIServer = &envtest.APIServer{CertDir: certDir}
		// A graceful stop otherwise waits for the open watches of every informer up to
		// --request-timeout (60 s), past envtest's stop timeout. With this, kube-apiserver
		// drains the short requests, answering new ones 429 with Retry-After, and then gives
		// watches 2 s, as it does behind a load balancer in a rolling restart.
		env.ControlPlane.APIServer.Configure().Set("shutdown-send-retry-after", "true")
	}
	env.CRDs = CRDs()
	env.CRDDirectoryPaths = crdPaths
	env.Scheme = scheme
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("starting kube-apiserver and etcd from %s: %w", assets, err)
	}
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, errors.Join(err, env.Stop())
	}
	mapper, err := apiutil.NewDynamicRESTMapper(cfg, httpClient)
	if err != nil {
		return nil, errors.Join(err, env.Stop())
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme, HTTPClient: httpClient, Mapper: mapper})
	if err != nil {
		return nil, errors.Join(err, env.Stop())
	}
	return &Cluster{Config: cfg, Scheme: scheme, Mapper: mapper, Client: c, AssetsDir: assets, env: env, certDir: certDir}, nil
}

// AddUser provisions a user the API server authenticates by name and nothing else: what it may
// do is up to the RBAC objects a test creates for it. It returns a rest.Config for that user.
func (c *Cluster) AddUser(name string) (*rest.Config, error) {
	user, err := c.env.AddUser(envtest.User{Name: name}, nil)
	if err != nil {
		return nil, err
	}
	return user.Config(), nil
}

// Stop stops kube-apiserver and etcd.
func (c *Cluster) Stop() error {
	err := c.env.Stop()
	if c.certDir != "" {
		err = errors.Join(err, os.RemoveAll(c.certDir))
	}
	return err
}

// StopAPIServer stops kube-apiserver gracefully and waits until it has exited; etcd keeps
// running with every object. Only a cluster from StartRestartable can be stopped this way.
func (c *Cluster) StopAPIServer() error {
	if c.certDir == "" {
		return errors.New("testcluster: only a cluster from StartRestartable can restart its kube-apiserver")
	}
	return c.env.ControlPlane.APIServer.Stop()
}

// StartAPIServer starts kube-apiserver again after StopAPIServer, on the same etcd, port and
// certificates, and waits until it is healthy: Config and every config made from it (AddUser's
// included) work again.
func (c *Cluster) StartAPIServer() error {
	if c.certDir == "" {
		return errors.New("testcluster: only a cluster from StartRestartable can restart its kube-apiserver")
	}
	return c.env.ControlPlane.APIServer.Start()
}

// Namespace creates a namespace with a generated name for one test and returns its name. The
// namespace is deleted when the test ends (envtest runs no namespace controller, so its objects
// stay in etcd until the control plane stops; names never collide because they are generated).
func (c *Cluster) Namespace(t testing.TB) string {
	t.Helper()
	return c.AnnotatedNamespace(t, nil)
}

// AnnotatedNamespace is Namespace with annotations set by its create, so that no watcher ever
// sees the namespace without them.
func (c *Cluster) AnnotatedNamespace(t testing.TB, annotations map[string]string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "ssakit-test-", Annotations: annotations}}
	if err := c.Client.Create(t.Context(), ns); err != nil {
		t.Fatalf("creating a test namespace: %v", err)
	}
	t.Cleanup(func() {
		// t.Context() is already cancelled when cleanups run.
		_ = c.Client.Delete(context.Background(), ns)
	})
	return ns.Name
}

// ServerTypeConverter is ssa.ServerTypeConverter for the test control plane, waiting for the
// server to publish the schemas: it does so a moment after a CRD is Established (about 300 ms
// after the control plane starts), so a first call can miss them.
func (c *Cluster) ServerTypeConverter(groupVersions ...schema.GroupVersion) (types managedfields.TypeConverter, err error) {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if types, err = ssa.ServerTypeConverter(c.Config, groupVersions...); err == nil {
			return types, nil
		}
	}
	return nil, err
}
