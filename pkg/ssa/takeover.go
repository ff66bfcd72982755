package ssa

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

// takeOverAttempts bounds the re-reads after a takeover patch met a newer object.
const takeOverAttempts = 5

// TakeOverLegacy makes the finalizer's manager take the finalizer over from the writers that put
// it on objects before ssakit did: every Update entry (controllerutil.AddFinalizer with Update or
// a merge patch, kubectl edit, kubectl-client-side-apply, before-first-apply after a managedFields
// reset, ancient-changes), and the Apply managers named here (an earlier field manager of the same
// finalizer, such as a shared "<controller>/finalizer"). Without it, such a co-owner keeps the
// finalizer on the object after Remove, which returns a *CoOwnedError (docs/ssa-semantics.md
// rows 3 and 24).
//
// The takeover moves the finalizer's item, and nothing else, from those entries to the manager's
// Apply entry, with a JSON patch of metadata.managedFields guarded by the object's
// resourceVersion: every other field a legacy writer owns stays its own, so no later apply can
// remove a spec field it wrote (which is what client-go's csaupgrade would do: row 26). The value
// of the finalizer list is not touched.
//
// Remove takes over when its apply left the finalizer on the object and every co-owner is legacy
// (or none is recorded), then applies again. Add takes over after an apply whose answer shows
// legacy co-owners, so an object is migrated when the controller first sees it; should that
// patch fail, Add still succeeds (the finalizer is on the object and the manager owns it) and
// Remove takes over later. A co-owner that is neither is never taken from: Remove reports it.
func TakeOverLegacy(managers ...string) FinalizerOption {
	return &FinalizerOptions{TakeOverLegacy: true, LegacyManagers: slices.Clone(managers)}
}

// OnTakeOver sets FinalizerOptions.OnTakeOver.
func OnTakeOver(hook func(ctx context.Context, obj client.Object, from []string)) FinalizerOption {
	return &FinalizerOptions{OnTakeOver: hook}
}

// isLegacyOwner reports whether the finalizer may be taken from entry e.
func (f *Finalizer) isLegacyOwner(e Entry) bool {
	if e.Subresource != "" || (e.Manager == f.manager && e.Operation == metav1.ManagedFieldsOperationApply) {
		return false
	}
	return e.Operation == metav1.ManagedFieldsOperationUpdate || slices.Contains(f.legacyManagers, e.Manager)
}

// takeOverPatch returns the JSON patch that moves the finalizer item from obj's legacy entries to
// the manager's Apply entry, guarded by obj's resourceVersion, and the managers it takes from.
// The patch is nil when there is nothing to move: the finalizer is not on obj, the manager's entry
// already owns it alone, or an owner that is not legacy also owns it (then blocked names it).
func (f *Finalizer) takeOverPatch(obj client.Object, ref ObjectRef) (patch []byte, from, blocked []string, err error) {
	if !slices.Contains(obj.GetFinalizers(), f.name) {
		return nil, nil, nil, nil
	}
	path := FinalizerPath(f.name)
	item := fieldpath.NewSet(path)
	entries := obj.GetManagedFields()
	ownership, err := ParseOwnership(entries)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("finalizer %q on %s: %w", f.name, ref, err)
	}
	moved := make([]metav1.ManagedFieldsEntry, 0, len(entries)+1)
	ownsIt := false
	for i, e := range ownership.Entries {
		entry := *entries[i].DeepCopy()
		switch {
		case e.Manager == f.manager && e.Operation == metav1.ManagedFieldsOperationApply && e.Subresource == "":
			ownsIt = e.Fields.Has(path)
			if !ownsIt {
				if entry.FieldsV1, err = fieldsV1(e.Fields.Union(item)); err != nil {
					return nil, nil, nil, err
				}
				ownsIt = true
			}
		case !e.Fields.Has(path):
		case f.isLegacyOwner(e):
			from = append(from, e.Manager)
			rest := e.Fields.Difference(item)
			if rest.Empty() {
				continue // an empty entry is dropped, as the server drops them
			}
			if entry.FieldsV1, err = fieldsV1(rest); err != nil {
				return nil, nil, nil, err
			}
		default:
			blocked = append(blocked, e.Manager)
		}
		moved = append(moved, entry)
	}
	if len(blocked) > 0 || (len(from) == 0 && ownsIt) {
		return nil, nil, blocked, nil
	}
	if !ownsIt {
		// No entry of the manager's, as after its removal apply or a managedFields reset.
		raw, err := fieldsV1(item)
		if err != nil {
			return nil, nil, nil, err
		}
		now := metav1.Now()
		moved = append(moved, metav1.ManagedFieldsEntry{
			Manager: f.manager, Operation: metav1.ManagedFieldsOperationApply, APIVersion: ref.GroupVersionKind.GroupVersion().String(),
			Time: &now, FieldsType: "FieldsV1", FieldsV1: raw,
		})
	}
	// Replacing resourceVersion makes it the update's precondition: a write since obj was read
	// is a 409, and nothing is changed (the same guard client-go's csaupgrade patch uses).
	patch, err = json.Marshal([]map[string]any{
		{"op": "replace", "path": "/metadata/managedFields", "value": moved},
		{"op": "replace", "path": "/metadata/resourceVersion", "value": obj.GetResourceVersion()},
	})
	return patch, from, nil, err
}

