package reconcile

import (
	"slices"

	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
)

// FinalizerChanged returns a controller-runtime predicate that lets through exactly the update
// events that change what the controller must do about its finalizers on a live object (the new
// object is not being deleted): one of finalizers went missing (the old object carried it, the
// new one does not), or one of formerNames, the finalizers' former names (FormerNames in
// ssa.FinalizerOptions), appeared. Creates, deletes, generic events and every other update are
// filtered out. Without former names, pass nil.
//
// It exists for controllers that filter their events with predicate.GenerationChangedPredicate.
// A finalizer change never bumps metadata.generation (docs/ssa-semantics.md row 6), so when
// someone's Update or merge patch drops the controller's finalizer (a `kubectl replace` of an
// object read before the finalizer was added, say), that predicate hides it: nothing restores the
// finalizer, and a delete in that window skips the cleanup. Likewise, during a rolling upgrade
// that renames a finalizer, the old release puts its former name back with an Update, and only
// the new release's reconcile removes it again; hidden, such an object keeps both names until the
// next resync. Combine the two with predicate.Or, so that such an event brings a reconcile:
//
//	ctrl.NewControllerManagedBy(mgr).
//		For(&v1.Bucket{}, builder.WithPredicates(predicate.Or[client.Object](
//			predicate.GenerationChangedPredicate{},
//			r.FinalizerPredicate(),
//		))).
//		Complete(r)
//
// Reconciler.FinalizerPredicate builds it from a reconciler's finalizers and their former names.
//
// The finalizer's own removal after a cleanup is not let through: the object is terminating by
// then.
func FinalizerChanged(finalizers, formerNames []string) predicate.Predicate {
	return predicate.Funcs{
		CreateFunc:  func(event.CreateEvent) bool { return false },
		DeleteFunc:  func(event.DeleteEvent) bool { return false },
		GenericFunc: func(event.GenericEvent) bool { return false },
		UpdateFunc: func(e event.UpdateEvent) bool {
			if e.ObjectOld == nil || e.ObjectNew == nil || !e.ObjectNew.GetDeletionTimestamp().IsZero() {
				return false
			}
			lost := func(name string) bool {
				return controllerutil.ContainsFinalizer(e.ObjectOld, name) && !controllerutil.ContainsFinalizer(e.ObjectNew, name)
			}
			appeared := func(name string) bool {
				return !controllerutil.ContainsFinalizer(e.ObjectOld, name) && controllerutil.ContainsFinalizer(e.ObjectNew, name)
			}
			return slices.ContainsFunc(finalizers, lost) || slices.ContainsFunc(formerNames, appeared)
		},
	}
}

// FinalizerPredicate returns FinalizerChanged for r's finalizers and their former names: the
// predicate to combine with predicate.GenerationChangedPredicate (with predicate.Or) so that no
// event that changes what r must do about its finalizers is filtered out.
func (r *Reconciler[T]) FinalizerPredicate() predicate.Predicate {
	var former []string
	for _, f := range r.finalizers {
		former = append(former, f.step.Finalizer().FormerNames()...)
	}
	return FinalizerChanged(r.Finalizers(), former)
}
