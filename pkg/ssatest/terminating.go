package ssatest

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

// controller-runtime's fake answers an apply to a terminating object unlike the API server in two
// ways, both from fakeClient.patch copying the stored deletionTimestamp into the configuration:
//
//   - versionedTracker.updateObject deletes the object as soon as the configuration lists no
//     finalizers, before the tracker under it merges anything, whatever other field managers
//     still hold it. The API server merges first, and deletes the object only when the merged
//     object carries no finalizers (docs/ssa-semantics.md rows 3 and 13).
//   - The field manager then records the copied deletionTimestamp as applied: the applier would
//     own metadata.deletionTimestamp, which it never sent.
//
// So the client Build returns marks every main-resource apply to a terminating object with what
// the configuration itself set of the two fields, and the tracker gives the configuration back
// its own before its field manager merges it: the applier owns only what it sent. When the
// configuration lists no finalizers, the client first works out, with the tracker's field manager,
// what the merge would leave. When finalizers would stay, it sends the apply held: carrying them,
// so that the fake keeps the object. When none would stay, the apply goes as sent, unmarked, and
// the fake deletes the object, as the API server does.

// terminatingApplyManager and heldApplyManager are the field managers of the managedFields entries
// that mark an apply to a terminating object on its way from the client Build returns to the
// tracker: one that lists finalizers, and one held, whose finalizers the client replaced. As with
// statusApplyManager, nothing a test sends can carry them: an apply that carries managedFields is
// refused. A mark's fields are those of metadata.finalizers and metadata.deletionTimestamp that
// the configuration set itself.
const (
	terminatingApplyManager = "ssatest.ssakit.dev/terminating-apply"
	heldApplyManager        = "ssatest.ssakit.dev/held-apply"
)

var (
	finalizersPath        = fieldpath.MakePathOrDie("metadata", "finalizers")
	deletionTimestampPath = fieldpath.MakePathOrDie("metadata", "deletionTimestamp")
)

// Apply implements client.Writer: an apply to the main resource goes to the fake as it is, or
// marked (markTerminating).
func (c *markingClient) Apply(ctx context.Context, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
	options := (&client.ApplyOptions{}).ApplyOptions(opts)
	if len(options.DryRun) > 0 && options.FieldManager != "" {
		return c.dryRunApply(obj, options)
	}
	marked, held := c.markTerminating(obj, options)
	if marked == nil {
		return c.WithWatch.Apply(ctx, obj, opts...)
	}
	err := c.WithWatch.Apply(ctx, client.ApplyConfigurationFromUnstructured(marked), opts...)
	if held && apierrors.IsNotFound(err) {
		// The tracker deleted the object: its other finalizers went while the apply was on its
		// way, and the apply released the last one. The fake answers an apply that deletes with
		// success, as the API server does.
		return nil
	}
	if err != nil {
		return err
	}
	return writeAnswer(obj, marked)
}

// dryRunApply answers a dry-run apply as the API server does: with the object the apply would
// leave, stored nowhere. controller-runtime's fake writes dry-run applies (it reads DryRun from
// the patch options, where an Apply puts it only in their raw form), and would delete a
// terminating object that other finalizers still hold.
func (c *markingClient) dryRunApply(obj runtime.ApplyConfiguration, opts *client.ApplyOptions) error {
	config, err := asUnstructured(obj)
	if err != nil {
		return err
	}
	gvr, _ := meta.UnsafeGuessKindToResource(config.GroupVersionKind())
	gvk, err := c.tracker.kindFor(gvr)
	if err != nil {
		return err
	}
	if err := c.tracker.checkPreconditions(gvr, config); err != nil {
		return err
	}
	applied, err := c.tracker.asSent(config.DeepCopy())
	if err != nil {
		return err
	}
	merged, _, err := c.tracker.merge(gvr, gvk, applied, config.GetNamespace(), false, metav1.PatchOptions{FieldManager: opts.FieldManager, Force: opts.Force})
	if err != nil {
		return err
	}
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(merged)
	if err != nil {
		return err
	}
	answer := &unstructured.Unstructured{Object: content}
	answer.SetGroupVersionKind(config.GroupVersionKind())
	return writeAnswer(obj, answer)
}

// markTerminating returns the configuration to send the fake in place of obj, marked, and whether
// it is held; or nil when obj goes as it is: when the object is not terminating, and when the
// configuration lists no finalizers and the merged object would carry none either (then the fake
// deletes the object, as the API server does). An apply that lists no finalizers and that the
// field manager refuses is held, so that the tracker refuses it rather than the fake deleting the
// object. What the fake refuses by itself (a dry run is never written; an apply needs a field
// manager; a configuration that does not marshal) goes as it is.
func (c *markingClient) markTerminating(obj runtime.ApplyConfiguration, opts *client.ApplyOptions) (*unstructured.Unstructured, bool) {
	if len(opts.DryRun) > 0 || opts.FieldManager == "" {
		return nil, false
	}
	config, err := asUnstructured(obj)
	if err != nil {
		return nil, false
	}
	stored := c.tracker.terminating(config)
	if stored == nil {
		return nil, false
	}
	fields, err := sentFields(config)
	if err != nil {
		return nil, false
	}
	mark := metav1.ManagedFieldsEntry{Manager: terminatingApplyManager, Operation: metav1.ManagedFieldsOperationApply, FieldsType: "FieldsV1", FieldsV1: fields}
	held := len(config.GetFinalizers()) == 0
	if held {
		kept := c.tracker.finalizersKept(config, stored, opts.FieldManager, opts.Force != nil && *opts.Force)
		if len(kept) == 0 {
			return nil, false
		}
		mark.Manager = heldApplyManager
		config.SetFinalizers(kept)
	}
	config.SetManagedFields(append(config.GetManagedFields(), mark))
	return config, held
}