func fieldsV1(set *fieldpath.Set) (*metav1.FieldsV1, error) {
	raw, err := set.ToJSON()
	if err != nil {
		return nil, err
	}
	return &metav1.FieldsV1{Raw: raw}, nil
}

// takeOver moves the finalizer item from obj's legacy owners to the manager (see TakeOverLegacy)
// and sets obj's managedFields and resourceVersion to the server's answer, which differs from obj
// in nothing else: the patch applied to exactly obj's resourceVersion. When obj is stale it
// re-reads the metadata through the API reader and tries again, up to takeOverAttempts times;
// without an API reader that is an *ObjectError wrapping ErrStale. It returns the managers taken
// from, or blocked: the owners that are not legacy, when nothing was moved because of them.
func (f *Finalizer) takeOver(ctx context.Context, obj client.Object, ref ObjectRef) (from, blocked []string, err error) {
	var current client.Object = obj
	for range takeOverAttempts {
		patch, from, blocked, err := f.takeOverPatch(current, ref)
		if err != nil || patch == nil {
			return nil, blocked, err
		}
		answered := &metav1.PartialObjectMetadata{}
		answered.SetGroupVersionKind(ref.GroupVersionKind)
		answered.SetNamespace(ref.Namespace)
		answered.SetName(ref.Name)
		err = f.client.Patch(ctx, answered, client.RawPatch(types.JSONPatchType, patch), client.FieldOwner(f.manager))
		if err == nil {
			if current == obj {
				obj.SetManagedFields(answered.GetManagedFields())
				obj.SetResourceVersion(answered.GetResourceVersion())
			}
			if f.onTakeOver != nil {
				f.onTakeOver(ctx, obj, from)
			}
			return from, nil, nil
		}
		switch {
		case apierrors.IsNotFound(err):
			return nil, nil, &ObjectError{Object: ref, Reason: ErrGone, Detail: "the object was deleted before the finalizer could be taken over", Err: err}
		case !apierrors.IsConflict(err):
			return nil, nil, fmt.Errorf("finalizer %q on %s: taking it over from %s: %w", f.name, ref, quoteAll(from), err)
		case f.apiReader == nil:
			return nil, nil, &ObjectError{Object: ref, Reason: ErrStale, Err: err,
				Detail: fmt.Sprintf("the object was written since it was read, so finalizer %q was not taken over from %s; read it again and retry, or declare the finalizer WithAPIReader to let it re-read", f.name, quoteAll(from))}
		}
		fresh := &metav1.PartialObjectMetadata{}
		fresh.SetGroupVersionKind(ref.GroupVersionKind)
		if err := f.apiReader.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, fresh); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, nil, &ObjectError{Object: ref, Reason: ErrGone, Detail: "the object was deleted before the finalizer could be taken over", Err: err}
			}
			return nil, nil, fmt.Errorf("finalizer %q on %s: reading it again to take the finalizer over: %w", f.name, ref, err)
		}
		if fresh.GetUID() != ref.UID {
			return nil, nil, &ObjectError{Object: ref, Reason: ErrReplaced, Detail: "the object was deleted and its name taken before the finalizer could be taken over"}
		}
		current = fresh
	}
	return nil, nil, &ObjectError{Object: ref, Reason: ErrStale,
		Detail: fmt.Sprintf("the object kept changing: finalizer %q was not taken over after %d attempts; retry later", f.name, takeOverAttempts)}
}
