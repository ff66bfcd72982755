package reconcile

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	"github.com/ssakit/ssakit/pkg/ssa"
)

// Handler is what an operator writes for objects of type T.
type Handler[T client.Object] interface {
	// Reconcile brings the world in line with obj while obj lives. It runs only once obj carries
	// every finalizer of the Reconciler, so anything it creates is covered by a cleanup.
	Reconcile(ctx context.Context, obj T) (reconcile.Result, error)
	// Cleanup releases what obj holds beyond its own lifetime, before Options.Finalizer is
	// removed. It runs when obj is terminating and the finalizer is still there, and must be
	// idempotent: it runs again whenever the finalizer could not be removed after it.
	//
	// A zero Result and no error: done, the finalizer is removed. A positive RequeueAfter and no
	// error (Result{RequeueAfter: 30 * time.Second}): started but not done, as when an external
	// resource takes minutes to delete; the finalizer stays and Cleanup runs again after
	// RequeueAfter, or sooner when obj changes. That is not a failure: no error log, no backoff,
	// one Normal CleanupWaiting event when the waiting starts. An error leaves the finalizer and
	// is retried with backoff, with a Warning event; so is any other non-zero Result.
	//
	// An error that wraps ssa.ErrStale and nothing else (a StatusApplier.Apply that reports the
	// cleanup's progress on a copy from a cache that lags, refused) is retried soon and quietly,
	// as one of Reconcile is (see Reconciler): no event, no error, up to five times in a row.
	// Joined with any other error (errors.Join), it is that error's failure.
	Cleanup(ctx context.Context, obj T) (reconcile.Result, error)
}

// Finalizer is one more finalizer of a Reconciler, with a cleanup of its own: for an operator that
// guards two external systems, say. Every finalizer is added to every live object, so this is not
// a way to move objects from one finalizer name to another. Cleanup means what Handler.Cleanup
// does.
type Finalizer[T client.Object] struct {
	// Name is the finalizer's name, domain-qualified with a path (dns.example.com/record).
	Name string
	// Cleanup releases what Name guards.
	Cleanup func(ctx context.Context, obj T) (reconcile.Result, error)
	// Options are passed to ssa.NewFinalizer for Name, with APIReader set to the cluster's
	// GetAPIReader(): ssa.FinalizerOptions{AllowUnqualifiedName: true} for a name without a path,
	// say. Options.FinalizerOptions do not apply here.
	Options ssa.FinalizerOptions
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
	// Controller names the controller: its finalizers' field managers are
	// ssa.FinalizerFieldOwner(Controller, name), its events' reporting controller and its
	// metrics' "controller" label. Required.
	Controller string
	// Finalizer is the name of the finalizer whose cleanup is Handler.Cleanup, domain-qualified
	// with a path (example.com/cleanup). Required.
	Finalizer string
	// FinalizerOptions are passed to ssa.NewFinalizer for Finalizer, with APIReader set to the
	// cluster's GetAPIReader(); each Finalizer given to New has its own Options. A controller that
	// wrote its finalizer with Update or a merge patch before sets
	// ssa.FinalizerOptions{TakeOverLegacy: true}: each object is migrated when it is next
	// reconciled (see docs/migration.md).
	FinalizerOptions ssa.FinalizerOptions
	// Recorder emits events. Default: the cluster's GetEventRecorder(Controller) when it has one,
	// as a manager.Manager does; otherwise no events.
	Recorder events.EventRecorder
	// GroupVersionKind is the kind of the objects reconciled, for a T that does not name one:
	// *unstructured.Unstructured, in an operator that works on kinds it learns at run time.
	// Every object read is given this kind; watch the same kind with builder.For. Required for
	// such a T; for a typed T, leave it empty (New refuses a kind that is not T's).
	//
	// controller-runtime's client reads unstructured objects from the API server, not the cache,
	// unless the manager's client.Options.Cache.Unstructured is true: set it, or every reconcile
	// costs a GET.
	GroupVersionKind schema.GroupVersionKind
	// LeaderElection says that the manager elects a leader: set it to the manager's
	// ctrl.Options.LeaderElection. Then a cleanup whose cached object is at least as new as a
	// revision read after the election (one List of the kind per process) runs without the
	// uncached read of the object before it; see StepOptions.LeaderElection for why that is
	// safe. Default false: every cleanup reads the object from the API server first.
	LeaderElection bool
}

