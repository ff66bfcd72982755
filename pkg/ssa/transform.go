package ssa

import (
	"slices"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
)

// KeepManagedFieldsOf returns an informer transform that keeps only the managedFields entries of
// managers and drops the rest, for controller-runtime's cache.Options.DefaultTransform or
// cache.ByObject.Transform. It sits between client-go's cache.TransformStripManagedFields, which
// drops every entry (docs/ssa-semantics.md row 23), and keeping them all: the cache stays nearly as small
// as a stripped one, and a Finalizer whose manager is listed still sees that it owns its finalizer,
// so Add sends nothing at steady state; the status applier likewise proves a status unchanged from
// its manager's entry. Without the entry Add applies (the server writes nothing when nothing
// changes). Co-owners are always named from the server's answer, which has every entry.
//
// Never write an object from such a cache back with Update or a patch that carries
// metadata.managedFields: the API server would take the trimmed list as the new managedFields and
// the other managers' ownership would be lost. ssakit's applies never send managedFields.
func KeepManagedFieldsOf(managers ...string) toolscache.TransformFunc {
	managers = slices.Clone(managers)
	return func(in any) (any, error) {
		// Tombstones (cache.DeletedFinalStateUnknown) and anything else without ObjectMeta pass
		// through unchanged.
		obj, err := meta.Accessor(in)
		if err != nil {
			return in, nil
		}
		entries := obj.GetManagedFields()
		keep := 0
		for _, e := range entries {
			if slices.Contains(managers, e.Manager) {
				keep++
			}
		}
		if keep == len(entries) {
			return in, nil
		}
		// A new slice of exactly the kept entries, so the dropped ones are not held by the cache.
		var kept []metav1.ManagedFieldsEntry
		if keep > 0 {
			kept = make([]metav1.ManagedFieldsEntry, 0, keep)
			for _, e := range entries {
				if slices.Contains(managers, e.Manager) {
					kept = append(kept, e)
				}
			}
		}
		obj.SetManagedFields(kept)
		return in, nil
	}
}
