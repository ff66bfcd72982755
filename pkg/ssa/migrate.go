package ssa

import (
	"context"
	"fmt"
	"slices"

	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Migration is what Migrate changes, or PlanMigration says it would change, on one object: the
// steps that leave the finalizer owned by its manager alone, under its current name.
type Migration struct {
	// Object names the object.
	Object ObjectRef
	// Apply is true when the finalizer's manager applies the finalizer: the object carries only
	// older names (RenamedFrom), so the apply puts the finalizer on, or the manager does not own
	// the finalizer yet.
	Apply bool
	// TakeFrom are the legacy owners (TakeOverLegacy) whose ownership of the finalizer's item
	// moves to the finalizer's manager, sorted.
	TakeFrom []string
	// Release are the older names the object carries that are removed from it.
	Release []string
	// Kept says, one sentence each, what stays as it is and why: an object that carries neither
	// the finalizer nor an older name, a terminating one that keeps its older names until its
	// cleanup, an owner that is not taken from.
	Kept []string
}

// Changes reports whether the migration writes anything.
func (m Migration) Changes() bool {
	return m.Apply || len(m.TakeFrom) > 0 || len(m.Release) > 0
}

// PlanMigration returns what Migrate would do to obj, sending nothing: it reads obj's finalizers
// and managedFields only, so the plan is as fresh as obj. Pass an object read from the API server:
// from a cache that strips or trims managedFields, an owner that is not shown is not planned for
// (an object whose managedFields were reset has none either, and needs only the apply). Migrate
// itself does not depend on this: it plans its takeovers again from the server's answer.
func (f *Finalizer) PlanMigration(obj client.Object) (Migration, error) {
	ref, err := f.refOf(obj)
	if err != nil {
		return Migration{}, err
	}
	plan := Migration{Object: ref}
	owned, err := f.ownedIn(obj, ref)
	if err != nil {
		return plan, err
	}
	older := f.legacyNamesOn(obj)
	carries := slices.Contains(obj.GetFinalizers(), f.name)
	switch {
	case !carries && len(older) == 0:
		plan.Kept = append(plan.Kept, fmt.Sprintf("it carries neither %q nor an older name of it: there is nothing to migrate, and the controller adds the finalizer to the objects it manages", f.name))
		return plan, nil
	case !carries && obj.GetDeletionTimestamp() != nil:
		plan.Kept = append(plan.Kept, fmt.Sprintf("it is terminating: the server refuses new finalizers (docs/ssa-semantics.md row 12), so it keeps %s until its cleanup is done and the controller's Remove releases it", quoteAll(older)))
		return plan, nil
	}
	ownership, err := ParseOwnership(obj.GetManagedFields())
	if err != nil {
		return plan, fmt.Errorf("finalizer %q on %s: %w", f.name, ref, err)
	}
	plan.Apply = !owned
	if carries {
		var from, kept []string
		for _, e := range ownership.Entries {
			switch {
			case !e.Fields.Has(FinalizerPath(f.name)) || f.isOwnEntry(e):
			case f.mayTakeFrom(e, f.name):
				from = append(from, e.Manager)
			default:
				kept = append(kept, e.String())
			}
		}
		if len(kept) > 0 {
			// takeOverPatch moves no item that an owner it may not take from also holds.
			plan.Kept = append(plan.Kept, fmt.Sprintf("%q stays co-owned by %s, which are not taken from: an Update owner is taken from only with TakeOverLegacy, an Apply owner only when TakeOverLegacy names it (do so when it is an earlier manager of this finalizer), a subresource's never",
				f.name, quoteAll(kept)))
		} else {
			slices.Sort(from)
			plan.TakeFrom = slices.Compact(from)
		}
	}
	for _, name := range older {
		var kept []string
		for _, e := range ownership.Entries {
			if e.Fields.Has(FinalizerPath(name)) && !f.isOwnEntry(e) && !f.mayTakeFrom(e, name) {
				kept = append(kept, e.String())
			}
		}
		if len(kept) > 0 {
			plan.Kept = append(plan.Kept, fmt.Sprintf("older name %q stays: %s own it through a subresource, which is never taken from", name, quoteAll(kept)))
			continue
		}
		plan.Release = append(plan.Release, name)
	}
	return plan, nil
}

// Migrate leaves the finalizer on obj owned by its manager alone, under its current name, and
// replaces obj with the server's answer: it is Add without Add's shortcut for an object whose
// finalizer the manager already owns, for objects a controller has co-owned with its legacy writer
// for a while, and for tools that migrate many objects ahead of a release (kubectl ssakit
// migrate). It never puts the finalizer on an object that carries neither it nor an older name.
//
// It applies the finalizer (a rename puts it on; the UID guards the apply), takes its item over
// from the legacy owners the server's answer shows (TakeOverLegacy), and releases the older names
// (RenamedFrom): the steps of Add and Remove, which it reuses. A terminating object keeps its
// older names: the server refuses new finalizers on it. It returns what it did, planned from the
// server's answer to its first apply (PlanMigration), and sends nothing when the plan for obj
// changes nothing. Errors are Add's.
func (f *Finalizer) Migrate(ctx context.Context, obj client.Object) (Migration, error) {
	plan, err := f.PlanMigration(obj)
	if err != nil || !plan.Changes() {
		return plan, err
	}
	ref := plan.Object
	answered, err := f.apply(ctx, obj, ref, true)
	if err != nil {
		return plan, err
	}
	if !slices.Contains(answered.GetFinalizers(), f.name) {
		return plan, fmt.Errorf("finalizer %q was applied to %s, but the server's answer does not carry it: "+
			"an admission webhook or policy probably removes it; exempt field manager %q from it", f.name, ref, f.manager)
	}
	// Takeovers are computed from the answer, never from obj, whose managedFields may be older.
	done, err := f.PlanMigration(obj)
	if err != nil {
		return plan, err
	}
	done.Apply = plan.Apply
	if len(done.TakeFrom) > 0 {
		if _, err := f.takeOver(ctx, obj, ref, []string{f.name}, true); err != nil {
			return done, err
		}
	}
	return done, f.dropLegacyNames(ctx, obj, ref)
}