// Reconciler is a controller-runtime reconcile.Reconciler for objects of type T that runs the
// finalizer steps around a Handler:
//
//  1. Read T through the manager's client (for an unstructured T, of Options.GroupVersionKind);
//     not found means done.
//  2. Run the step of each finalizer (Step.Handle): on a live object, each finalizer is ensured;
//     on a terminating one, each finalizer still on it has its cleanup run and is removed. The
//     cleanups are independent: one that fails or waits holds up neither the others nor their
//     finalizers' removal.
//  3. When every step says Proceed and the object carries every finalizer: Handler.Reconcile. A
//     later step's answer may show an earlier finalizer lost since the object was read (someone's
//     Update dropped it, and the cache had not caught up): the steps then run once more, and if
//     a finalizer is still missing the reconcile fails and is retried; Reconcile never runs on an
//     object seen without one.
//
// The result: the errors of the steps, joined; or, when cleanups wait, the earliest RequeueAfter
// they asked for. controller-runtime drops a Result returned with an error, so while one cleanup
// fails, the others' waits are looked at on its backoff schedule instead. Otherwise, what
// Handler.Reconcile returned, except for a stale copy (below).
//
// A Handler.Reconcile error that wraps ssa.ErrStale (StatusApplier.Apply's refusal of an object
// written since it was read) is a cache that lags, usually behind the controller's own status
// write: the reconcile that an owned child's create brings reads the object from before it. It is
// retried without an error, as StaleRetry says: Result{RequeueAfter: 100ms}, doubling up to 1s,
// with one log line at V(1), so that the retry neither logs an ERROR nor waits for an event that
// will not come (the controller's own status write bumps no generation, and
// predicate.GenerationChangedPredicate lets no event of it through). The sixth stale copy of an
// object in a row, and every next one until a reconcile of it succeeds, is returned as an error,
// for controller-runtime to log and back off: that is a conflict with another writer, not a lag.
// Result.Requeue (deprecated) is not used: it would retry on the rate limiter's schedule, as an
// error does. A cleanup's stale copy is retried the same way, by its step (see Step.Handle), so
// that a waiting cleanup that reports its progress in the status does not fail on the lag; each
// finalizer's cleanup on its own, so one that fails is returned whatever another met. An error
// that joins a stale copy with another is that other error's failure. A step's own error is
// returned as it is.
type Reconciler[T client.Object] struct {
	client     client.Client
	gvk        schema.GroupVersionKind
	handler    Handler[T]
	finalizers []finalizerStep[T]
	stale      StaleRetry
}

// finalizerStep is a finalizer's step and its cleanup.
type finalizerStep[T client.Object] struct {
	step    *Step
	cleanup func(ctx context.Context, obj T) (reconcile.Result, error)
}

var _ reconcile.Reconciler = &Reconciler[client.Object]{}

// New returns the Reconciler for T, ready for builder.ControllerManagedBy(mgr).For(&T{}).Complete.
// mgr is usually the manager.Manager; in a unit test, an ssatest.Cluster. Options.Finalizer's
// cleanup is handler.Cleanup; more adds finalizers with cleanups of their own, each with its own
// field manager under the same controller. New refuses finalizers that would undo each other: two
// on one field manager, and one whose FormerNames name another of them.
func New[T client.Object](mgr Cluster, handler Handler[T], opts Options, more ...Finalizer[T]) (*Reconciler[T], error) {
	if opts.Controller == "" || opts.Finalizer == "" {
		return nil, errors.New("reconcile.New: Options.Controller and Options.Finalizer are required")
	}
	gvk, err := kindOf[T](mgr.GetClient(), opts.GroupVersionKind)
	if err != nil {
		return nil, err
	}
	if provider, ok := mgr.(interface {
		GetEventRecorder(name string) recorder.EventRecorder
	}); ok && opts.Recorder == nil {
		opts.Recorder = provider.GetEventRecorder(opts.Controller)
	}
	all := append([]Finalizer[T]{{Name: opts.Finalizer, Cleanup: handler.Cleanup, Options: opts.FinalizerOptions}}, more...)
	r := &Reconciler[T]{client: mgr.GetClient(), gvk: gvk, handler: handler}
	seen := map[string]bool{}
	for _, f := range all {
		if f.Cleanup == nil {
			return nil, fmt.Errorf("reconcile.New: finalizer %q has no Cleanup", f.Name)
		}
		if seen[f.Name] {
			return nil, fmt.Errorf("reconcile.New: finalizer %q is given twice", f.Name)
		}
		seen[f.Name] = true
		if f.Options.APIReader == nil {
			f.Options.APIReader = mgr.GetAPIReader()
		}
		step, err := NewStep(mgr.GetClient(), opts.Controller, f.Name, StepOptions{FinalizerOptions: f.Options, Recorder: opts.Recorder, LeaderElection: opts.LeaderElection})
		if err != nil {
			return nil, err
		}
		if len(r.finalizers) > 0 && opts.LeaderElection {
			step.elected = r.finalizers[0].step.elected // one revision of the kind per process
		}
		r.finalizers = append(r.finalizers, finalizerStep[T]{step: step, cleanup: f.Cleanup})
	}
	if err := checkDeclaredTogether(r.Steps()); err != nil {
		return nil, err
	}
	return r, nil
}

