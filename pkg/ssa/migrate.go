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
	// Apply is true when the finalizer's manager applies the finalizer because it does not own
	// it yet, or to put it on (PutOn).
	Apply bool
	// PutOn is true when the object carries only former names (FinalizerOptions.FormerNames)
	// and the apply puts the finalizer on, before they are released.
	PutOn bool
	// TakeFrom are the legacy owners (FinalizerOptions.TakeOverLegacy) whose ownership of the
	// finalizer's item moves to the finalizer's manager, sorted.
	TakeFrom []string
	// Release are the former names the object carries that are removed from it.
	Release []string
	// Kept says, one sentence each, what stays as it is and why: an object that carries neither
	// the finalizer nor a former name, a terminating one that keeps its former names until its
	// cleanup, an owner that is not taken from. Migrate reports what stays after it is done.
	Kept []string
}

// Changes reports whether the migration writes anything.
func (m Migration) Changes() bool {
	return m.Apply || len(m.TakeFrom) > 0 || len(m.Release) > 0
}

// PlanMigration returns what Migrate would do to obj, sending nothing: it reads obj's finalizers
// and managedFields only, so the plan is as fresh as obj. Pass an object read from the API server:
// an object without managedFields is taken to have had them reset, and the server's answer to the
// first apply to it names every field it has as owned by "before-first-apply" (row 24), which is
// planned for; a copy from a cache that strips or trims managedFields cannot be planned. Migrate
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
	former := f.formerNamesOn(obj)
	carries := slices.Contains(obj.GetFinalizers(), f.name)
	switch {
	case !carries && len(former) == 0:
		plan.Kept = append(plan.Kept, fmt.Sprintf("it carries neither %q nor a former name of it: there is nothing to migrate, and the controller adds the finalizer to the objects it manages", f.name))
		return plan, nil
	case !carries && obj.GetDeletionTimestamp() != nil:
		plan.Kept = append(plan.Kept, fmt.Sprintf("it is terminating: the server refuses new finalizers (docs/ssa-semantics.md row 12), so it keeps %s until its cleanup is done and the controller's Remove releases it", quoteAll(former)))
		return plan, nil
	}
	ownership, err := ParseOwnership(obj.GetManagedFields())
	if err != nil {
		return plan, fmt.Errorf("finalizer %q on %s: %w", f.name, ref, err)
	}
	plan.Apply, plan.PutOn = !owned, !carries
	if carries {
		plan.TakeFrom, plan.Kept = f.planTakeOver(ownership)
	}
	release, kept := f.planRelease(ownership, former)
	plan.Release, plan.Kept = release, append(plan.Kept, kept...)
	return plan, nil
}

// planTakeOver returns the owners the finalizer's item is taken from, or, when an owner that may
// not be taken from also holds it, none and the sentence that says so: takeOverPatch moves no
// item such an owner holds. An object without entries had them reset; the first apply's answer
// shows before-first-apply, which is taken from.
func (f *Finalizer) planTakeOver(ownership *Ownership) (from, kept []string) {
	if len(ownership.Entries) == 0 {
		return []string{beforeFirstApply}, nil
	}
	var blocking []string
	for _, e := range ownership.Entries {
		switch {
		case !e.Fields.Has(FinalizerPath(f.name)) || f.isOwnEntry(e):
		case f.mayTakeFrom(e, f.name):
			from = append(from, e.Manager)
		default:
			blocking = append(blocking, e.String())
		}
	}
	if len(blocking) > 0 {
		return nil, []string{fmt.Sprintf("%q stays co-owned by %s, which are not taken from: an Update owner is taken from only with TakeOverLegacy, an Apply owner only when LegacyManagers names it (do so when it is an earlier manager of this finalizer), a subresource's never",
			f.name, quoteAll(blocking))}
	}
	slices.Sort(from)
	return slices.Compact(from), nil
}

