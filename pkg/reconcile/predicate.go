package reconcile

import (
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
)

// FinalizerLost returns a controller-runtime predicate that lets through exactly the update events
// in which one of finalizers went missing from a live object: the old object carried it, the new
// one does not and is not being deleted. Creates, deletes, generic events and every other update
// are filtered out.
//
// It exists for controllers that filter their events with predicate.GenerationChangedPredicate.
// A finalizer change never bumps metadata.generation (docs/ssa-semantics.md row 6), so when
// someone's Update or merge patch drops the controller's finalizer (a `kubectl replace` of an
// object read before the finalizer was added, say), that predicate hides it: nothing restores the
// finalizer, and a delete in that window skips the cleanup. Combine the two with predicate.Or, so
// that such an event brings a reconcile, which adds the finalizer back:
//
//	ctrl.NewControllerManagedBy(mgr).
//		For(&v1.Bucket{}, builder.WithPredicates(predicate.Or[client.Object](
//			predicate.GenerationChangedPredicate{},
//			ssareconcile.FinalizerLost(r.Finalizers()...),
//		))).
//		Complete(r)
//
// A reconciler whose finalizers have older names (ssa.RenamedFrom) needs FinalizerChanged, which
// Reconciler.FinalizerPredicate builds from its finalizers: use that.
//
// The finalizer's own removal after a cleanup is not let through: the object is terminating by
// then.
func FinalizerLost(finalizers ...string) predicate.Predicate {
	return predicate.Funcs{
		CreateFunc:  func(event.CreateEvent) bool { return false },
		DeleteFunc:  func(event.DeleteEvent) bool { return false },
		GenericFunc: func(event.GenericEvent) bool { return false },
		UpdateFunc: func(e event.UpdateEvent) bool {
			if e.ObjectOld == nil || e.ObjectNew == nil || !e.ObjectNew.GetDeletionTimestamp().IsZero() {
				return false
			}
			for _, f := range finalizers {
				if controllerutil.ContainsFinalizer(e.ObjectOld, f) && !controllerutil.ContainsFinalizer(e.ObjectNew, f) {
					return true
				}
			}
			return false
		},
	}
}

// FinalizerChanged is FinalizerLost that also lets through the update events in which one of
// olderNames (ssa.RenamedFrom) appeared on a live object: during a rolling upgrade that renames a
// finalizer, the old release puts its name back with an Update, which bumps no generation
// either, and only the new release's reconcile removes it again. Without this, such an object
// keeps both names until the next resync.
func FinalizerChanged(finalizers, olderNames []string) predicate.Predicate {
	lost := FinalizerLost(finalizers...)
	return predicate.Funcs{
		CreateFunc:  func(event.CreateEvent) bool { return false },
		DeleteFunc:  func(event.DeleteEvent) bool { return false },
		GenericFunc: func(event.GenericEvent) bool { return false },
		UpdateFunc: func(e event.UpdateEvent) bool {
			if lost.Update(e) {
				return true
			}
			if e.ObjectOld == nil || e.ObjectNew == nil || !e.ObjectNew.GetDeletionTimestamp().IsZero() {
				return false
			}
			for _, name := range olderNames {
				if !controllerutil.ContainsFinalizer(e.ObjectOld, name) && controllerutil.ContainsFinalizer(e.ObjectNew, name) {
					return true
				}
			}
			return false
		},
	}
}

// FinalizerPredicate returns FinalizerChanged for r's finalizers and their older names: the
// predicate to combine with predicate.GenerationChangedPredicate (with predicate.Or) so that no
// event that changes what r must do about its finalizers is filtered out.
func (r *Reconciler[T]) FinalizerPredicate() predicate.Predicate {
	var older []string
	for _, f := range r.finalizers {
		older = append(older, f.step.Finalizer().OlderNames()...)
	}
	return FinalizerChanged(r.Finalizers(), older)
}
