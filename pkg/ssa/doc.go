// Package ssa makes a controller's finalizers fields owned by dedicated Server-Side Apply field
// managers, decides locally whether an apply would change anything, and reads who owns what from
// metadata.managedFields.
//
// A [Finalizer] binds one finalizer name to a field manager of its own
// ([FinalizerFieldOwner]). Adding it applies a configuration holding only the object's identity,
// its UID and that one finalizer; removing it applies one without the finalizer. Neither depends
// on the caller's copy of the object, so a stale copy can never drop or re-add another finalizer,
// and neither can touch, default, zero or take ownership of anything else. Removal is checked
// against the server's answer: a finalizer that is still there because another manager also owns
// it is reported as a [*CoOwnedError], never as success. The caller's object is either left as it
// was or replaced whole by the server's answer.
//
// [WouldChange] tells, with structured-merge-diff and the object's schema (a
// managedfields.TypeConverter: client-go's for built-in types, the one generated with a CRD's
// apply configurations, or [ServerTypeConverter]), whether an apply would change an object's
// values or its manager's managedFields entry; when it cannot tell, it says yes. An [Applier]
// uses it to send only the applies that could change something: a controller's applies of its
// children cost no request once the children are as wanted.
//
// [ParseOwnership] turns metadata.managedFields into per-manager field sets (structured-merge-diff's
// fieldpath.Set), answers which managers own a path and whether managers overlap, and renders a
// blame view of an object.
//
// Errors are typed: match them with errors.Is against [ErrGone], [ErrReplaced], [ErrTerminating],
// [ErrStale] and [ErrNoManagedFields], or with errors.As against [*CoOwnedError], [*ConflictError]
// and [*InvalidNameError].
//
// For unit tests with controller-runtime's fake client, package ssatest builds a fake client set
// up the way these calls need (UIDs, managedFields, schemas).
//
// The API server behaviours this package relies on are listed, row by row, in the project's
// docs/ssa-semantics.md and pinned by test/integration.
package ssa
