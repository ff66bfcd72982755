package ssa

import (
	"context"
	"encoding/json"
	"errors"
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

// TakeOver is what one takeover moved: finalizer items, and the managers they were taken from.
type TakeOver struct {
	// Finalizers are the names whose items the finalizer's manager now owns alone: its own name,
	// or former names about to be released.
	Finalizers []string
	// From are the managers taken from, sorted; empty when no owner was recorded (managedFields
	// were reset).
	From []string
}

// isOwnEntry reports whether e is the manager's Apply entry on the main resource, the only entry
// its applies change.
func (f *Finalizer) isOwnEntry(e Entry) bool {
	return e.IsApplyOf(f.manager, "")
}

// mayTakeFrom reports whether the item of finalizer name may be taken from entry e.
func (f *Finalizer) mayTakeFrom(e Entry, name string) bool {
	switch {
	case f.isOwnEntry(e) || e.Subresource != "":
		return false
	case name != f.name:
		return true // a former name of this finalizer, whoever holds it
	case e.Manager == beforeFirstApply && e.Operation == metav1.ManagedFieldsOperationUpdate:
		// Not a writer: the server's name for "managedFields were dropped" (row 24), which
		// kubernetes#136919 does to live objects. It records no intent to keep the finalizer.
		return true
	}
	return f.takeOverLegacy && (e.Operation == metav1.ManagedFieldsOperationUpdate || slices.Contains(f.legacyManagers, e.Manager))
}

// takeOverPatch returns the JSON patch that moves the items of names from obj's entries that
// mayTakeFrom to the manager's Apply entry, guarded by obj's resourceVersion, and what it moves.
// The patch is nil when nothing is to move.
func (f *Finalizer) takeOverPatch(obj client.Object, ref ObjectRef, names []string) ([]byte, TakeOver, error) {
	ownership, err := ParseOwnership(obj.GetManagedFields())
	if err != nil {
		return nil, TakeOver{}, fmt.Errorf("finalizer %q on %s: %w", f.name, ref, err)
	}
	moving, took := f.movable(ownership, obj.GetFinalizers(), names)
	if moving.Empty() {
		return nil, TakeOver{}, nil
	}
	entries, err := f.withItemsMoved(obj.GetManagedFields(), ownership, moving, ref)
	if err != nil {
		return nil, TakeOver{}, err
	}
	patch, err := managedFieldsPatch(entries, obj.GetResourceVersion())
	return patch, took, err
}

// movable returns the items of names that may move to the manager, and what that takeover is. A
// name the object does not carry, one the manager's entry already owns alone, and one that an
// owner it may not take from also owns, stay as they are.
func (f *Finalizer) movable(ownership *Ownership, finalizers, names []string) (*fieldpath.Set, TakeOver) {
	moving := &fieldpath.Set{}
	var took TakeOver
	for _, name := range names {
		if !slices.Contains(finalizers, name) {
			continue
		}
		path := FinalizerPath(name)
		ownedByManager, blocked := false, false
		var from []string
		for _, e := range ownership.Entries {
			switch {
			case !e.Fields.Has(path):
			case f.isOwnEntry(e):
				ownedByManager = true
			case f.mayTakeFrom(e, name):
				from = append(from, e.Manager)
			default:
				blocked = true
			}
		}
		if blocked || (ownedByManager && len(from) == 0) {
			continue
		}
		moving.Insert(path)
		took.Finalizers = append(took.Finalizers, name)
		took.From = append(took.From, from...)
	}
	slices.Sort(took.From)
	took.From = slices.Compact(took.From)
	return moving, took
}

// withItemsMoved returns entries with the items in moving taken from every main-resource entry
// and given to the manager's Apply entry (made, when it has none, as after its removal apply or a
// managedFields reset). Only items movable allowed are in moving, so every entry that holds one
// may lose it. ownership is entries parsed. The manager's entry gets the time of the move, as the
// server stamps an entry whose fields it changes: an apply that changes no value (the finalizer
// was already on, put there by a legacy Update) leaves the server's new entry without a time, and
// the move is when the manager came to own the item.
func (f *Finalizer) withItemsMoved(entries []metav1.ManagedFieldsEntry, ownership *Ownership, moving *fieldpath.Set, ref ObjectRef) ([]metav1.ManagedFieldsEntry, error) {
	moved := make([]metav1.ManagedFieldsEntry, 0, len(entries)+1)
	hasOwn := false
	now := metav1.Now()
	for i, e := range ownership.Entries {
		entry := *entries[i].DeepCopy()
		var fields *fieldpath.Set
		switch {
		case f.isOwnEntry(e):
			hasOwn = true
			fields = e.Fields.Union(moving)
			entry.Time = &now
		case e.Subresource == "" && !e.Fields.Intersection(moving).Empty():
			fields = withoutEmptiedParents(e.Fields.Difference(moving), moving)
			if fields.Empty() {
				continue // an empty entry is dropped, as the server drops them
			}
		default:
			moved = append(moved, entry)
			continue
		}
		raw, err := fieldsV1(fields)
		if err != nil {
			return nil, err
		}
		entry.FieldsV1 = raw
		moved = append(moved, entry)
	}
	if hasOwn {
		return moved, nil
	}
	raw, err := fieldsV1(moving)
	if err != nil {
		return nil, err
	}
	return append(moved, metav1.ManagedFieldsEntry{
		Manager: f.manager, Operation: metav1.ManagedFieldsOperationApply, APIVersion: ref.GroupVersionKind.GroupVersion().String(),
		Time: &now, FieldsType: "FieldsV1", FieldsV1: raw,
	}), nil
}

// withoutEmptiedParents returns remaining, an entry's fields after those in moved were taken from
// it, without the containers it owned only as the parents of what moved: the finalizer list an
// Update created with the item (`".":{}`), a status struct a Status().Update created with its
// fields. Nothing then names the old writer as an owner of a list or struct it no longer has any
// part in. A container that still holds one of the entry's own fields stays.
func withoutEmptiedParents(remaining, moved *fieldpath.Set) *fieldpath.Set {
	for {
		emptied := &fieldpath.Set{}
		for p := range remaining.All() {
			if hasUnder(moved, p) && !hasUnder(remaining, p) {
				emptied.Insert(p.Copy())
			}
		}
		if emptied.Empty() {
			return remaining
		}
		remaining = remaining.Difference(emptied)
	}
}

// hasUnder reports whether set holds a path below p.
func hasUnder(set *fieldpath.Set, p fieldpath.Path) bool {
	for _, pe := range p {
		child, ok := set.Children.Get(pe)
		if !ok {
			return false
		}
		set = child
	}
	return !set.Empty()
}

// noManagedFieldsError is the *ObjectError wrapping ErrNoManagedFields for the step what, which
// needed the managedFields of an apply's answer.
func noManagedFieldsError(ref ObjectRef, what string) error {
	return &ObjectError{Object: ref, Reason: ErrNoManagedFields, Detail: what + " needs them, and nothing was taken over: " +
		"the client asks the API server to leave managedFields out of its answers (KEP-5958, feature gate ManagedFieldsOptOutClient), or a proxy removes them; " +
		"give ssakit a client whose answers carry managedFields (its informer cache may still strip them)"}
}

// managedFieldsPatch is the JSON patch that sets metadata.managedFields to entries. Replacing
// resourceVersion too makes it the update's precondition: a write since the object was read is a
// 409, and nothing is changed (row 31; client-go's csaupgrade patch does the same).
func managedFieldsPatch(entries []metav1.ManagedFieldsEntry, resourceVersion string) ([]byte, error) {
	return json.Marshal([]map[string]any{
		{"op": "replace", "path": "/metadata/managedFields", "value": entries},
		{"op": "replace", "path": "/metadata/resourceVersion", "value": resourceVersion},
	})
}

// sendManagedFieldsPatch sends patch, made by managedFieldsPatch, to the object ref names, as
// manager, and reads the answer into answered: a 409 is an *ObjectError wrapping ErrStale, a 404
// one wrapping ErrGone; what says what was not done.
func sendManagedFieldsPatch(ctx context.Context, c client.Client, ref ObjectRef, answered client.Object, patch []byte, manager, what string) error {
	answered.GetObjectKind().SetGroupVersionKind(ref.GroupVersionKind)
	answered.SetNamespace(ref.Namespace)
	answered.SetName(ref.Name)
	err := c.Patch(ctx, answered, client.RawPatch(types.JSONPatchType, patch), client.FieldOwner(manager))
	switch {
	case apierrors.IsConflict(err):
		return &ObjectError{Object: ref, Reason: ErrStale, Err: err, Detail: "the object was written since it was read, and " + what + "; read it again and retry"}
	case apierrors.IsNotFound(err):
		return &ObjectError{Object: ref, Reason: ErrGone, Err: err, Detail: what}
	}
	return err
}

func fieldsV1(set *fieldpath.Set) (*metav1.FieldsV1, error) {
	raw, err := set.ToJSON()
	if err != nil {
		return nil, err
	}
	return metav1.NewFieldsV1(string(raw)), nil
}

// takeOver moves the items of names on obj to the manager (see takeOverPatch) and sets obj's
// managedFields and resourceVersion to the server's answer, which differs from obj in nothing
// else: the patch applied to exactly obj's resourceVersion. When obj is stale (a 409), it applies
// the manager's configuration again, with the finalizer when withFinalizer says so (a no-op write
// whose answer is the live object, managedFields whole; the UID guards it), and computes the patch
// again from that answer, up to takeOverAttempts times. It never computes a patch from a read
// that might have trimmed managedFields. It returns what the patch it wrote moved, or nil when it
// wrote none.
func (f *Finalizer) takeOver(ctx context.Context, obj client.Object, ref ObjectRef, names []string, withFinalizer bool) (*TakeOver, error) {
	for attempt := range takeOverAttempts {
		if attempt > 0 {
			if _, err := f.apply(ctx, obj, ref, withFinalizer); err != nil {
				return nil, err
			}
		}
		if len(obj.GetManagedFields()) == 0 {
			// obj is an apply's answer, which always has entries: they were left out of it.
			return nil, noManagedFieldsError(ref, fmt.Sprintf("finalizer %q: taking over %s", f.name, quoteAll(names)))
		}
		patch, took, err := f.takeOverPatch(obj, ref, names)
		if err != nil || patch == nil {
			return nil, err
		}
		answered := &metav1.PartialObjectMetadata{}
		err = sendManagedFieldsPatch(ctx, f.client, ref, answered, patch, f.manager, "no finalizer was taken over")
		switch {
		case err == nil:
			obj.SetManagedFields(answered.GetManagedFields())
			obj.SetResourceVersion(answered.GetResourceVersion())
			if f.onTakeOver != nil {
				f.onTakeOver(ctx, obj, took)
			}
			return &took, nil
		case errors.Is(err, ErrGone):
			return nil, err
		case !errors.Is(err, ErrStale):
			return nil, fmt.Errorf("finalizer %q on %s: taking over %s from %s: %w", f.name, ref, quoteAll(took.Finalizers), quoteAll(took.From), err)
		}
	}
	return nil, &ObjectError{Object: ref, Reason: ErrStale,
		Detail: fmt.Sprintf("the object kept changing: finalizer %q was not taken over after %d attempts; retry later", f.name, takeOverAttempts)}
}

// formerNamesOn returns the former names obj carries.
func (f *Finalizer) formerNamesOn(obj client.Object) []string {
	var on []string
	for _, name := range f.formerNames {
		if slices.Contains(obj.GetFinalizers(), name) {
			on = append(on, name)
		}
	}
	return on
}

// TakeOverFields makes manager the only owner of the fields its Apply entry on subresource owns
// on obj: it removes them from the entries the from managers hold on that subresource, whatever
// their operation, with one JSON patch of metadata.managedFields guarded by obj's resourceVersion
// (row 31), and sets obj's managedFields and resourceVersion to the server's answer. Every other
// field stays with its owner, but for a container (the status struct a Status().Update created)
// that an entry owned only as the parent of fields taken from it. Call it after an apply, with the
// object the server answered: a manager that took over a legacy writer's fields with equal values only shares them (row 2), and
// would leave them behind if it later stopped applying them. It reports whether a patch was sent;
// a write since obj was read is an *ObjectError wrapping ErrStale.
//
// obj must be what the server answered, with managedFields whole: the patch sets the whole list,
// so an entry a cache trimmed away (KeepManagedFieldsOf, TransformStripManagedFields) would be
// dropped, and its manager's ownership with it; the resourceVersion guard cannot tell. manager's
// own Apply entry is never taken from, even when from names manager (an Update entry under the
// same name is). An obj without managedFields (an answer they were left out of) is an
// *ObjectError wrapping ErrNoManagedFields, and nothing is sent.
func TakeOverFields(ctx context.Context, c client.Client, obj client.Object, manager, subresource string, from ...string) (bool, error) {
	ref, err := refOf(obj, c.Scheme())
	if err != nil {
		return false, fmt.Errorf("taking fields over for %q: %w", manager, err)
	}
	if obj.GetResourceVersion() == "" {
		// The patch would then be written whatever the object is now.
		return false, fmt.Errorf("taking fields of %s over for %q: the object has no resourceVersion; pass the object the API server answered to the apply", ref, manager)
	}
	if len(obj.GetManagedFields()) == 0 {
		// Not "nothing to take over": an apply's answer always has the applier's entry.
		return false, noManagedFieldsError(ref, fmt.Sprintf("taking the fields of %q over from %v", manager, from))
	}
	kept, err := withFieldsTakenOver(obj.GetManagedFields(), manager, subresource, from)
	if err != nil {
		return false, fmt.Errorf("taking fields of %s over for %q: %w", ref, manager, err)
	}
	if kept == nil {
		return false, nil
	}
	patch, err := managedFieldsPatch(kept, obj.GetResourceVersion())
	if err != nil {
		return false, err
	}
	answered := &metav1.PartialObjectMetadata{}
	err = sendManagedFieldsPatch(ctx, c, ref, answered, patch, manager, "no field was taken over")
	switch {
	case errors.Is(err, ErrStale) || errors.Is(err, ErrGone):
		return false, err
	case err != nil:
		return false, fmt.Errorf("taking fields of %s over for %q from %v: %w", ref, manager, from, err)
	}
	obj.SetManagedFields(answered.GetManagedFields())
	obj.SetResourceVersion(answered.GetResourceVersion())
	return true, nil
}

// withFieldsTakenOver returns entries without the fields manager's Apply entry on subresource owns
// in the entries of the from managers on that subresource (an entry left empty is dropped), or
// nil when none of them holds one.
func withFieldsTakenOver(entries []metav1.ManagedFieldsEntry, manager, subresource string, from []string) ([]metav1.ManagedFieldsEntry, error) {
	ownership, err := ParseOwnership(entries)
	if err != nil {
		return nil, err
	}
	own := &fieldpath.Set{}
	for _, e := range ownership.Entries {
		if e.IsApplyOf(manager, subresource) {
			own = own.Union(e.Fields)
		}
	}
	kept := make([]metav1.ManagedFieldsEntry, 0, len(entries))
	changed := false
	for i, e := range ownership.Entries {
		entry := *entries[i].DeepCopy()
		if e.Subresource != subresource || e.IsApplyOf(manager, subresource) || !slices.Contains(from, e.Manager) || e.Fields.Intersection(own).Empty() {
			kept = append(kept, entry)
			continue
		}
		changed = true
		rest := withoutEmptiedParents(e.Fields.Difference(own), own)
		if rest.Empty() {
			continue
		}
		if entry.FieldsV1, err = fieldsV1(rest); err != nil {
			return nil, err
		}
		kept = append(kept, entry)
	}
	if !changed {
		return nil, nil
	}
	return kept, nil
}