// sentFields returns the fields of metadata.finalizers and metadata.deletionTimestamp that config
// sets, as a field set.
func sentFields(config *unstructured.Unstructured) (*metav1.FieldsV1, error) {
	set := fieldpath.NewSet()
	for field, path := range map[string]fieldpath.Path{"finalizers": finalizersPath, "deletionTimestamp": deletionTimestampPath} {
		if _, found, _ := unstructured.NestedFieldNoCopy(config.Object, "metadata", field); found {
			set.Insert(path)
		}
	}
	raw, err := set.ToJSON()
	if err != nil {
		return nil, err
	}
	return metav1.NewFieldsV1(string(raw)), nil
}

// takeTerminatingMark removes the mark of an apply to a terminating object from the managedFields
// of config, takes out the deletionTimestamp the fake copied into config unless config sent one,
// gives config back its own finalizers when it was held, and tells whether it was held.
func takeTerminatingMark(config metav1.Object) bool {
	mark, held := takeMark(config, heldApplyManager, "")
	if !held {
		var marked bool
		if mark, marked = takeMark(config, terminatingApplyManager, ""); !marked {
			return false
		}
	}
	sent := fieldpath.NewSet()
	if mark.FieldsV1 != nil {
		// The client wrote it; were it unreadable, nothing is taken for sent.
		_ = sent.FromJSON(mark.FieldsV1.GetRawReader())
	}
	if !sent.Has(deletionTimestampPath) {
		config.SetDeletionTimestamp(nil)
	}
	switch {
	case !held:
	case sent.Has(finalizersPath):
		config.SetFinalizers([]string{})
	default:
		config.SetFinalizers(nil)
	}
	return held
}

// terminating returns the stored object config names when it is terminating, or nil.
func (t *tracker) terminating(config *unstructured.Unstructured) metav1.Object {
	gvr, _ := meta.UnsafeGuessKindToResource(config.GroupVersionKind()) // as the fake maps it
	live, err := t.Get(gvr, config.GetNamespace(), config.GetName())
	if err != nil {
		return nil
	}
	stored, err := meta.Accessor(live)
	if err != nil || stored.GetDeletionTimestamp() == nil {
		return nil
	}
	return stored
}

// finalizersKept returns the finalizers that stored, a terminating object, would keep after
// config, an apply to the main resource by manager. When the field manager refuses the apply, it
// returns those stored, which the API server keeps then. It stores nothing.
func (t *tracker) finalizersKept(config *unstructured.Unstructured, stored metav1.Object, manager string, force bool) []string {
	gvr, _ := meta.UnsafeGuessKindToResource(config.GroupVersionKind())
	gvk, err := t.kindFor(gvr)
	if err != nil {
		return stored.GetFinalizers()
	}
	// A copy: the merge gives the configuration the stored UID, which the apply must not carry
	// unless the caller gave it.
	applied, err := t.asSent(config.DeepCopy())
	if err != nil {
		return stored.GetFinalizers()
	}
	merged, _, err := t.merge(gvr, gvk, applied, config.GetNamespace(), false, metav1.PatchOptions{FieldManager: manager, Force: &force})
	if err != nil {
		return stored.GetFinalizers()
	}
	result, err := meta.Accessor(merged)
	if err != nil {
		return stored.GetFinalizers()
	}
	return result.GetFinalizers()
}

// asSent returns config as the fake hands it to the tracker: converted to the kind's Go type when
// the scheme has one (controller-runtime's convertFromUnstructuredOrPartialObjectMetaIfNecessary),
// which is what makes the fake apply the type's zero values and drop explicit zeros
// (TestFake_AppliesTheZeroValuesOfTheKindsGoType).
func (t *tracker) asSent(config *unstructured.Unstructured) (runtime.Object, error) {
	gvk := config.GroupVersionKind()
	if !t.scheme.Recognizes(gvk) {
		return config, nil
	}
	typed, err := t.scheme.New(gvk)
	if err != nil {
		return nil, err
	}
	switch typed.(type) {
	case runtime.Unstructured, *metav1.PartialObjectMetadata:
		return config, nil
	}
	data, err := json.Marshal(config)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, typed); err != nil {
		return nil, err
	}
	return typed, nil
}

// isReleased reports whether obj is terminating and carries no finalizers: the API server deletes
// such an object.
func isReleased(obj runtime.Object) bool {
	accessor, err := meta.Accessor(obj)
	return err == nil && accessor.GetDeletionTimestamp() != nil && len(accessor.GetFinalizers()) == 0
}

// writeAnswer writes answer, the fake's answer to a held apply, into obj, the configuration the
// caller gave, as the fake writes its answer into a configuration (copyIntoApplyConfiguration):
// all of obj is replaced. It is all or nothing.
func writeAnswer(obj runtime.ApplyConfiguration, answer *unstructured.Unstructured) error {
	if u, ok := obj.(runtime.Unstructured); ok {
		// client.ApplyConfigurationFromUnstructured's configuration, which wraps an Unstructured.
		u.SetUnstructuredContent(answer.Object)
		return nil
	}
	target := reflect.ValueOf(obj)
	if target.Kind() != reflect.Pointer || target.IsNil() {
		return fmt.Errorf("ssatest: the apply was written, but its answer cannot be written into %T, which is not a non-nil pointer", obj)
	}
	data, err := json.Marshal(answer)
	if err != nil {
		return fmt.Errorf("failed to marshal patched object: %w", err)
	}
	fresh := reflect.New(target.Elem().Type())
	if err := json.Unmarshal(data, fresh.Interface()); err != nil {
		return fmt.Errorf("failed to unmarshal patched object: %w", err)
	}
	target.Elem().Set(fresh.Elem())
	return nil
}
