// Package ssa makes a controller's finalizers fields owned by a dedicated Server-Side Apply field
// manager, and reads who owns what from metadata.managedFields.
//
// A [Finalizer] binds one finalizer name to one field manager. Adding and removing it are apply
// calls whose configuration holds only the object's identity, its UID and the finalizers that
// manager should own, so they can never touch, default, zero or take ownership of anything else.
// Removal is checked against the server's answer: a finalizer that is still there because another
// manager also owns it is reported as a [*CoOwnedError], never as success.
//
// [ParseOwnership] turns metadata.managedFields into per-manager field sets (structured-merge-diff's
// fieldpath.Set), answers which managers own a path and whether managers overlap, and renders a
// blame view of an object.
//
// Errors are typed: match them with errors.Is against [ErrGone], [ErrReplaced] and
// [ErrTerminating], or with errors.As against [*CoOwnedError], [*ConflictError] and
// [*InvalidNameError].
//
// The API server behaviours this package relies on are listed, row by row, in the project's
// SSA-SEMANTICS.md and pinned by test/integration.
package ssa