// checkDeclaredTogether refuses finalizers that would undo each other on every object they meet:
// two on one field manager, since an apply is declarative for its manager and each one's apply
// would remove the other; one whose FormerNames name another, since its Add removes its former
// names from every live object; and two that share a former name, since the first to release it
// from an object that carries only it would leave the other's cleanup unrun. ssa.NewFinalizer
// declares one finalizer and cannot see this; the finalizers of a reconciler are declared here
// together.
func checkDeclaredTogether(steps []*Step) error {
	names := map[string]bool{}
	for _, s := range steps {
		names[s.Finalizer().Name()] = true
	}
	formerOf := map[string]string{}    // former name -> finalizer
	finalizerOf := map[string]string{} // field manager -> finalizer
	for _, s := range steps {
		f := s.Finalizer()
		if other, ok := finalizerOf[f.FieldOwner()]; ok {
			return fmt.Errorf("reconcile.New: finalizers %q and %q have one field manager, %q; an apply is declarative for its manager, so each would remove the other: "+
				"give each its own FieldOwner or leave it empty to get ssa.FinalizerFieldOwner(controller, name)", other, f.Name(), f.FieldOwner())
		}
		finalizerOf[f.FieldOwner()] = f.Name()
		for _, former := range f.FormerNames() {
			if names[former] {
				return fmt.Errorf("reconcile.New: finalizer %q names finalizer %q among its FormerNames, and would remove it from every live object it adds itself to; "+
					"a former name must be one no finalizer uses any more: declare one of them, not both", f.Name(), former)
			}
			if other, ok := formerOf[former]; ok {
				return fmt.Errorf("reconcile.New: finalizers %q and %q both name %q among their FormerNames; on an object that carries only %q, the first to release it would leave the other's cleanup unrun: "+
					"a former name is the earlier name of one finalizer, so give it to that one only", other, f.Name(), former, former)
			}
			formerOf[former] = f.Name()
		}
	}
	return nil
}

// kindOf returns the kind every object read is given: gvk for a T the scheme cannot name (an
// unstructured object), nothing for a typed T, whose kind the client finds in its scheme.
func kindOf[T client.Object](c client.Client, gvk schema.GroupVersionKind) (schema.GroupVersionKind, error) {
	typeName := reflect.TypeFor[T]().String()
	named, err := apiutil.GVKForObject(newObject[T](schema.GroupVersionKind{}), c.Scheme())
	switch {
	case err != nil && gvk.Empty():
		return gvk, fmt.Errorf("reconcile.New: the client's scheme cannot tell the kind of a %s; register its type in the scheme, or, for an unstructured object, set Options.GroupVersionKind to the kind to reconcile: %w", typeName, err)
	case err != nil:
		return gvk, nil
	case !gvk.Empty() && gvk != named:
		return gvk, fmt.Errorf("reconcile.New: Options.GroupVersionKind is %s, but a %s is a %s; leave it empty for a typed object", gvk, typeName, named)
	}
	return schema.GroupVersionKind{}, nil
}

// newObject returns a new, empty T, of kind gvk unless gvk is empty.
func newObject[T client.Object](gvk schema.GroupVersionKind) T {
	obj := reflect.New(reflect.TypeFor[T]().Elem()).Interface().(T)
	if !gvk.Empty() {
		obj.GetObjectKind().SetGroupVersionKind(gvk)
	}
	return obj
}

