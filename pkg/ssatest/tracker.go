package ssatest

import (
	"errors"
	"fmt"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/meta/testrestmapper"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/apimachinery/pkg/util/validation/field"
	clienttesting "k8s.io/client-go/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// tracker is the object tracker under the fake client: client-go's testing.NewObjectTracker with
// the field management of client-go's testing.NewFieldManagedObjectTracker, whose logic it
// follows, and four changes that make the fake answer as the API server does where ssakit
// relies on it:
//
//   - Objects get UIDs: a new one on every create, as from the API server, and one when they are
//     added as initial objects without one. They keep them: a write without a UID keeps the
//     stored one, a write with another is a 422 (apiserver's rest.FillObjectMetaSystemFields and
//     rest.BeforeUpdate; docs/ssa-semantics.md row 10).
//   - A /status apply is recorded under the subresource "status", owning only the status it
//     applied. The fake hands the tracker the whole stored object with the new status in it, and
//     client-go's tracker records every field of it under the applier's main-resource entry:
//     the status manager would then co-own every finalizer, and no finalizer could be removed.
//     The tracker interface carries no subresource, so the client Build returns marks every
//     /status apply in the configuration itself (markStatus), and the tracker goes by the mark.
//   - An apply to a terminating object owns only what the applier sent: the client marks it with
//     the finalizers and deletionTimestamp the configuration set itself (markTerminating), and the
//     tracker gives it those back before merging, and keeps the stored deletionTimestamp. An apply
//     the client held, which released the last finalizer after all, deletes the object.
//   - A kind no type converter knows is an error that says what to pass (see NewClientBuilder).
type tracker struct {
	clienttesting.ObjectTracker
	scheme *runtime.Scheme
	types  managedfields.TypeConverter

	// keys are the names of every object ever written, by resource, for a snapshot (lagging.go):
	// client-go's tracker lists only one kind at a time, and only kinds whose list type the
	// scheme knows.
	mu   sync.Mutex
	keys map[schema.GroupVersionResource]map[types.NamespacedName]bool
}

func newTracker(scheme *runtime.Scheme, converter managedfields.TypeConverter) *tracker {
	return &tracker{
		ObjectTracker: newObjectTracker(scheme),
		scheme:        scheme,
		types:         converter,
		keys:          map[schema.GroupVersionResource]map[types.NamespacedName]bool{},
	}
}

// newObjectTracker is client-go's object tracker over scheme.
func newObjectTracker(scheme *runtime.Scheme) clienttesting.ObjectTracker {
	return clienttesting.NewObjectTracker(scheme, serializer.NewCodecFactory(scheme).UniversalDecoder())
}

// saw records that the object ns/name of gvr may be stored.
func (t *tracker) saw(gvr schema.GroupVersionResource, ns, name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.keys[gvr] == nil {
		t.keys[gvr] = map[types.NamespacedName]bool{}
	}
	t.keys[gvr][types.NamespacedName{Namespace: ns, Name: name}] = true
}

// Add implements testing.ObjectTracker: the fake adds its initial objects with it.
func (t *tracker) Add(obj runtime.Object) error {
	accessor, err := meta.Accessor(obj)
	if err != nil {
		return err
	}
	// The fake validates initial managedFields only in a tracker it built itself; the field
	// manager would otherwise drop an invalid entry without a word.
	if err := managedfields.ValidateManagedFields(accessor.GetManagedFields()); err != nil {
		return fmt.Errorf("invalid managedFields on %T %s: %w", obj, accessor.GetName(), err)
	}
	// A UID given with a fixture is kept, so that a test can name the object it set up.
	if accessor.GetUID() == "" {
		accessor.SetUID(uuid.NewUUID())
	}
	if err := t.sawAdded(obj, accessor); err != nil {
		return err
	}
	return t.ObjectTracker.Add(obj)
}

// sawAdded records obj, an initial object, under the resources client-go's tracker stores it
// under (testing.ObjectTracker.Add).
func (t *tracker) sawAdded(obj runtime.Object, accessor metav1.Object) error {
	gvks, _, err := t.scheme.ObjectKinds(obj)
	if err != nil {
		return err
	}
	if partial, ok := obj.(*metav1.PartialObjectMetadata); ok && partial.APIVersion != "" {
		gvks = []schema.GroupVersionKind{partial.GroupVersionKind()}
	}
	for _, gvk := range gvks {
		gvr, _ := meta.UnsafeGuessKindToResource(gvk)
		if gvr.Version == runtime.APIVersionInternal {
			gvr.Version = ""
		}
		t.saw(gvr, accessor.GetNamespace(), accessor.GetName())
	}
	return nil
}

// Create implements testing.ObjectTracker.
func (t *tracker) Create(gvr schema.GroupVersionResource, obj runtime.Object, ns string, opts ...metav1.CreateOptions) error {
	o, err := singleOption(opts)
	if err != nil {
		return err
	}
	gvk, err := t.kindFor(gvr)
	if err != nil {
		return err
	}
	typeAccessor, err := meta.TypeAccessor(obj)
	if err != nil {
		return err
	}
	typeAccessor.SetAPIVersion(gvk.GroupVersion().String())
	typeAccessor.SetKind(gvk.Kind)
	accessor, err := meta.Accessor(obj)
	if err != nil {
		return err
	}
	t.saw(gvr, ns, accessor.GetName())
	// The API server gives every new object a UID of its own, whatever the request holds; a
	// create that fails leaves the caller's object as it was, UID included.
	requested := accessor.GetUID()
	accessor.SetUID(uuid.NewUUID())
	err = t.create(gvr, gvk, obj, ns, accessor.GetName(), o)
	if err != nil {
		accessor.SetUID(requested)
	}
	return err
}

func (t *tracker) create(gvr schema.GroupVersionResource, gvk schema.GroupVersionKind, obj runtime.Object, ns, name string, o metav1.CreateOptions) error {
	live, _, err := t.liveOrNew(gvr, gvk, ns, name)
	if err != nil {
		return err
	}
	withFields, err := t.update(gvk, live, obj, o.FieldManager)
	if err != nil {
		return err
	}
	return t.ObjectTracker.Create(gvr, withFields, ns, o)
}

// Update implements testing.ObjectTracker.
func (t *tracker) Update(gvr schema.GroupVersionResource, obj runtime.Object, ns string, opts ...metav1.UpdateOptions) error {
	o, err := singleOption(opts)
	if err != nil {
		return err
	}
	withFields, err := t.updated(gvr, obj, ns, o.FieldManager)
	if err != nil {
		return err
	}
	return t.ObjectTracker.Update(gvr, withFields, ns, o)
}

// Patch implements testing.ObjectTracker: the fake sends it JSON, merge and strategic merge
// patches, already applied to the stored object.
func (t *tracker) Patch(gvr schema.GroupVersionResource, obj runtime.Object, ns string, opts ...metav1.PatchOptions) error {
	o, err := singleOption(opts)
	if err != nil {
		return err
	}
	withFields, err := t.updated(gvr, obj, ns, o.FieldManager)
	if err != nil {
		return err
	}
	return t.ObjectTracker.Patch(gvr, withFields, ns, o)
}

// updated runs the field manager over a write of obj that replaces the stored object, after
// giving obj the stored UID or refusing another. With nothing stored it returns obj, and the
// embedded tracker gives the API server's answer.
func (t *tracker) updated(gvr schema.GroupVersionResource, obj runtime.Object, ns, manager string) (runtime.Object, error) {
	gvk, err := t.kindFor(gvr)
	if err != nil {
		return nil, err
	}
	accessor, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	t.saw(gvr, ns, accessor.GetName())
	live, exists, err := t.liveOrNew(gvr, gvk, ns, accessor.GetName())
	if err != nil || !exists {
		return obj, err
	}
	if err := t.keepUID(gvk, live, accessor); err != nil {
		return nil, err
	}
	return t.update(gvk, live, obj, manager)
}

// Apply implements testing.ObjectTracker. The fake has already answered an apply whose UID names
// no object with 409 "uid mismatch" (docs/ssa-semantics.md row 9), and has set the resourceVersion the
// object gets.
func (t *tracker) Apply(gvr schema.GroupVersionResource, applyConfiguration runtime.Object, ns string, opts ...metav1.PatchOptions) error {
	o, err := singleOption(opts)
	if err != nil {
		return err
	}
	gvk, err := t.kindFor(gvr)
	if err != nil {
		return err
	}
	config, err := meta.Accessor(applyConfiguration)
	if err != nil {
		return err
	}
	t.saw(gvr, ns, config.GetName())
	// The marks go first, whatever follows: nothing stored or answered may show them, and the
	// field manager would refuse them as managedFields sent with an apply.
	isStatus := takeStatusMark(config)
	held := takeTerminatingMark(config)
	merged, exists, err := t.merge(gvr, gvk, applyConfiguration, ns, isStatus, o)
	if err != nil {
		return err
	}
	if !exists {
		return t.ObjectTracker.Create(gvr, merged, ns, metav1.CreateOptions{DryRun: o.DryRun, FieldManager: o.FieldManager, FieldValidation: o.FieldValidation})
	}
	if held && isReleased(merged) {
		// The finalizers the client saw went while the held apply was on its way: the apply
		// released the last of them, and the API server deletes the object.
		return t.Delete(gvr, ns, config.GetName())
	}
	return t.ObjectTracker.Update(gvr, merged, ns, metav1.UpdateOptions{DryRun: o.DryRun, FieldManager: o.FieldManager, FieldValidation: o.FieldValidation})
}

// checkPreconditions refuses, as the API server does, an apply whose UID names no stored object
// (docs/ssa-semantics.md row 9) and one whose resourceVersion is not the stored object's (row
// 11): for a dry run, which the fake's own checks never see.
func (t *tracker) checkPreconditions(gvr schema.GroupVersionResource, config *unstructured.Unstructured) error {
	live, err := t.Get(gvr, config.GetNamespace(), config.GetName())
	switch {
	case apierrors.IsNotFound(err) && config.GetUID() != "":
		return apierrors.NewConflict(gvr.GroupResource(), config.GetName(), fmt.Errorf("uid mismatch: the provided object specified uid %s, and no existing object was found", config.GetUID()))
	case err != nil:
		return client.IgnoreNotFound(err)
	}
	accessor, err := meta.Accessor(live)
	if err != nil {
		return err
	}
	if rv := config.GetResourceVersion(); rv != "" && rv != accessor.GetResourceVersion() {
		return apierrors.NewConflict(gvr.GroupResource(), config.GetName(), errors.New("the object has been modified; please apply your changes to the latest version and try again"))
	}
	return nil
}

// merge returns the object an apply of applyConfiguration would leave stored, and whether one is
// stored now, from the field manager of the main resource or, for a /status apply, the status.
// It stores nothing.
func (t *tracker) merge(gvr schema.GroupVersionResource, gvk schema.GroupVersionKind, applyConfiguration runtime.Object, ns string, isStatus bool, o metav1.PatchOptions) (runtime.Object, bool, error) {
	config, err := meta.Accessor(applyConfiguration)
	if err != nil {
		return nil, false, err
	}
	live, exists, err := t.liveOrNew(gvr, gvk, ns, config.GetName())
	if err != nil {
		return nil, false, err
	}
	subresource := ""
	if exists {
		if err := t.keepUID(gvk, live, config); err != nil {
			return nil, false, err
		}
		if isStatus {
			subresource = "status"
			if applyConfiguration, err = statusOnly(gvk, applyConfiguration); err != nil {
				return nil, false, err
			}
		}
	} else {
		// A /status apply too: the fake creates the object from the main resource
		// (TestFake_CreatesTheObjectOfAStatusApplyWithoutAUIDThatIsNotThere).
		// The field manager strips metadata.uid from every field set, so this owns nothing: the
		// new object just gets its UID, as from the API server.
		config.SetUID(uuid.NewUUID())
	}
	fieldManager, err := t.fieldManager(gvk, subresource)
	if err != nil {
		return nil, false, err
	}
	force := o.Force != nil && *o.Force
	merged, err := fieldManager.Apply(live, applyConfiguration, o.FieldManager, force)
	if err != nil {
		return nil, false, err
	}
	if exists {
		// An apply never changes deletionTimestamp on the API server, whoever owns it: the
		// configuration's is ignored (takeTerminatingMark), and the stored one stays.
		if err := keepDeletionTimestamp(live, merged); err != nil {
			return nil, false, err
		}
	}
	return merged, exists, nil
}

// keepDeletionTimestamp gives merged the deletionTimestamp of live.
func keepDeletionTimestamp(live, merged runtime.Object) error {
	liveAccessor, err := meta.Accessor(live)
	if err != nil {
		return err
	}
	mergedAccessor, err := meta.Accessor(merged)
	if err != nil {
		return err
	}
	mergedAccessor.SetDeletionTimestamp(liveAccessor.GetDeletionTimestamp())
	return nil
}

// statusOnly reduces what the fake hands over for a /status apply, the stored object with the
// applied status in it, to what the applier sent: the object's identity and its status.
func statusOnly(gvk schema.GroupVersionKind, obj runtime.Object) (runtime.Object, error) {
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, fmt.Errorf("reading the /status apply of %s: %w", gvk.Kind, err)
	}
	whole := &unstructured.Unstructured{Object: content}
	config := &unstructured.Unstructured{}
	config.SetGroupVersionKind(gvk)
	config.SetNamespace(whole.GetNamespace())
	config.SetName(whole.GetName())
	config.SetUID(whole.GetUID())
	config.SetResourceVersion(whole.GetResourceVersion())
	if status, ok := content["status"]; ok {
		config.Object["status"] = status
	}
	return config, nil
}

