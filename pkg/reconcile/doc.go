// Package reconcile runs a controller-runtime reconciler around ssakit finalizers: each finalizer
// is added by its own Server-Side Apply field manager before the user's reconcile runs, and removed
// the same way once its cleanup has succeeded on a terminating object. It also applies status to
// the /status subresource with the controller's own field manager, guarded by the object's
// resourceVersion and skipped when it would change nothing, and reports what it does through
// events, the context logger and Prometheus metrics in controller-runtime's registry.
//
// [New] takes a [Cluster]: a controller-runtime manager, or, in a unit test, an ssatest.Cluster
// over controller-runtime's fake client.
//
// The package name repeats controller-runtime's; import one of them under another name:
//
//	import (
//		"sigs.k8s.io/controller-runtime/pkg/reconcile"
//		ssareconcile "github.com/ssakit/ssakit/pkg/reconcile"
//	)
//
// Two ways in: [New] wraps a [Handler] into a reconcile.Reconciler that builder.Complete takes as
// it is, with as many finalizers as the operator guards ([Finalizer]); [Step] is one finalizer's
// step alone, for an existing reconciler that keeps its own shape. Objects are typed, or
// unstructured of a kind given in [Options].GroupVersionKind. A controller that filters events
// with predicate.GenerationChangedPredicate adds [Reconciler.FinalizerPredicate] with
// predicate.Or. A controller that wrote its finalizer with Update or a merge patch before sets
// ssa.FinalizerOptions{TakeOverLegacy: true} in [Options].FinalizerOptions: each object is
// migrated when it is next reconciled (see docs/migration.md).
//
// # Options
//
// As in controller-runtime (manager.New(cfg, manager.Options{})) and package ssa, constructors
// take an options struct whose zero value is the default: [Options] for [New], [StepOptions] for
// [NewStep], [StatusApplierOptions] for [NewStatusApplier]. A finalizer's own options are an
// ssa.FinalizerOptions inside them.
//
// # Stale copies
//
// A controller reads its objects from a cache, which lags behind the API server, most visibly
// behind the controller's own writes: the reconcile that the create of an owned child brings
// (builder.Owns) often reads the object from before the controller's own status write, and
// [StatusApplier.Apply], guarded by the resourceVersion, is refused with a 409 that writes nothing
// (ssa.ErrStale). Harmless, and retried: [New]'s Reconciler turns a Handler.Reconcile error that
// wraps ssa.ErrStale into Result{RequeueAfter: 100ms}, doubling up to 1s, and no error, with one
// log line at V(1). Returning the error would retry it too, but controller-runtime logs each one
// with a stack trace; returning nil would wait for an event that does not come, since the
// controller's own status write bumps no generation and predicate.GenerationChangedPredicate
// hides it. Result.Requeue is deprecated, and would retry on the rate limiter's schedule as an
// error does. The quiet retries are bounded per object: the sixth stale copy in a row, and each
// next one until a reconcile of the object succeeds, is returned as an error, since a copy that
// stays stale is a conflict with another writer, for a person to see and for controller-runtime's
// rate limiter to slow down. A reconciler that calls [Step.Handle] itself does the same with a
// [StaleRetry].
//
// A cleanup's stale copy is retried the same way, by its [Step]: a Handler.Cleanup (or a
// [Finalizer]'s) that waits for an external resource and reports its progress with
// [StatusApplier.Apply] meets the same lag, and gets neither a CleanupFailed event nor an error
// log for it, up to five times in a row. An error counts as a stale copy only when it wraps
// ssa.ErrStale and nothing else: one that joins it with another error (errors.Join, or fmt.Errorf
// with two %w) is a failure, retried with backoff and announced, so that a stale copy never hides
// a failure met with it.
//
// # Logs
//
// Log lines go to the context's logger, which in a controller-runtime reconcile already names the
// controller, the object (its kind, namespace and name) and the reconcileID; a step adds only its
// "finalizer". An error the package returns is not logged by it as well: controller-runtime logs
// it, once per attempt, and a Warning event says what failed (ReasonCleanupFailed,
// ReasonFinalizerBlocked).
//
// # Events
//
// Each event names the finalizer in its note. Its reporting controller is Options.Controller.
//
//	Reason              Type     When
//	CleanupSucceeded    Normal   the step's removal of the finalizer succeeded after an event of this process said the cleanup was not done (CleanupWaiting, CleanupFailed); not after a removal was blocked (FinalizerBlocked): the co-owners' own apply usually releases it
//	CleanupWaiting      Normal   the cleanup asked to be looked at again (RequeueAfter); when a wait starts
//	CleanupFailed       Warning  the cleanup returned an error; the finalizer stays, retried with backoff
//	FinalizerBlocked    Warning  the cleanup is done but other field managers own the finalizer too (ssa.CoOwnedError), or who does cannot be told (ssa.ErrNoManagedFields)
//	CleanupSkipped      Warning  deletion started while the finalizer was missing: the cleanup will not run
//	FinalizerTakenOver  Normal   the finalizer was taken over from legacy field managers (TakeOverLegacy), or a former name (FormerNames); once per object and rename
//
// # Metrics
//
// In controller-runtime's registry, served on the manager's metrics endpoint. A metric that cannot
// be registered (its name taken by another collector) is logged by controller-runtime's logger,
// named "ssakit", once ctrl.SetLogger has been called.
//
//	Metric                               Labels and their values
//	ssakit_finalizer_operations_total    controller; operation: add, remove, takeover (one per
//	                                     managedFields patch that moved the finalizer from legacy
//	                                     managers or a former name to the step: once per migrated
//	                                     object, twice when it is also renamed);
//	                                     result: applied (a request was sent and did what was asked),
//	                                     noop (nothing to send), gone (the object no longer exists or
//	                                     was replaced), co_owned (removal blocked by other managers),
//	                                     rejected (a finalizer name the server refuses), terminating
//	                                     (add refused: deletion started without the finalizer),
//	                                     error (retried)
//	ssakit_cleanup_duration_seconds      controller; result: succeeded, waiting (also a stale
//	                                     copy retried quietly), failed
//	ssakit_apply_requests_total          controller; target: finalizer, status
//	ssakit_cleanups_skipped_total        controller (alert on any increase)
package reconcile