// Reconcile implements reconcile.Reconciler.
func (r *Reconciler[T]) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	obj := newObject[T](r.gvk)
	if err := r.client.Get(ctx, req.NamespacedName, obj); err != nil {
		err = client.IgnoreNotFound(err)
		if err == nil {
			r.stale.forget(req.NamespacedName) // gone: nothing of it is retried any more
		}
		return reconcile.Result{}, err
	}
	for pass := 1; ; pass++ {
		proceed, result, err := r.runSteps(ctx, obj)
		if err == nil && !proceed {
			r.stale.forget(req.NamespacedName) // a reconcile of the object succeeded
		}
		if err != nil || !proceed {
			return result, err
		}
		missing := r.missingFinalizers(obj)
		if len(missing) == 0 {
			result, err = r.handler.Reconcile(ctx, obj)
			return r.stale.Handle(ctx, req, result, err)
		}
		if pass == 2 {
			return reconcile.Result{}, fmt.Errorf("finalizers %q are missing from %s right after they were added: someone removes them; will retry", missing, client.ObjectKeyFromObject(obj))
		}
	}
}

// runSteps runs every finalizer's step on obj and says whether the reconcile may go on.
func (r *Reconciler[T]) runSteps(ctx context.Context, obj T) (proceed bool, result reconcile.Result, err error) {
	proceed = true
	var errs []error
	for _, f := range r.finalizers {
		outcome, stepResult, err := f.step.Handle(ctx, obj, func(ctx context.Context) (reconcile.Result, error) {
			return f.cleanup(ctx, obj)
		})
		if outcome == Gone {
			return false, reconcile.Result{}, err
		}
		proceed = proceed && outcome == Proceed
		result = earliest(result, stepResult)
		errs = append(errs, err)
	}
	// A waiting cleanup needs the object looked at again, which a terminal error would prevent.
	if err := joinStepErrors(errs, !result.IsZero()); err != nil {
		return false, reconcile.Result{}, err
	}
	return proceed, result, nil
}

// missingFinalizers returns the reconciler's finalizers obj does not carry.
func (r *Reconciler[T]) missingFinalizers(obj T) []string {
	var missing []string
	for _, f := range r.finalizers {
		if name := f.step.Finalizer().Name(); !controllerutil.ContainsFinalizer(obj, name) {
			missing = append(missing, name)
		}
	}
	return missing
}

// Steps returns the reconciler's finalizer steps: Options.Finalizer's first, then the others in
// the order given to New.
func (r *Reconciler[T]) Steps() []*Step {
	steps := make([]*Step, len(r.finalizers))
	for i, f := range r.finalizers {
		steps[i] = f.step
	}
	return steps
}

// Finalizers returns the names of the reconciler's finalizers, in the order of Steps.
func (r *Reconciler[T]) Finalizers() []string {
	names := make([]string, len(r.finalizers))
	for i, f := range r.finalizers {
		names[i] = f.step.Finalizer().Name()
	}
	return names
}

// earliest merges the results of two steps, each zero or waiting (a positive RequeueAfter, all a
// step returns): the object is looked at again at the earlier of the two times asked for.
func earliest(a, b reconcile.Result) reconcile.Result {
	if a.IsZero() || (!b.IsZero() && b.RequeueAfter < a.RequeueAfter) {
		return b
	}
	return a
}

// joinStepErrors joins the errors of several steps. They are terminal only when all of them are
// and nothing needs retrying (retry: another step waits): controller-runtime drops a reconcile
// whose error is terminal anywhere in its chain, and one finalizer's refused name must not stop
// the retries of another's failed cleanup, nor the next look at a waiting one.
func joinStepErrors(errs []error, retry bool) error {
	allTerminal := !retry
	for _, err := range errs {
		if err != nil && !errors.Is(err, reconcile.TerminalError(nil)) {
			allTerminal = false
		}
	}
	if allTerminal {
		return errors.Join(errs...)
	}
	retried := make([]error, 0, len(errs))
	for _, err := range errs {
		if err != nil && errors.Is(err, reconcile.TerminalError(nil)) {
			err = errors.New(err.Error()) // the message, without the terminal mark
		}
		retried = append(retried, err)
	}
	return errors.Join(retried...)
}