// planRelease returns the former names that are released, and a sentence for each that stays
// because a subresource's entry owns it.
func (f *Finalizer) planRelease(ownership *Ownership, former []string) (release, kept []string) {
	for _, name := range former {
		var blocking []string
		for _, e := range ownership.Entries {
			if e.Fields.Has(FinalizerPath(name)) && !f.isOwnEntry(e) && !f.mayTakeFrom(e, name) {
				blocking = append(blocking, e.String())
			}
		}
		if len(blocking) > 0 {
			kept = append(kept, fmt.Sprintf("former name %q stays: %s own it through a subresource, which is never taken from", name, quoteAll(blocking)))
			continue
		}
		release = append(release, name)
	}
	return release, kept
}

// beforeFirstApply is the Update entry the server records, at the first apply to an object whose
// managedFields were reset, for every field the object had (docs/ssa-semantics.md row 24).
const beforeFirstApply = "before-first-apply"

// Migrate leaves the finalizer on obj owned by its manager alone, under its current name, and
// replaces obj with the server's answer: it is Add without Add's shortcut for an object whose
// finalizer the manager already owns, for objects a controller has co-owned with its legacy writer
// for a while, and for tools that migrate many objects ahead of a release (kubectl ssakit
// migrate). It never puts the finalizer on an object that carries neither it nor a former name:
// when it puts the finalizer on, the apply carries obj's resourceVersion, so an object written
// since obj was read (its former name removed, its deletion begun) is an *ObjectError wrapping
// ErrStale and nothing is written (row 11).
//
// It applies the finalizer (the UID guards the apply), takes its item over from the legacy owners
// the server's answer shows (TakeOverLegacy), and releases the former names that may be released:
// the steps of Add and Remove, which it reuses. A terminating object that carries only former
// names keeps them: the server refuses new finalizers on it. It sends nothing when the plan for
// obj (PlanMigration) changes nothing, and otherwise returns what it did: the takeover it wrote,
// the former names that obj carried and the answer no longer does, and, in Kept, what stays and
// why. Errors are Add's.
func (f *Finalizer) Migrate(ctx context.Context, obj client.Object) (Migration, error) {
	plan, err := f.PlanMigration(obj)
	if err != nil || !plan.Changes() {
		return plan, err
	}
	done := Migration{Object: plan.Object, Apply: plan.Apply, PutOn: plan.PutOn}
	former := f.formerNamesOn(obj)
	err = f.migrate(ctx, obj, plan, &done)
	for _, name := range former {
		if !slices.Contains(obj.GetFinalizers(), name) {
			done.Release = append(done.Release, name)
		}
	}
	if err != nil {
		return done, err
	}
	after, err := f.PlanMigration(obj)
	done.Kept = after.Kept
	return done, err
}

// migrate carries out plan on obj and records the takeover in done. Takeovers and releases are
// planned again from the apply's answer, never from obj as given, whose managedFields may be
// older (the apply may even have released a former name the manager owned already).
func (f *Finalizer) migrate(ctx context.Context, obj client.Object, plan Migration, done *Migration) error {
	guard := ""
	if plan.PutOn {
		if guard = obj.GetResourceVersion(); guard == "" {
			return fmt.Errorf("finalizer %q: %s carries only former names, and putting the finalizer on needs its resourceVersion, so that an object changed since it was read is not given it; pass an object read from the API server", f.name, plan.Object)
		}
	}
	answered, err := f.applyAt(ctx, obj, plan.Object, true, guard)
	if err != nil {
		return err
	}
	if !slices.Contains(answered.GetFinalizers(), f.name) {
		return f.strippedError(plan.Object)
	}
	next, err := f.PlanMigration(obj)
	if err != nil {
		return err
	}
	if len(next.TakeFrom) > 0 {
		took, err := f.takeOver(ctx, obj, plan.Object, []string{f.name}, true)
		if err != nil {
			return err
		}
		if took != nil {
			done.TakeFrom = took.From
		}
	}
	return f.releaseFormerNames(ctx, obj, plan.Object, next.Release)
}
