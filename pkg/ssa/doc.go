// Package ssa makes a controller's finalizers fields owned by dedicated Server-Side Apply field
// managers, decides locally whether an apply would change anything, and reads who owns what from
// metadata.managedFields.
//
// A [Finalizer] binds one finalizer name to a field manager of its own
// ([FinalizerFieldOwner]). Adding it applies a configuration holding only the object's identity,
// its UID and that one finalizer; removing it applies one without the finalizer. Neither depends
// on the caller's copy of the object, so a stale copy can never drop or re-add another finalizer,
// and neither can touch, default, zero or take ownership of anything else. Both say whether they
// sent a request. Removal is checked against the server's answer: a finalizer that is still there
// because another manager also owns it is reported as a [*CoOwnedError], never as success. The
// caller's object is either left as it was or replaced whole by the server's answer.
//
// [CheckFinalizerName] classifies a name as the API server does ([NameClass]): qualified,
// unqualified (no "/" path), invalid or reserved. [NewFinalizer], ssakit-vet and kubectl ssakit
// all judge names with it.
//
// [Applier] applies configurations as one field manager and sends only those that could change
// something ([Applier.WouldChange]); [MayChange] is the same decision for any manager and
// subresource. Both work with structured-merge-diff and the object's schema (a
// managedfields.TypeConverter: client-go's for built-in types, the one generated with a CRD's
// apply configurations, or [ServerTypeConverter]); when they cannot tell, they say yes. A
// controller's applies of its children cost no request once the children are as wanted.
//
// [ParseOwnership] turns metadata.managedFields into per-manager field sets (structured-merge-diff's
// fieldpath.Set), answers which managers own a path ([Ownership.Owners]) and which paths managers
// share ([Ownership.Overlaps], [Ownership.CheckNoOverlap]); [Blame] renders an object field by
// field with its owners.
//
// # Options
//
// As in controller-runtime, constructors take an options struct whose zero value is the default
// ([FinalizerOptions], [ApplierOptions]), and options of a single call are that call's
// XOption values ([Applier.Apply] takes controller-runtime's client.ApplyOption).
//
// # Taking over from legacy writers
//
// A finalizer that a controller wrote with Update or a merge patch before it moved to ssakit is
// co-owned by those writers' entries, and stays on the object after Remove (a *CoOwnedError).
// With [FinalizerOptions].TakeOverLegacy the finalizer's manager takes it over from them: every
// Update entry (controllerutil.AddFinalizer with Update or a merge patch, kubectl edit,
// kubectl-client-side-apply, ancient-changes) and the Apply managers in LegacyManagers (an
// earlier field manager of the same finalizer, such as a shared "<controller>/finalizer").
//
// The takeover moves the finalizer's item, and nothing else, from those entries to the manager's
// Apply entry (an entry also lets go of the finalizer list when it owned the list only as the
// item's parent, as an Update that created the list does), with a JSON patch of
// metadata.managedFields guarded by the object's resourceVersion (docs/ssa-semantics.md row 31):
// every other field a legacy writer owns stays its own, so no later apply can remove a spec field
// it wrote (which is what client-go's csaupgrade would do: row 26). The finalizer list's value is
// not touched by the patch. When the object changed since the answer the patch was computed from,
// the patch is refused; the takeover applies the manager's configuration again and computes the
// patch from that answer (a few times, then ErrStale), so it never works from a read whose
// managedFields a cache may have trimmed.
//
// Remove takes over when its apply left the finalizer on the object and every co-owner is legacy
// (or none is recorded), then applies again. Whatever the options, the finalizer's own item is
// taken from before-first-apply, the entry the server makes up for every field of an object
// whose managedFields were dropped (a reset, kubernetes#136919): it names no writer. Add takes
// over after an apply whose answer shows legacy co-owners, so an object is migrated when the
// controller first adds the finalizer; should that patch fail, Add still succeeds (the finalizer
// is on the object and the manager owns it) and Remove takes over later, unless the object turned
// out to be gone or replaced. A co-owner that is neither is never taken from: Remove reports it.
// [Finalizer.PlanMigration] and [Finalizer.Migrate] do the same for a fleet ahead of a release.
//
// # Renaming a finalizer
//
// [FinalizerOptions].FormerNames are earlier names of the finalizer, which objects may still
// carry: Add puts the finalizer on an object first, then removes the former names from it;
// Remove, IsOn and IsOnLive treat a former name as the finalizer. So an object is never without
// one of them, whoever wrote the old name (an Update, a merge patch, another manager), and a
// terminating object, which the server refuses new finalizers (row 12), keeps its former name
// until its cleanup is done and Remove releases it. Former names are taken from every manager
// that owns them: they are earlier names of this very finalizer, and no other finalizer may still
// use them or share them (reconcile.New refuses both among its finalizers). A rename interrupted
// between the takeover and the release (a timeout, a shutdown) leaves the former name owned by
// the finalizer's manager, and the next Add or Remove finishes it. Unqualified names are accepted
// as former names (row 15).
//
// # Errors
//
// Errors are typed: match them with errors.Is against [ErrGone], [ErrReplaced], [ErrTerminating],
// [ErrStale], [ErrNoManagedFields] and [ErrNotControlled], or with errors.As against
// [*CoOwnedError], [*ConflictError], [*InvalidNameError] and [*OverlapError]. [FromApplyError]
// turns the API server's answer to any apply into them.
//
// For unit tests with controller-runtime's fake client, package ssatest builds a fake client set
// up the way these calls need (UIDs, managedFields, schemas).
//
// The API server behaviours this package relies on are listed, row by row, in the project's
// docs/ssa-semantics.md and pinned by test/integration.
package ssa
