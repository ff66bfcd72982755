package ssa

import (
	"context"
	"errors"
	"fmt"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Finalizer is one finalizer name owned by one Server-Side Apply field manager. Its Add and
// Remove are apply calls whose configuration holds only apiVersion, kind, name, namespace, the
// observed UID and the finalizers that manager should still own (SSA-SEMANTICS rows 3 and 4), built
// fresh for every call (row 22) and sent without force. Several Finalizers may share a field
// manager: each call lists every finalizer the manager owns on that object, so one never drops
// another.
//
// It works for typed, unstructured and metadata-only (metav1.PartialObjectMetadata) objects of any
// kind the client can map, through controller-runtime's Client.Apply and
// client.ApplyConfigurationFromUnstructured.
type Finalizer struct {
	name      string
	manager   string
	client    client.Client
	apiReader client.Reader
	warnings  []string
}

// FinalizerOptions configure a Finalizer.
type FinalizerOptions struct {
	// FieldOwner is the field manager that owns the finalizer. Default: "<controller>/finalizer".
	// Give each finalizer manager to nothing else: an apply is declarative for its manager, so
	// the same manager applying other fields would remove the finalizer.
	FieldOwner client.FieldOwner
	// APIReader reads an object straight from the API server when the object given to Add or
	// Remove has finalizers but no managedFields (a cache that strips them). Default: the client
	// itself, which is right for a client without a cache; with a controller-runtime manager pass
	// mgr.GetAPIReader().
	APIReader client.Reader
	// AllowLegacyName accepts a name without a "/" path (SSA-SEMANTICS row 15), for finalizers
	// that already are on existing custom resources. Default: false, such a name is an error.
	AllowLegacyName bool
}

// FinalizerOption is an option of NewFinalizer.
type FinalizerOption interface {
	// ApplyToFinalizer sets the option on o.
	ApplyToFinalizer(o *FinalizerOptions)
}

// ApplyToFinalizer implements FinalizerOption: every field that is set in o is set in target.
func (o *FinalizerOptions) ApplyToFinalizer(target *FinalizerOptions) {
	if o.FieldOwner != "" {
		target.FieldOwner = o.FieldOwner
	}
	if o.APIReader != nil {
		target.APIReader = o.APIReader
	}
	if o.AllowLegacyName {
		target.AllowLegacyName = true
	}
}

// WithFieldOwner sets FinalizerOptions.FieldOwner.
func WithFieldOwner(owner client.FieldOwner) FinalizerOption {
	return &FinalizerOptions{FieldOwner: owner}
}

// WithAPIReader sets FinalizerOptions.APIReader.
func WithAPIReader(reader client.Reader) FinalizerOption {
	return &FinalizerOptions{APIReader: reader}
}

// AllowLegacyName sets FinalizerOptions.AllowLegacyName.
func AllowLegacyName() FinalizerOption {
	return &FinalizerOptions{AllowLegacyName: true}
}

// NewFinalizer declares the finalizer name for controller, owned by the field manager
// "<controller>/finalizer" unless WithFieldOwner says otherwise. The name is checked with
// ValidateFinalizerName; an invalid one is an *InvalidNameError.
func NewFinalizer(c client.Client, controller, name string, opts ...FinalizerOption) (*Finalizer, error) {
	o := &FinalizerOptions{FieldOwner: client.FieldOwner(controller + "/finalizer"), APIReader: c}
	for _, opt := range opts {
		opt.ApplyToFinalizer(o)
	}
	if controller == "" && o.FieldOwner == "/finalizer" {
		return nil, fmt.Errorf("finalizer %q: a controller name or WithFieldOwner is required to name its field manager", name)
	}
	warnings, err := ValidateFinalizerName(name, o.AllowLegacyName)
	if err != nil {
		return nil, err
	}
	return &Finalizer{name: name, manager: string(o.FieldOwner), client: c, apiReader: o.APIReader, warnings: warnings}, nil
}

// Name returns the finalizer's name.
func (f *Finalizer) Name() string { return f.name }

// FieldOwner returns the field manager that owns the finalizer.
func (f *Finalizer) FieldOwner() string { return f.manager }

// Warnings returns the warnings the API server gives when this name is added to a custom
// resource: empty for a domain-qualified name with a path.
func (f *Finalizer) Warnings() []string { return slices.Clone(f.warnings) }

// Add makes the finalizer's manager own the finalizer on obj, and updates obj from the server's
// answer. It sends nothing when the manager already owns it, and refuses a terminating object
// without a request (SSA-SEMANTICS row 12). Errors: *ObjectError wrapping ErrTerminating, ErrGone
// or ErrReplaced; API errors otherwise.
func (f *Finalizer) Add(ctx context.Context, obj client.Object) error {
	target, err := f.observe(ctx, obj)
	if err != nil {
		return err
	}
	if slices.Contains(target.owned, f.name) {
		return nil
	}
	if obj.GetDeletionTimestamp() != nil {
		return &ObjectError{Object: target.ref, Reason: ErrTerminating,
			Detail: fmt.Sprintf("finalizer %q cannot be added: the API server refuses new finalizers once deletion has started; run the cleanup instead", f.name)}
	}
	_, err = f.apply(ctx, obj, target, append(target.owned, f.name))
	return err
}

// Remove lets the finalizer's manager release the finalizer on obj, and updates obj from the
// server's answer. It sends nothing when the finalizer is not on obj. An object that no longer
// exists is not an error (SSA-SEMANTICS row 9): the work is done and nothing is recreated.
//
// Remove never reports success while the finalizer is still there: when another manager also owns
// it (a legacy Update, say; rows 3 and 24), the result is a *CoOwnedError naming them.
func (f *Finalizer) Remove(ctx context.Context, obj client.Object) error {
	if !slices.Contains(obj.GetFinalizers(), f.name) {
		return nil
	}
	target, err := f.observe(ctx, obj)
	if errors.Is(err, ErrGone) {
		return nil
	}
	if err != nil {
		return err
	}
	if !slices.Contains(obj.GetFinalizers(), f.name) {
		return nil // observe read the live object, and it no longer has the finalizer
	}
	if !slices.Contains(target.owned, f.name) {
		if len(f.coOwners(obj)) == 0 && !target.fresh {
			// obj does not show who else owns the finalizer (a cache that keeps only some
			// managers' entries): decide on the live object instead.
			if err := f.read(ctx, obj, target.ref); err != nil {
				if errors.Is(err, ErrGone) {
					return nil
				}
				return err
			}
			if target.owned, err = f.ownedIn(obj); err != nil {
				return err
			}
		}
		if !slices.Contains(obj.GetFinalizers(), f.name) {
			return nil // a fresh read shows it is already gone
		}
		if !slices.Contains(target.owned, f.name) {
			return f.coOwnedError(obj, target.ref)
		}
	}
	answer, err := f.apply(ctx, obj, target, slices.DeleteFunc(slices.Clone(target.owned), func(s string) bool { return s == f.name }))
	if errors.Is(err, ErrGone) {
		return nil
	}
	if err != nil {
		return err
	}
	if slices.Contains(answer.GetFinalizers(), f.name) {
		return f.coOwnedError(obj, target.ref)
	}
	return nil
}

// Held reports whether the object, as the API server has it now, still carries the finalizer,
// and refreshes obj's metadata (finalizers, managedFields, resourceVersion, deletionTimestamp)
// from that read. It reads metadata only, through the API reader, so a cache that lags behind a
// removal just made cannot make a caller run its cleanup twice. An object that is gone, or was
// replaced under its name, does not hold it.
func (f *Finalizer) Held(ctx context.Context, obj client.Object) (bool, error) {
	ref, err := RefOf(obj, f.client.Scheme())
	if err != nil {
		return false, fmt.Errorf("finalizer %q: %w", f.name, err)
	}
	err = f.read(ctx, obj, ref)
	switch {
	case errors.Is(err, ErrGone), errors.Is(err, ErrReplaced):
		return false, nil
	case err != nil:
		return false, err
	}
	return slices.Contains(obj.GetFinalizers(), f.name), nil
}

// observed is what Add and Remove know about the object before they apply.
type observed struct {
	ref   ObjectRef
	owned []string // finalizers the manager's Apply entry owns on the object
	fresh bool     // obj was just read from, or written back by, the API server
}

// observe finds the object's kind and the finalizers the manager owns. The object's managedFields
// answer that, except when it has finalizers but no managedFields: then they were stripped by a
// cache (or reset, row 24), and the object is read once through the API reader rather than guessed
// at. An object without finalizers needs no managedFields: the manager owns none of them.
func (f *Finalizer) observe(ctx context.Context, obj client.Object) (observed, error) {
	ref, err := RefOf(obj, f.client.Scheme())
	if err != nil {
		return observed{}, fmt.Errorf("finalizer %q: %w", f.name, err)
	}
	target := observed{ref: ref}
	if obj.GetUID() == "" {
		return observed{}, fmt.Errorf("finalizer %q: %s has no UID; pass an object read from the API server, so that the apply cannot create or touch another object", f.name, target.ref)
	}
	if len(obj.GetManagedFields()) == 0 && len(obj.GetFinalizers()) > 0 {
		if err := f.read(ctx, obj, target.ref); err != nil {
			return observed{}, err
		}
		target.fresh = true
	}
	target.owned, err = f.ownedIn(obj)
	if err != nil {
		return observed{}, fmt.Errorf("finalizer %q on %s: %w", f.name, target.ref, err)
	}
	return target, nil
}

// ownedIn returns the finalizers the manager owns through its Apply entry on the main resource,
// the only entry its applies change. Only that entry is parsed: this runs on every Add and Remove.
func (f *Finalizer) ownedIn(obj client.Object) ([]string, error) {
	var own []metav1.ManagedFieldsEntry
	for _, e := range obj.GetManagedFields() {
		if e.Manager == f.manager && e.Operation == metav1.ManagedFieldsOperationApply && e.Subresource == "" {
			own = append(own, e)
		}
	}
	if len(own) == 0 {
		return nil, nil
	}
	ownership, err := ParseOwnership(own)
	if err != nil {
		return nil, err
	}
	return ownership.FinalizersOwnedBy(f.manager, obj.GetFinalizers()), nil
}

// read replaces obj with the object as the API server has it, reading only its metadata.
func (f *Finalizer) read(ctx context.Context, obj client.Object, ref ObjectRef) error {
	live := &metav1.PartialObjectMetadata{}
	live.SetGroupVersionKind(ref.GroupVersionKind)
	if err := f.apiReader.Get(ctx, client.ObjectKeyFromObject(obj), live); err != nil {
		if apierrors.IsNotFound(err) {
			return &ObjectError{Object: ref, Reason: ErrGone, Err: err, Detail: "it was deleted after it was read; there is nothing left to do for it"}
		}
		return fmt.Errorf("reading the live metadata of %s: %w", ref, err)
	}
	if live.GetUID() != ref.UID {
		return &ObjectError{Object: ref, Reason: ErrReplaced, Detail: fmt.Sprintf("the object now named so has uid %s; ssakit did not touch it; read it again and reconcile that one", live.GetUID())}
	}
	obj.SetManagedFields(live.GetManagedFields())
	obj.SetFinalizers(live.GetFinalizers())
	obj.SetResourceVersion(live.GetResourceVersion())
	obj.SetDeletionTimestamp(live.GetDeletionTimestamp())
	return nil
}

// apply sends the finalizer configuration for the manager and writes the answer into obj.
func (f *Finalizer) apply(ctx context.Context, obj client.Object, target observed, finalizers []string) (*unstructured.Unstructured, error) {
	config := &unstructured.Unstructured{}
	config.SetGroupVersionKind(target.ref.GroupVersionKind)
	config.SetNamespace(target.ref.Namespace)
	config.SetName(target.ref.Name)
	// The UID makes the apply a precondition: it never recreates a deleted object (row 8) and
	// never touches a same-named successor (rows 9 and 10).
	config.SetUID(target.ref.UID)
	if len(finalizers) > 0 {
		// With no finalizers the field is left out, and the manager's entry goes away (row 4).
		config.SetFinalizers(finalizers)
	}
	if err := f.client.Apply(ctx, client.ApplyConfigurationFromUnstructured(config), client.FieldOwner(f.manager)); err != nil {
		return nil, FromApplyError(target.ref, err)
	}
	// Client.Apply wrote the server's answer into config.
	if err := copyInto(config, obj); err != nil {
		return nil, fmt.Errorf("finalizer %q on %s was applied, but the answer could not be read into %T: %w", f.name, target.ref, obj, err)
	}
	return config, nil
}

// coOwners returns the managers other than the finalizer's that own it according to obj's
// managedFields.
func (f *Finalizer) coOwners(obj client.Object) []string {
	ownership, err := ParseOwnership(obj.GetManagedFields())
	if err != nil {
		return nil
	}
	return slices.DeleteFunc(ownership.Owners(FinalizerPath(f.name)), func(m string) bool { return m == f.manager })
}

// coOwnedError reports that the finalizer stays because other managers own it.
func (f *Finalizer) coOwnedError(obj client.Object, ref ObjectRef) error {
	return &CoOwnedError{Object: ref, Finalizer: f.name, Manager: f.manager, CoOwners: f.coOwners(obj)}
}

// copyInto replaces obj's content with the server's answer, whatever obj's Go type.
func copyInto(answer *unstructured.Unstructured, obj client.Object) error {
	switch o := obj.(type) {
	case *unstructured.Unstructured:
		o.Object = answer.Object
		return nil
	default:
		return runtime.DefaultUnstructuredConverter.FromUnstructured(answer.Object, obj)
	}
}
