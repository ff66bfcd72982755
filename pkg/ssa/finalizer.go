package ssa

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/ssakit/ssakit/internal/answer"
)

// Finalizer is one finalizer name owned by its own Server-Side Apply field manager. Add applies a
// configuration that lists exactly this finalizer; Remove applies one that lists none. Neither
// configuration depends on the caller's view of the object, so a stale object can never make one
// finalizer's call drop or re-add another, even another finalizer of the same controller: an
// apply is declarative only for its own manager (docs/ssa-semantics.md rows 3 and 4).
//
// Each configuration holds only apiVersion, kind, name, namespace and the observed UID besides
// the finalizer, is built fresh for every call (row 22) and is sent without force. The caller's
// object is either left as it was (no request was needed, or the request failed) or replaced
// whole by the server's answer: never a mix of fresh metadata and a stale spec.
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

	takeOverLegacy bool
	legacyManagers []string
	legacyNames    []string
	onTakeOver     func(ctx context.Context, obj client.Object, t TakeOver)
}

// FinalizerOptions configure a Finalizer.
type FinalizerOptions struct {
	// FieldOwner is the field manager that owns the finalizer. Default:
	// FinalizerFieldOwner(controller, name). Give it to this finalizer and nothing else: an apply
	// is declarative for its manager, so another finalizer or field applied by the same manager
	// would be removed by this one's applies. NewFinalizer refuses a manager already declared for
	// another finalizer in the process.
	FieldOwner client.FieldOwner
	// APIReader reads an object straight from the API server, for Held. Default: none, and Held
	// returns an error. Add and Remove never read. With a controller-runtime manager pass
	// mgr.GetAPIReader(); the manager's client would read from its cache and start an informer.
	APIReader client.Reader
	// AllowLegacyName accepts a name without a "/" path (docs/ssa-semantics.md row 15), for finalizers
	// that already are on existing custom resources. Default: false, such a name is an error.
	AllowLegacyName bool
	// TakeOverLegacy lets the finalizer's manager take the finalizer over from Update entries and
	// from LegacyManagers; see the TakeOverLegacy option. Default: false.
	TakeOverLegacy bool
	// LegacyManagers are Apply managers the finalizer may be taken over from, besides every
	// Update entry, when TakeOverLegacy is set.
	LegacyManagers []string
	// LegacyNames are older names of the finalizer; see RenamedFrom.
	LegacyNames []string
	// OnTakeOver is called after each takeover patch, with the object (its managedFields as the
	// server answered, when it was the object given) and what was moved. For a log line, a metric
	// or an event.
	OnTakeOver func(ctx context.Context, obj client.Object, t TakeOver)
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
	if o.TakeOverLegacy {
		target.TakeOverLegacy = true
	}
	target.LegacyManagers = append(target.LegacyManagers, o.LegacyManagers...)
	target.LegacyNames = append(target.LegacyNames, o.LegacyNames...)
	if hook := o.OnTakeOver; hook != nil {
		if earlier := target.OnTakeOver; earlier != nil {
			target.OnTakeOver = func(ctx context.Context, obj client.Object, t TakeOver) {
				earlier(ctx, obj, t)
				hook(ctx, obj, t)
			}
		} else {
			target.OnTakeOver = hook
		}
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

// fieldOwnerHashLength is how many hex digits of a SHA-256 end a shortened field manager name.
const fieldOwnerHashLength = 16

// FinalizerFieldOwner returns the default field manager of finalizer name for controller:
// "<controller>/finalizer/<name>", so that each finalizer has a manager of its own and
// `kubectl get --show-managed-fields` names both. The API server takes at most 128 characters
// (apimachinery's FieldManagerMaxLength); a longer name keeps its first characters and ends in
// "~" and 16 hex digits of the SHA-256 of the whole name, so it stays unique and stable.
func FinalizerFieldOwner(controller, name string) string {
	owner := controller + "/finalizer/" + name
	maxLength := metav1validation.FieldManagerMaxLength
	if len(owner) <= maxLength {
		return owner
	}
	sum := sha256.Sum256([]byte(owner))
	return owner[:maxLength-fieldOwnerHashLength-1] + "~" + hex.EncodeToString(sum[:])[:fieldOwnerHashLength]
}

// declaredOwners maps each field manager declared by NewFinalizer in this process to its
// finalizer name: two finalizers on one manager would remove each other (see Finalizer).
var declaredOwners = struct {
	sync.Mutex
	finalizerOf map[string]string
	// renamedTo maps each older name declared with RenamedFrom to the finalizer that retires it.
	renamedTo map[string]string
}{finalizerOf: map[string]string{}, renamedTo: map[string]string{}}

// declareOwner binds manager to finalizer name for the life of the process.
func declareOwner(manager, name string, olderNames []string) error {
	declaredOwners.Lock()
	defer declaredOwners.Unlock()
	if retiring, ok := declaredOwners.renamedTo[name]; ok && retiring != name {
		return fmt.Errorf("finalizer %q: finalizer %q is declared RenamedFrom it, and would remove it from every object it adds itself to; "+
			"declare one of them, not both", name, retiring)
	}
	for _, older := range olderNames {
		for otherManager, other := range declaredOwners.finalizerOf {
			if other == older {
				return fmt.Errorf("finalizer %q: RenamedFrom(%q) names a finalizer declared in this process (field manager %q), which Add would remove from live objects; "+
					"only a name no controller uses any more can be renamed from", name, older, otherManager)
			}
		}
		if other, ok := declaredOwners.renamedTo[older]; ok && other != name {
			return fmt.Errorf("finalizer %q: %q is already renamed to finalizer %q in this process", name, older, other)
		}
	}
	if other, ok := declaredOwners.finalizerOf[manager]; ok && other != name {
		return fmt.Errorf("finalizer %q: field manager %q is already declared for finalizer %q; "+
			"an apply is declarative for its manager, so two finalizers on one manager would remove each other: "+
			"give each finalizer its own WithFieldOwner, or leave it out to get FinalizerFieldOwner(controller, name)", name, manager, other)
	}
	declaredOwners.finalizerOf[manager] = name
	for _, older := range olderNames {
		declaredOwners.renamedTo[older] = name
	}
	return nil
}

// NewFinalizer declares the finalizer name for controller, owned by the field manager
// FinalizerFieldOwner(controller, name) unless WithFieldOwner says otherwise. The name is checked
// with ValidateFinalizerName; an invalid one is an *InvalidNameError. A field manager the API
// server would refuse (over 128 characters, unprintable characters) or one already declared in
// this process for another finalizer is an error.
func NewFinalizer(c client.Client, controller, name string, opts ...FinalizerOption) (*Finalizer, error) {
	o := &FinalizerOptions{}
	for _, opt := range opts {
		opt.ApplyToFinalizer(o)
	}
	warnings, err := ValidateFinalizerName(name, o.AllowLegacyName)
	if err != nil {
		return nil, err
	}
	manager := string(o.FieldOwner)
	if manager == "" {
		if controller == "" {
			return nil, fmt.Errorf("finalizer %q: a controller name or WithFieldOwner is required to name its field manager", name)
		}
		manager = FinalizerFieldOwner(controller, name)
	}
	if errs := metav1validation.ValidateFieldManager(manager, field.NewPath("fieldManager")); len(errs) > 0 {
		return nil, fmt.Errorf("finalizer %q: the API server would refuse its field manager: %w", name, errs.ToAggregate())
	}
	for _, legacy := range o.LegacyNames {
		if legacy == name {
			return nil, fmt.Errorf("finalizer %q: RenamedFrom names the finalizer itself", name)
		}
		if _, err := ValidateFinalizerName(legacy, true); err != nil {
			return nil, fmt.Errorf("finalizer %q: older name: %w", name, err)
		}
	}
	if err := declareOwner(manager, name, o.LegacyNames); err != nil {
		return nil, err
	}
	return &Finalizer{name: name, manager: manager, client: c, apiReader: o.APIReader, warnings: warnings,
		takeOverLegacy: o.TakeOverLegacy, legacyManagers: slices.Clone(o.LegacyManagers), legacyNames: slices.Clone(o.LegacyNames), onTakeOver: o.OnTakeOver}, nil
}

// Name returns the finalizer's name.
func (f *Finalizer) Name() string { return f.name }

// FieldOwner returns the field manager that owns the finalizer.
func (f *Finalizer) FieldOwner() string { return f.manager }

// OlderNames returns the finalizer's older names, declared with RenamedFrom.
func (f *Finalizer) OlderNames() []string { return slices.Clone(f.legacyNames) }

// Warnings returns the warnings the API server gives when this name is added to a custom
// resource: empty for a domain-qualified name with a path.
func (f *Finalizer) Warnings() []string { return slices.Clone(f.warnings) }

// Add makes the finalizer's manager own the finalizer on obj, with one apply that lists only this
// finalizer, and replaces obj with the server's answer.
//
// It sends nothing when obj shows the finalizer owned by the manager: obj carries it and its
// managedFields hold the manager's Apply entry for it. Such a skip is as fresh as obj; an object
// from an informer cache is, because a later removal brings a newer copy and another reconcile.
// Without the manager's entry (a cache that strips managedFields or keeps only some entries) Add
// applies, and the server decides; keep the manager's entries with KeepManagedFieldsOf to make
// the steady state free.
//
// A terminating object that does not show the finalizer owned is refused without a request
// (docs/ssa-semantics.md row 12); one that shows it owned is not an error, and neither is an answer that
// shows deletion under way: check obj.GetDeletionTimestamp() after Add. Add never reports
// success unless obj showed the finalizer owned or the server's answer carries it (an admission
// policy could strip it). Errors: *ObjectError wrapping ErrTerminating, ErrGone or ErrReplaced; an
// *InvalidNameError when the server refuses the name for the kind (row 15); API errors otherwise.
// obj is unchanged on an error from the server.
//
// With TakeOverLegacy, an apply whose answer shows legacy co-owners of the finalizer is followed by
// the takeover, so the object is migrated when the controller first adds the finalizer.
func (f *Finalizer) Add(ctx context.Context, obj client.Object) error {
	ref, err := f.refOf(obj)
	if err != nil {
		return err
	}
	owned, err := f.ownedIn(obj, ref)
	if err != nil {
		return err
	}
	if owned && (len(f.legacyNamesOn(obj)) == 0 || obj.GetDeletionTimestamp() != nil) {
		return nil
	}
	if obj.GetDeletionTimestamp() != nil && slices.Contains(obj.GetFinalizers(), f.name) {
		// On the object, though co-owned or owned by others (a legacy writer): it protects the
		// object, and Remove takes it over when the cleanup is done.
		return nil
	}
	if !owned && obj.GetDeletionTimestamp() != nil {
		return &ObjectError{Object: ref, Reason: ErrTerminating,
			Detail: fmt.Sprintf("finalizer %q cannot be added: the API server refuses new finalizers once deletion has started; run the cleanup instead", f.name)}
	}
	answered, err := f.apply(ctx, obj, ref, true)
	if err != nil {
		return err
	}
	if !slices.Contains(answered.GetFinalizers(), f.name) {
		return f.strippedError(ref)
	}
	if f.takeOverLegacy {
		// The finalizer is on obj and the manager owns it: Add has done what it promises. A
		// takeover that fails now is done by Remove, which needs it.
		if _, err := f.takeOver(ctx, obj, ref, []string{f.name}, true); errors.Is(err, ErrReplaced) || errors.Is(err, ErrGone) {
			return err // a retry found the object gone: the finalizer protects nothing
		}
	}
	return f.dropLegacyNames(ctx, obj, ref)
}

// strippedError reports an apply whose answer does not carry the finalizer.
func (f *Finalizer) strippedError(ref ObjectRef) error {
	return fmt.Errorf("finalizer %q was applied to %s, but the server's answer does not carry it, so the object is not protected: "+
		"an admission webhook or policy probably removes it; exempt field manager %q from it", f.name, ref, f.manager)
}

// dropLegacyNames removes the older names obj carries, now that it carries the finalizer.
func (f *Finalizer) dropLegacyNames(ctx context.Context, obj client.Object, ref ObjectRef) error {
	return f.releaseOlderNames(ctx, obj, ref, f.legacyNamesOn(obj))
}

// releaseOlderNames removes legacy, older names obj carries, now that it carries the finalizer:
// their items are taken over by the manager, whose next apply, which lists only the finalizer,
// removes them (rows 3 and 31).
func (f *Finalizer) releaseOlderNames(ctx context.Context, obj client.Object, ref ObjectRef, legacy []string) error {
	if len(legacy) == 0 {
		return nil
	}
	if _, err := f.takeOver(ctx, obj, ref, legacy, true); err != nil {
		return fmt.Errorf("finalizer %q is on %s, but its older names %s are still there: %w", f.name, ref, quoteAll(legacy), err)
	}
	answered, err := f.apply(ctx, obj, ref, true)
	if err != nil {
		return fmt.Errorf("finalizer %q is on %s, but its older names %s are still there: %w", f.name, ref, quoteAll(legacy), err)
	}
	if left := slices.DeleteFunc(f.legacyNamesOn(answered), func(name string) bool { return !slices.Contains(legacy, name) }); len(left) > 0 {
		return &CoOwnedError{Object: ref, Finalizer: left[0], Manager: f.manager, CoOwners: f.coOwners(answered, left[0])}
	}
	return nil
}

// Remove lets the finalizer's manager release the finalizer on obj, with one apply that lists no
// finalizer, and replaces obj with the server's answer. It always sends that apply, even when obj
// does not show the finalizer: obj may be older than the finalizer, and a removal is rare enough
// that proof is worth a request (the server writes nothing when there is nothing to release). An
// object that no longer exists is not an error (docs/ssa-semantics.md row 9): the work is done and
// nothing is recreated.
//
// The server's answer decides: when the finalizer is still there, other managers also own it (a
// legacy Update, say; rows 3 and 24), and the result is a *CoOwnedError naming them from that
// answer. With TakeOverLegacy, when they are all legacy, the finalizer is first taken over from
// them and released again (two more requests, once per object); so it is from before-first-apply,
// the server's owner of every field after managedFields were dropped (row 24), without the
// option. Remove never reports success while the finalizer is on the object it answered with.
// When that answer carries no
// managedFields (a client that asks the server to leave them out, docs/ssa-semantics.md row 32),
// the co-owners cannot be told and nothing is taken over: the error wraps ErrNoManagedFields.
func (f *Finalizer) Remove(ctx context.Context, obj client.Object) error {
	ref, err := f.refOf(obj)
	if err != nil {
		return err
	}
	if _, err := f.ownedIn(obj, ref); err != nil {
		return err
	}
	answered, err := f.apply(ctx, obj, ref, false)
	if errors.Is(err, ErrGone) {
		return nil
	}
	if err != nil {
		return err
	}
	// obj is the answer now. What the apply left on it that may be taken over (the finalizer
	// from legacy owners, older names from anyone) is moved to the manager, whose next apply
	// then removes it.
	names := f.legacyNamesOn(answered)
	if slices.Contains(answered.GetFinalizers(), f.name) {
		// takeOverPatch moves it only from owners that may be taken from: legacy ones with
		// TakeOverLegacy, before-first-apply always.
		names = append([]string{f.name}, names...)
	}
	if len(names) > 0 {
		// takeOver keeps obj the latest answer: it applies again when it has to retry.
		took, err := f.takeOver(ctx, obj, ref, names, false)
		if errors.Is(err, ErrGone) {
			return nil
		}
		if err != nil {
			return err
		}
		if took != nil {
			if _, err := f.apply(ctx, obj, ref, false); errors.Is(err, ErrGone) {
				return nil
			} else if err != nil {
				return err
			}
		}
	}
	for _, name := range append([]string{f.name}, f.legacyNames...) {
		if !slices.Contains(obj.GetFinalizers(), name) {
			continue
		}
		if len(obj.GetManagedFields()) == 0 {
			// An apply's answer always has entries (before-first-apply after a reset, row 24):
			// these were left out of it, and a CoOwnedError without co-owners would blame a reset.
			return noManagedFieldsError(ref, fmt.Sprintf("finalizer %q is still on the object after its release; telling who else owns it", name))
		}
		return &CoOwnedError{Object: ref, Finalizer: name, Manager: f.manager, CoOwners: f.coOwners(obj, name)}
	}
	return nil
}

// Held reports whether the object, as the API server has it now, still carries the finalizer. It
// reads metadata only, through the API reader (WithAPIReader), so a cache that lags behind a
// removal just made cannot make a caller run its cleanup twice. obj is not changed: mixing fresh
// metadata into a stale object would hand the caller a lost update. An object that is gone, or
// was replaced under its name, does not hold it.
func (f *Finalizer) Held(ctx context.Context, obj client.Object) (bool, error) {
	ref, err := RefOf(obj, f.client.Scheme())
	if err != nil {
		return false, fmt.Errorf("finalizer %q: %w", f.name, err)
	}
	if f.apiReader == nil {
		return false, fmt.Errorf("finalizer %q: Held reads the live object and needs an uncached reader: declare the finalizer with WithAPIReader(mgr.GetAPIReader())", f.name)
	}
	live := &metav1.PartialObjectMetadata{}
	live.SetGroupVersionKind(ref.GroupVersionKind)
	if err := f.apiReader.Get(ctx, client.ObjectKeyFromObject(obj), live); err != nil {
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return false, fmt.Errorf("finalizer %q: reading the live metadata of %s: %w", f.name, ref, err)
	}
	if ref.UID != "" && live.GetUID() != ref.UID {
		return false, nil // replaced: the object that carried the finalizer is gone
	}
	return f.Carries(live), nil
}

// refOf names obj and insists on its UID, the precondition of every apply.
func (f *Finalizer) refOf(obj client.Object) (ObjectRef, error) {
	ref, err := RefOf(obj, f.client.Scheme())
	if err != nil {
		return ObjectRef{}, fmt.Errorf("finalizer %q: %w", f.name, err)
	}
	if ref.UID == "" {
		return ObjectRef{}, fmt.Errorf("finalizer %q: %s has no UID; pass an object read from the API server, so that the apply cannot create or touch another object "+
			"(with controller-runtime's fake client, build it with ssatest.NewClientBuilder, which gives objects UIDs, and read an unstructured object back after creating it)", f.name, ref)
	}
	return ref, nil
}

// ownedIn reports whether obj shows the finalizer owned by the manager: obj carries it and the
// manager's Apply entry on the main resource, the only entry its applies change, holds it. Only
// that entry is parsed: this runs on every Add. An entry that owns anything else means another
// writer shares the manager (another process, or a field manager reused by mistake): every apply
// would remove what it owns, so that is an error and nothing is sent.
func (f *Finalizer) ownedIn(obj client.Object, ref ObjectRef) (bool, error) {
	for _, e := range obj.GetManagedFields() {
		if e.Manager != f.manager || e.Operation != metav1.ManagedFieldsOperationApply || e.Subresource != "" {
			continue
		}
		ownership, err := ParseOwnership([]metav1.ManagedFieldsEntry{e})
		if err != nil {
			return false, fmt.Errorf("finalizer %q on %s: %w", f.name, ref, err)
		}
		fields := ownership.Entries[0].Fields
		owns := fields.Has(FinalizerPath(f.name))
		// The usual entry holds exactly the finalizer: no set is built on this path.
		if fields.Size() == 1 && owns {
			return slices.Contains(obj.GetFinalizers(), f.name), nil
		}
		// Older names (RenamedFrom) are the manager's own while a rename is under way, or after
		// one was interrupted between the takeover and the release: the next apply releases them.
		mine := fieldpath.NewSet(FinalizerPath(f.name))
		for _, older := range f.legacyNames {
			mine.Insert(FinalizerPath(older))
		}
		if others := fields.Difference(mine); !others.Empty() {
			return false, fmt.Errorf("finalizer %q on %s: its field manager %q also owns %s there, which its applies would remove; "+
				"another writer uses the same field manager: give this finalizer a manager of its own", f.name, ref, f.manager, strings.Join(Paths(others), ", "))
		}
		return owns && slices.Contains(obj.GetFinalizers(), f.name), nil
	}
	return false, nil
}

// apply sends the manager's configuration, with the finalizer or without it, and replaces obj with
// the server's answer.
func (f *Finalizer) apply(ctx context.Context, obj client.Object, ref ObjectRef, withFinalizer bool) (*unstructured.Unstructured, error) {
	return f.applyAt(ctx, obj, ref, withFinalizer, "")
}

// applyAt is apply with resourceVersion, when it is not empty, as a precondition: the apply is
// then a 409 (ErrStale) that writes nothing if the object was written since (row 11).
func (f *Finalizer) applyAt(ctx context.Context, obj client.Object, ref ObjectRef, withFinalizer bool, resourceVersion string) (*unstructured.Unstructured, error) {
	config := &unstructured.Unstructured{}
	config.SetResourceVersion(resourceVersion)
	config.SetGroupVersionKind(ref.GroupVersionKind)
	config.SetNamespace(ref.Namespace)
	config.SetName(ref.Name)
	// The UID makes the apply a precondition: it never recreates a deleted object (row 8) and
	// never touches a same-named successor (rows 9 and 10).
	config.SetUID(ref.UID)
	if withFinalizer {
		// Without it the manager lists no field, and its entry goes away with the finalizer,
		// unless another manager also owns it (rows 3 and 4).
		config.SetFinalizers([]string{f.name})
	}
	if err := f.client.Apply(ctx, client.ApplyConfigurationFromUnstructured(config), client.FieldOwner(f.manager)); err != nil {
		return nil, FromApplyError(ref, err)
	}
	// Client.Apply wrote the server's answer into config.
	if err := answer.Into(obj, config); err != nil {
		return nil, fmt.Errorf("finalizer %q on %s was applied, but the answer could not be read into %T (which was left as it was): %w", f.name, ref, obj, err)
	}
	return config, nil
}

// coOwners returns the managers whose entries, other than the finalizer manager's own Apply entry
// on the main resource, own the finalizer according to obj's managedFields. An Update entry under
// the manager's own name (a controller that kept its name when it moved to ssakit) is one.
func (f *Finalizer) coOwners(obj client.Object, name string) []string {
	ownership, err := ParseOwnership(obj.GetManagedFields())
	if err != nil {
		return nil
	}
	var owners []string
	for _, e := range ownership.Entries {
		own := e.Manager == f.manager && e.Operation == metav1.ManagedFieldsOperationApply && e.Subresource == ""
		if !own && e.Fields.Has(FinalizerPath(name)) && !slices.Contains(owners, e.Manager) {
			owners = append(owners, e.Manager)
		}
	}
	slices.Sort(owners)
	return owners
}