// update runs the field manager of the main resource over a write that replaces live with obj.
func (t *tracker) update(gvk schema.GroupVersionKind, live, obj runtime.Object, manager string) (runtime.Object, error) {
	fieldManager, err := t.fieldManager(gvk, "")
	if err != nil {
		return nil, err
	}
	return fieldManager.Update(live, obj, manager)
}

// fieldManager is apimachinery's field manager for gvk on subresource, as the API server builds
// it, without defaulting.
func (t *tracker) fieldManager(gvk schema.GroupVersionKind, subresource string) (*managedfields.FieldManager, error) {
	return managedfields.NewDefaultFieldManager(t.types, t.scheme, noDefaults{}, t.scheme, gvk, gvk.GroupVersion(), subresource, nil)
}

// kindFor maps gvr to its kind. The mapper is built on every call, as in client-go's tracker,
// because the fake registers unstructured kinds in the scheme when it first sees them.
func (t *tracker) kindFor(gvr schema.GroupVersionResource) (schema.GroupVersionKind, error) {
	return testrestmapper.TestOnlyStaticRESTMapper(t.scheme).KindFor(gvr)
}

// liveOrNew returns the stored object, or a new empty one of gvk when there is none.
func (t *tracker) liveOrNew(gvr schema.GroupVersionResource, gvk schema.GroupVersionKind, ns, name string) (runtime.Object, bool, error) {
	live, err := t.Get(gvr, ns, name)
	if err == nil {
		return live, true, nil
	}
	if !apierrors.IsNotFound(err) {
		return nil, false, err
	}
	empty, err := t.scheme.New(gvk)
	if err != nil {
		return nil, false, err
	}
	empty.GetObjectKind().SetGroupVersionKind(gvk)
	return empty, false, nil
}

// keepUID gives written the stored object's UID when it has none, and refuses another one with
// the API server's answer.
func (t *tracker) keepUID(gvk schema.GroupVersionKind, live runtime.Object, written metav1.Object) error {
	liveAccessor, err := meta.Accessor(live)
	if err != nil {
		return err
	}
	switch written.GetUID() {
	case "":
		written.SetUID(liveAccessor.GetUID())
		return nil
	case liveAccessor.GetUID():
		return nil
	}
	return apierrors.NewInvalid(gvk.GroupKind(), written.GetName(), field.ErrorList{
		field.Invalid(field.NewPath("metadata", "uid"), written.GetUID(), "field is immutable"),
	})
}

// singleOption returns the one options value a tracker method takes, or its zero value.
func singleOption[T any](opts []T) (T, error) {
	var zero T
	switch len(opts) {
	case 0:
		return zero, nil
	case 1:
		return opts[0], nil
	}
	return zero, fmt.Errorf("expected at most one options value, got %d", len(opts))
}

// noDefaults is the object defaulter of the field manager: the fake applies no defaults.
type noDefaults struct{}

// Default implements runtime.ObjectDefaulter.
func (noDefaults) Default(runtime.Object) {}
