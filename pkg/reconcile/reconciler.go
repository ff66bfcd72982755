package reconcile

import (
	"context"
	"errors"

	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	"github.com/ssakit/ssakit/pkg/ssa"
)

// Handler is what an operator writes for objects of type T.
type Handler[T client.Object] interface {
	// Reconcile brings the world in line with obj while obj lives. It runs only once obj carries
	// the finalizer, so anything it creates is covered by Cleanup.
	Reconcile(ctx context.Context, obj T) (reconcile.Result, error)
	// Cleanup releases what obj holds beyond its own lifetime. It runs when obj is terminating
	// and the finalizer is still there, and must be idempotent: it runs again whenever the
	// finalizer could not be removed after it. An error leaves the finalizer and is retried with
	// backoff.
	Cleanup(ctx context.Context, obj T) error
}

// Cluster is what New uses of a controller-runtime manager.Manager: its client, for reads from
// the cache and for applies, and its API reader, for the one uncached read before a cleanup. A
// manager.Manager or cluster.Cluster is one; so is ssatest.Cluster, over a fake client.
type Cluster interface {
	GetClient() client.Client
	GetAPIReader() client.Reader
}

// Options configure New.
type Options struct {
	// Controller names the controller: its finalizer's field manager is
	// ssa.FinalizerFieldOwner(Controller, Finalizer), its events' reporting controller and its
	// metrics' "controller" label. Required.
	Controller string
	// Finalizer is the finalizer's name, domain-qualified with a path (example.com/cleanup).
	// Required.
	Finalizer string
	// FinalizerOptions are passed to ssa.NewFinalizer; its API reader is the cluster's
	// GetAPIReader().
	FinalizerOptions []ssa.FinalizerOption
	// Recorder emits events. Default: the cluster's GetEventRecorder(Controller) when it has one,
	// as a manager.Manager does; otherwise no events.
	Recorder events.EventRecorder
}

// Reconciler is a controller-runtime reconcile.Reconciler for objects of type T that runs the
// finalizer step around a Handler:
//
//  1. Read T through the manager's client; not found means done (controller-runtime's
//     reconcile.AsReconciler does this).
//  2. Terminating with the finalizer: Handler.Cleanup, then remove the finalizer.
//  3. Otherwise: ensure the finalizer, then Handler.Reconcile.
type Reconciler[T client.Object] struct {
	step    *Step
	handler Handler[T]
	read    reconcile.Reconciler
}

var _ reconcile.Reconciler = &Reconciler[client.Object]{}

// New returns the Reconciler for T, ready for builder.ControllerManagedBy(mgr).For(&T{}).Complete.
// mgr is usually the manager.Manager; in a unit test, an ssatest.Cluster.
func New[T client.Object](mgr Cluster, handler Handler[T], opts Options) (*Reconciler[T], error) {
	if opts.Controller == "" || opts.Finalizer == "" {
		return nil, errors.New("reconcile.New: Options.Controller and Options.Finalizer are required")
	}
	if provider, ok := mgr.(interface {
		GetEventRecorder(name string) recorder.EventRecorder
	}); ok && opts.Recorder == nil {
		opts.Recorder = provider.GetEventRecorder(opts.Controller)
	}
	step, err := NewStep(mgr.GetClient(), opts.Controller, opts.Finalizer, StepOptions{
		APIReader:        mgr.GetAPIReader(),
		FinalizerOptions: opts.FinalizerOptions,
		Recorder:         opts.Recorder,
	})
	if err != nil {
		return nil, err
	}
	r := &Reconciler[T]{step: step, handler: handler}
	r.read = reconcile.AsReconciler[T](mgr.GetClient(), objectReconciler[T]{r})
	return r, nil
}

// Reconcile implements reconcile.Reconciler.
func (r *Reconciler[T]) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	return r.read.Reconcile(ctx, req)
}

// Step returns the finalizer step the reconciler runs.
func (r *Reconciler[T]) Step() *Step { return r.step }

// objectReconciler adapts the Reconciler to controller-runtime's ObjectReconciler without giving
// Reconciler a second Reconcile method.
type objectReconciler[T client.Object] struct{ r *Reconciler[T] }

func (o objectReconciler[T]) Reconcile(ctx context.Context, obj T) (reconcile.Result, error) {
	proceed, err := o.r.step.Handle(ctx, obj, func(ctx context.Context) error { return o.r.handler.Cleanup(ctx, obj) })
	if !proceed {
		return reconcile.Result{}, err
	}
	return o.r.handler.Reconcile(ctx, obj)
}
