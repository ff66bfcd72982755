// Package setup assembles the ConfigMirror operator's controller-runtime Manager, shared by
// the operator command, the demo and the tests.
package setup

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	mirrorv1alpha1 "github.com/ssakit/ssakit/example/operator/api/v1alpha1"
	"github.com/ssakit/ssakit/example/operator/controller"
	"github.com/ssakit/ssakit/pkg/ssa"
)

// Options are the operator's settings.
type Options struct {
	// MetricsAddr is where the metrics endpoint binds; "0" disables it.
	MetricsAddr string
	// HealthAddr is where the health probes bind; "0" disables them.
	HealthAddr string
	// LeaderElection makes replicas elect a leader.
	LeaderElection bool
	// LeaderElectionNamespace holds the Lease; empty means the Pod's namespace.
	LeaderElectionNamespace string
	// Namespace is the namespace the operator runs in, which accepts copies only from the
	// source namespaces it names (controller.Options.OperatorNamespace); empty when it runs
	// outside the cluster.
	Namespace string
}

// Scheme returns a scheme with the built-in types and ConfigMirror.
func Scheme() (*runtime.Scheme, error) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := mirrorv1alpha1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	return scheme, nil
}

// NewManager returns a Manager running the ConfigMirror controller.
//
// Its cache keeps, of managedFields, only the entries of the operator's own managers
// (ssa.KeepManagedFieldsOf): enough for the finalizer, the status applier and the copies to be
// proven unchanged without a request, at close to the memory of stripped objects. Nothing from
// the cache is ever written back with Update.
func NewManager(cfg *rest.Config, opts Options) (ctrl.Manager, error) {
	scheme, err := Scheme()
	if err != nil {
		return nil, err
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme: scheme,
		Cache: cache.Options{ByObject: map[client.Object]cache.ByObject{
			&mirrorv1alpha1.ConfigMirror{}: {Transform: ssa.KeepManagedFieldsOf(controller.Name, controller.FinalizerFieldOwner)},
			&corev1.ConfigMap{}:            {Transform: ssa.KeepManagedFieldsOf(controller.Name)},
		}},
		Metrics:                 metricsserver.Options{BindAddress: opts.MetricsAddr},
		HealthProbeBindAddress:  opts.HealthAddr,
		LeaderElection:          opts.LeaderElection,
		LeaderElectionID:        "configmirror.mirror.ssakit.dev",
		LeaderElectionNamespace: opts.LeaderElectionNamespace,
	})
	if err != nil {
		return nil, fmt.Errorf("creating the manager: %w", err)
	}
	if err := controller.SetupWithManager(mgr, controller.Options{OperatorNamespace: opts.Namespace, LeaderElection: opts.LeaderElection}); err != nil {
		return nil, fmt.Errorf("setting up the ConfigMirror controller: %w", err)
	}
	return mgr, nil
}
