package ssa

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

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

	takeOverLegacy bool
	legacyManagers []string
	formerNames    []string
	onTakeOver     func(ctx context.Context, obj client.Object, t TakeOver)

	// owned remembers the answers to Add that showed the finalizer owned, for copies without
	// managedFields.
	owned *ownedAnswers
}

// FinalizerOptions configure NewFinalizer. The zero value declares a domain-qualified finalizer
// owned by FinalizerFieldOwner(controller, name), with no API reader and no migration.
type FinalizerOptions struct {
	// FieldOwner is the field manager that owns the finalizer. Default:
	// FinalizerFieldOwner(controller, name). Give it to this finalizer and nothing else: an apply
	// is declarative for its manager, so another finalizer or field applied by the same manager
	// would be removed by this one's applies (reconcile.New refuses two of its finalizers on one
	// manager).
	FieldOwner client.FieldOwner
	// APIReader reads an object straight from the API server, for IsOnLive. Default: none, and
	// IsOnLive returns an error. Add and Remove never read. With a controller-runtime manager pass
	// mgr.GetAPIReader(); the manager's client would read from its cache and start an informer.
	APIReader client.Reader
	// AllowUnqualifiedName accepts a name without a "/" path (NameUnqualified,
	// docs/ssa-semantics.md row 15), for a finalizer that already is on existing custom
	// resources. Default: false, such a name is an *InvalidNameError. Plan to move to a qualified
	// name with FormerNames.
	AllowUnqualifiedName bool
	// TakeOverLegacy makes the finalizer's manager take the finalizer over from its legacy
	// writers: every Update entry that owns it (controllerutil.AddFinalizer with Update or a merge
	// patch, kubectl edit, kubectl-client-side-apply, ancient-changes) and the Apply managers in
	// LegacyManagers. Default: false; a co-owner then keeps the finalizer on the object after
	// Remove, which returns a *CoOwnedError (rows 3 and 24). See the package documentation,
	// "Taking over from legacy writers".
	TakeOverLegacy bool
	// LegacyManagers are Apply managers the finalizer is taken over from, besides every Update
	// entry, when TakeOverLegacy is set: an earlier field manager of the same finalizer, such as
	// a shared "<controller>/finalizer".
	LegacyManagers []string
	// FormerNames are earlier names of the finalizer, which objects may still carry: Add puts the
	// finalizer on an object first, then removes its former names; Remove, IsOn and IsOnLive treat
	// a former name as the finalizer. See the package documentation, "Renaming a finalizer".
	// Unqualified names are accepted here; the finalizer's own name is not.
	FormerNames []string
	// OnTakeOver is called after each takeover patch, with the object (its managedFields as the
	// server answered, when it was the object given) and what was moved: for a log line, a
	// metric or an event.
	OnTakeOver func(ctx context.Context, obj client.Object, t TakeOver)
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

// NewFinalizer declares the finalizer name for controller, owned by the field manager
// FinalizerFieldOwner(controller, name) unless opts.FieldOwner says otherwise. The name is
// checked with CheckFinalizerName: an invalid, reserved or (without AllowUnqualifiedName)
// unqualified one is an *InvalidNameError. A field manager the API server would refuse (over 128
// characters, unprintable characters) is an error, and so are former names that include the name
// itself or that the server refuses.
//
// Nothing is registered: declaring the same finalizer twice gives two equal Finalizers. Keeping
// one field manager per finalizer is checked where finalizers are declared together
// (reconcile.New); two controllers in one process that reuse a field manager for different
// finalizers would remove each other's, so give each its own.
func NewFinalizer(c client.Client, controller, name string, opts FinalizerOptions) (*Finalizer, error) {
	check := CheckFinalizerName(name)
	allowed := check.Class == NameUnqualified && opts.AllowUnqualifiedName
	if check.Err != nil && !allowed {
		return nil, check.Err
	}
	manager := string(opts.FieldOwner)
	if manager == "" {
		if controller == "" {
			return nil, fmt.Errorf("finalizer %q: a controller name or FinalizerOptions.FieldOwner is required to name its field manager", name)
		}
		manager = FinalizerFieldOwner(controller, name)
	}
	if errs := metav1validation.ValidateFieldManager(manager, field.NewPath("fieldManager")); len(errs) > 0 {
		return nil, fmt.Errorf("finalizer %q: the API server would refuse its field manager: %w", name, errs.ToAggregate())
	}
	for _, former := range opts.FormerNames {
		if former == name {
			return nil, fmt.Errorf("finalizer %q: FinalizerOptions.FormerNames names the finalizer itself", name)
		}
		if c := CheckFinalizerName(former); c.Class == NameInvalid || c.Class == NameReserved {
			return nil, fmt.Errorf("finalizer %q: former name: %w", name, c.Err)
		}
	}
	return &Finalizer{name: name, manager: manager, client: c, apiReader: opts.APIReader,
		takeOverLegacy: opts.TakeOverLegacy, legacyManagers: slices.Clone(opts.LegacyManagers), formerNames: slices.Clone(opts.FormerNames),
		onTakeOver: opts.OnTakeOver, owned: &ownedAnswers{}}, nil
}

// Name returns the finalizer's name.
func (f *Finalizer) Name() string { return f.name }

// FieldOwner returns the field manager that owns the finalizer.
func (f *Finalizer) FieldOwner() string { return f.manager }

// FormerNames returns the finalizer's former names (FinalizerOptions.FormerNames).
func (f *Finalizer) FormerNames() []string { return slices.Clone(f.formerNames) }

// Add makes the finalizer's manager own the finalizer on obj, with one apply that lists only this
// finalizer, and replaces obj with the server's answer. sent reports whether a request was sent.
//
// It sends nothing when obj shows the finalizer owned by the manager: obj carries it and its
// managedFields hold the manager's Apply entry for it. Such a skip is as fresh as obj; an object
// from an informer cache is, because a later removal brings a newer copy and another reconcile.
// Without the manager's entry (a cache that strips managedFields or keeps only some entries) Add
// sends nothing either when obj has the UID and resourceVersion of an answer to one of this
// Finalizer's own Adds that showed the finalizer owned: it is that very object, since every write
// gives a new resourceVersion. Otherwise it applies, and the server decides; keep the manager's
// entries with KeepManagedFieldsOf to make the steady state free whoever else writes the object.
//
// A terminating object that does not carry the finalizer is refused without a request
// (docs/ssa-semantics.md row 12); one that carries it is not an error, and neither is an answer
// that shows deletion under way: check obj.GetDeletionTimestamp() after Add. Add never reports
// success unless obj showed the finalizer owned or the server's answer carries it (an admission
// policy could strip it). Errors: *ObjectError wrapping ErrTerminating, ErrGone or ErrReplaced; an
// *InvalidNameError when the server refuses the name for the kind (row 15); API errors otherwise.
// obj is unchanged on an error from the server.
//
// With TakeOverLegacy, an apply whose answer shows legacy co-owners of the finalizer is followed
// by the takeover, so the object is migrated when the controller first adds the finalizer. With
// FormerNames, the former names obj carries are removed once the finalizer is on it.
func (f *Finalizer) Add(ctx context.Context, obj client.Object) (sent bool, err error) {
	ref, err := f.refOf(obj)
	if err != nil {
		return false, err
	}
	owned, err := f.ownedOrAnswered(obj, ref)
	if err != nil {
		return false, err
	}
	terminating := obj.GetDeletionTimestamp() != nil
	switch {
	case owned && (terminating || len(f.formerNamesOn(obj)) == 0):
		return false, nil
	case terminating && slices.Contains(obj.GetFinalizers(), f.name):
		// On the object, though co-owned or owned by others (a legacy writer): it protects the
		// object, and Remove takes it over when the cleanup is done.
		return false, nil
	case terminating:
		return false, &ObjectError{Object: ref, Reason: ErrTerminating,
			Detail: fmt.Sprintf("finalizer %q cannot be added: the API server refuses new finalizers once deletion has started; run the cleanup instead", f.name)}
	}
	answered, err := f.apply(ctx, obj, ref, true)
	if err != nil {
		return true, err
	}
	if !slices.Contains(answered.GetFinalizers(), f.name) {
		return true, f.strippedError(ref)
	}
	if f.takeOverLegacy {
		// The finalizer is on obj and the manager owns it: Add has done what it promises. A
		// takeover that fails now is done by Remove, which needs it.
		if _, err := f.takeOver(ctx, obj, ref, []string{f.name}, true); errors.Is(err, ErrReplaced) || errors.Is(err, ErrGone) {
			return true, err // a retry found the object gone: the finalizer protects nothing
		}
	}
	if err := f.releaseFormerNames(ctx, obj, ref, f.formerNamesOn(obj)); err != nil {
		return true, err
	}
	f.rememberOwned(obj, ref)
	return true, nil
}

// ownedOrAnswered reports whether obj shows the finalizer owned by the manager (ownedIn), or is
// the very object an answer to one of the Finalizer's Adds showed it owned on (ownedAnswers): a
// copy of it without managedFields.
func (f *Finalizer) ownedOrAnswered(obj client.Object, ref ObjectRef) (bool, error) {
	owned, err := f.ownedIn(obj, ref)
	if err != nil || owned {
		return owned, err
	}
	return f.owned.proves(obj) && slices.Contains(obj.GetFinalizers(), f.name), nil
}

// rememberOwned remembers obj, an answer, when it shows the finalizer owned by the manager.
func (f *Finalizer) rememberOwned(obj client.Object, ref ObjectRef) {
	if owned, err := f.ownedIn(obj, ref); err == nil && owned {
		f.owned.remember(obj)
	}
}

// strippedError reports an apply whose answer does not carry the finalizer.
func (f *Finalizer) strippedError(ref ObjectRef) error {
	return fmt.Errorf("finalizer %q was applied to %s, but the server's answer does not carry it, so the object is not protected: "+
		"an admission webhook or policy probably removes it; exempt field manager %q from it", f.name, ref, f.manager)
}

// releaseFormerNames removes former, former names obj carries, now that it carries the finalizer:
// their items are taken over by the manager, whose next apply, which lists only the finalizer,
// removes them (rows 3 and 31).
func (f *Finalizer) releaseFormerNames(ctx context.Context, obj client.Object, ref ObjectRef, former []string) error {
	if len(former) == 0 {
		return nil
	}
	if _, err := f.takeOver(ctx, obj, ref, former, true); err != nil {
		return fmt.Errorf("finalizer %q is on %s, but its former names %s are still there: %w", f.name, ref, quoteAll(former), err)
	}
	answered, err := f.apply(ctx, obj, ref, true)
	if err != nil {
		return fmt.Errorf("finalizer %q is on %s, but its former names %s are still there: %w", f.name, ref, quoteAll(former), err)
	}
	if left := slices.DeleteFunc(f.formerNamesOn(answered), func(name string) bool { return !slices.Contains(former, name) }); len(left) > 0 {
		return &CoOwnedError{Object: ref, Finalizer: left[0], Manager: f.manager, CoOwners: f.coOwners(answered, left[0])}
	}
	return nil
}

// Remove lets the finalizer's manager release the finalizer on obj, with one apply that lists no
// finalizer, and replaces obj with the server's answer. sent reports whether a request was sent:
// Remove always sends that apply, even when obj does not show the finalizer, because obj may be
// older than the finalizer, and a removal is rare enough that proof is worth a request (the
// server writes nothing when there is nothing to release). An object that no longer exists is not
// an error (docs/ssa-semantics.md row 9): the work is done and nothing is recreated.
//
// The server's answer decides: when the finalizer is still there, other managers also own it (a
// legacy Update, say; rows 3 and 24), and the result is a *CoOwnedError naming them from that
// answer. With TakeOverLegacy, when they are all legacy, the finalizer is first taken over from
// them and released again (two more requests, once per object); so it is from
// before-first-apply, the server's owner of every field after managedFields were dropped (row
// 24), without the option. Former names still on the answer are taken over and released the same
// way. Remove never reports success while the finalizer or a former name is on the object it
// answered with. When that answer carries no managedFields (a client that asks the server to
// leave them out, row 32), the co-owners cannot be told and nothing is taken over: the error
// wraps ErrNoManagedFields.
func (f *Finalizer) Remove(ctx context.Context, obj client.Object) (sent bool, err error) {
	ref, err := f.refOf(obj)
	if err != nil {
		return false, err
	}
	if _, err := f.ownedIn(obj, ref); err != nil {
		return false, err
	}
	f.owned.forget(ref.UID)
	if err := f.release(ctx, obj, ref); errors.Is(err, ErrGone) {
		return true, nil
	} else if err != nil {
		return true, err
	}
	return true, f.stillOn(obj, ref)
}

// release applies the manager's configuration without the finalizer. When the answer still
// carries what may be taken over (the finalizer, from legacy owners or before-first-apply; former
// names, from anyone), it moves that to the manager (takeOverPatch decides from whom) and applies
// again, which then removes it. obj is the latest answer throughout.
func (f *Finalizer) release(ctx context.Context, obj client.Object, ref ObjectRef) error {
	answered, err := f.apply(ctx, obj, ref, false)
	if err != nil {
		return err
	}
	names := f.formerNamesOn(answered)
	if slices.Contains(answered.GetFinalizers(), f.name) {
		names = append([]string{f.name}, names...)
	}
	if len(names) == 0 {
		return nil
	}
	took, err := f.takeOver(ctx, obj, ref, names, false)
	if err != nil || took == nil {
		return err
	}
	_, err = f.apply(ctx, obj, ref, false)
	return err
}

// stillOn returns the error for the first of the finalizer's names that obj, the answer to its
// release, still carries, or nil.
func (f *Finalizer) stillOn(obj client.Object, ref ObjectRef) error {
	for _, name := range append([]string{f.name}, f.formerNames...) {
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

// IsOn reports whether obj, the object in hand, carries the finalizer or one of its former names.
// It reads nothing: to know what the API server has now, use IsOnLive.
func (f *Finalizer) IsOn(obj client.Object) bool {
	return slices.Contains(obj.GetFinalizers(), f.name) || len(f.formerNamesOn(obj)) > 0
}

// IsOnLive reports whether the object, as the API server has it now, carries the finalizer or
// one of its former names. It reads metadata only, through FinalizerOptions.APIReader, so a cache
// that lags behind a removal just made cannot make a caller run its cleanup twice. obj is not
// changed: mixing fresh metadata into a stale object would hand the caller a lost update. An
// object that is gone, or was replaced under its name, does not carry it.
func (f *Finalizer) IsOnLive(ctx context.Context, obj client.Object) (bool, error) {
	ref, err := refOf(obj, f.client.Scheme())
	if err != nil {
		return false, fmt.Errorf("finalizer %q: %w", f.name, err)
	}
	if f.apiReader == nil {
		return false, fmt.Errorf("finalizer %q: IsOnLive reads the live object and needs an uncached reader: declare the finalizer with FinalizerOptions.APIReader set to mgr.GetAPIReader()", f.name)
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
	return f.IsOn(live), nil
}

// refOf names obj and insists on its UID, the precondition of every apply.
func (f *Finalizer) refOf(obj client.Object) (ObjectRef, error) {
	ref, err := refOf(obj, f.client.Scheme())
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
		if !f.isOwnEntry(identity(e)) {
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
		// Former names are the manager's own while a rename is under way, or after one was
		// interrupted between the takeover and the release: the next apply releases them.
		mine := fieldpath.NewSet(FinalizerPath(f.name))
		for _, former := range f.formerNames {
			mine.Insert(FinalizerPath(former))
		}
		if others := fields.Difference(mine); !others.Empty() {
			return false, fmt.Errorf("finalizer %q on %s: its field manager %q also owns %s there, which its applies would remove; "+
				"another writer uses the same field manager: give this finalizer a manager of its own", f.name, ref, f.manager, strings.Join(paths(others), ", "))
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
		if !f.isOwnEntry(e) && e.Fields.Has(FinalizerPath(name)) && !slices.Contains(owners, e.Manager) {
			owners = append(owners, e.Manager)
		}
	}
	slices.Sort(owners)
	return owners
}
