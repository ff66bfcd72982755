package proof

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ssakit/ssakit/internal/testcluster"
	ssareconcile "github.com/ssakit/ssakit/pkg/reconcile"
	"github.com/ssakit/ssakit/pkg/ssa"
)

// run is one sequence being played in a namespace of its own.
type run struct {
	ns             string
	first, second  *ssa.Finalizer
	status         *ssareconcile.StatusApplier
	rec            *testcluster.Recorder
	history        [][]*unstructured.Unstructured // the objects after each step; nil when absent
	checks         int
	applierManager string
	lc             *lifecycle
}

// TestProof_OwnershipInvariantsHoldOnRandomSequences plays PROOF_SEQUENCES random sequences of
// PROOF_STEPS actions and checks, after every step:
//
//	(a) each finalizer manager owns nothing but its own metadata.finalizers item;
//	(b) an ssakit call changed no field outside metadata.finalizers and status;
//	(c) an ssakit call lost or resurrected no other finalizer (another actor's, or the other one
//	    of the same controller);
//	(d) an ssakit call never changed metadata.generation;
//	(e) an ssakit call never recreated a deleted object and never wrote to a same-named successor;
//	(f) ssakit's managers and the user's own no field in common;
//	(g) an ssakit call that returned success has its intent on the live object, unless it sent
//	    nothing because the object it was given showed the intent done (Add is documented to be
//	    as fresh as that object); for a reconcile, the intent is judged on the object it read, as
//	    lifecycleIntent of that object, not of the live one.
//
// One of the actors is a running controller built with reconcile.New, whose finalizer
// (lifecycleFinal) has a field manager of its own: its reconcile of one Widget, from the object
// its cache holds, is an ssakit call like the others, checked for (b) to (g); its manager is in
// (a) and (f). Its reconciles also keep:
//
//	(h) the cleanup runs only on a terminating object that still carries the finalizer, and
//	    once it completed for a UID it runs again only if the removal after it failed;
//	(i) the finalizer is never put on a terminating object, and never removed before a cleanup
//	    completed for that UID;
//	(j) a replica never goes on to reconcile an object it cleaned up and released, from a copy
//	    its cache still holds (Step.Handle: Released).
//
// The sequences are random steps with scenarios mixed in (guided_test.go), short scripted runs
// that lead into the deletion-phase states where a cleanup decided from a stale view goes wrong.
// A second line counts what the controller did, and a third how often its reconciles reached
// each of those states (every sequence played, shrinking included), so a run shows that its
// lifecycle was exercised; a run of 100 sequences or more that reaches a state fewer than once
// in 20 sequences fails.
func TestProof_OwnershipInvariantsHoldOnRandomSequences(t *testing.T) {
	prove(t, startLifecycle(t), envInt(t, "PROOF_SEQUENCES", 200))
}

// prove plays sequences guided sequences of PROOF_STEPS steps, from PROOF_SEED (default: the
// time), with the running controller lc, and reports the first violation, shrunk, and the
// summary lines.
func prove(t *testing.T, lc *lifecycle, sequences int) {
	steps := envInt(t, "PROOF_STEPS", 20)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("PROOF_SEED"); s != "" {
		parsed, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("PROOF_SEED=%q: %v", s, err)
		}
		seed = parsed
	}
	total := summary{}
	for i := range sequences {
		sequenceSeed := seed + uint64(i)
		sequence := guidedSequence(rand.New(rand.NewPCG(sequenceSeed, 0)), steps)
		checks, at, err := play(t, lc, sequence)
		total.sequences++
		total.steps += min(at+1, steps)
		total.checks += checks
		if err == nil {
			continue
		}
		if _, ok := errors.AsType[*readError](err); ok {
			t.Fatalf("the sequence of seed %d, at step %d: %v", sequenceSeed, at+1, err)
		}
		total.violations++
		shrunk, shrunkErr := shrink(t, lc, sequence[:at+1])
		t.Errorf("violation in the sequence of seed %d, at step %d: %v\nreplay: PROOF_SEQUENCES=1 PROOF_SEED=%d go test -run %s ./test/integration/proof\nshrunk to %d steps, which still break with: %v\n%s",
			sequenceSeed, at+1, err, sequenceSeed, t.Name(), len(shrunk), shrunkErr, numbered(shrunk))
		break
	}
	for _, line := range []string{
		fmt.Sprintf("%d sequences, %d steps, %d invariant checks, %d violations (first seed %d)", total.sequences, total.steps, total.checks, total.violations, seed),
		lc.tally.String(), lc.states.String(), lc.lag(),
	} {
		t.Logf("proof: %s", line)
		fmt.Printf("proof: %s\n", line)
	}
	// A guided run that seldom reaches a state proves little about it: the scenarios no longer
	// lead where they should (a change of the generator, or of what a step does).
	if least := lc.states.least(); total.violations == 0 && total.sequences >= minGuidedSequences && least.n < total.sequences/20 {
		t.Errorf("%d sequences reached %s %d times, fewer than one in 20 sequences: the guided generator (guided_test.go) no longer leads there", total.sequences, least.name, least.n)
	}
}

// minGuidedSequences is the smallest run whose state counts are judged.
const minGuidedSequences = 100

type summary struct{ sequences, steps, checks, violations int }

func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

func numbered(sequence []action) string {
	var b strings.Builder
	for i, a := range sequence {
		fmt.Fprintf(&b, "  %2d. %s\n", i+1, a)
	}
	return b.String()
}

// play plays sequence in a new namespace and returns the invariant checks made and, at the first
// violation, the step and what broke.
func play(t *testing.T, lc *lifecycle, sequence []action) (checks, at int, err error) {
	ctx := t.Context()
	r := newRun(t, lc)
	for i, a := range sequence {
		if err := r.step(ctx, a); err != nil {
			return r.checks, i, err
		}
	}
	return r.checks, len(sequence) - 1, nil
}

// shrink removes steps from a breaking sequence, one at a time, as long as what is left still
// breaks, and returns the shortest it found with its error.
func shrink(t *testing.T, lc *lifecycle, sequence []action) ([]action, error) {
	_, _, lastErr := play(t, lc, sequence)
	for changed := true; changed; {
		changed = false
		for i := range slices.Backward(sequence) {
			candidate := slices.Delete(slices.Clone(sequence), i, i+1)
			if len(candidate) == 0 {
				continue
			}
			if _, at, err := play(t, lc, candidate); err != nil {
				sequence, lastErr, changed = candidate[:at+1], err, true
				break
			}
		}
	}
	return sequence, lastErr
}

func newRun(t *testing.T, lc *lifecycle) *run {
	t.Helper()
	ns := cluster.Namespace(t)
	c, rec := cluster.RecordingClient(t)
	first, err := ssa.NewFinalizer(c, controller, firstFinal, ssa.FinalizerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	second, err := ssa.NewFinalizer(c, controller, secondFinal, ssa.FinalizerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := &run{ns: ns, first: first, second: second, rec: rec, applierManager: controller, lc: lc,
		status: ssareconcile.NewStatusApplier(c, controller, ssareconcile.StatusApplierOptions{})}
	for _, o := range objects {
		if err := cluster.Client.Create(t.Context(), r.userContent(o, "blue", ""), client.FieldOwner(userCreate)); err != nil {
			t.Fatalf("creating %s: %v", o.name, err)
		}
	}
	all, err := r.readAll(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	r.history = append(r.history, all)
	return r
}

// readAll reads every object live, nil for one that does not exist.
func (r *run) readAll(ctx context.Context) ([]*unstructured.Unstructured, error) {
	all := make([]*unstructured.Unstructured, len(objects))
	for i := range objects {
		var err error
		if all[i], err = r.read(ctx, i); err != nil {
			return nil, err
		}
	}
	return all, nil
}

// readWithin bounds the retries of a live read that fails for another reason than NotFound.
const readWithin = 10 * time.Second

// readError is a live read of the proof's own that failed: the step cannot be judged, and the
// test stops instead of reporting a violation.
type readError struct {
	name string
	err  error
}

func (e *readError) Error() string { return fmt.Sprintf("reading %s live: %v", e.name, e.err) }

func (e *readError) Unwrap() error { return e.err }

// read reads object i live: nil when it does not exist. Any other error is retried for readWithin
// (an object that could not be read is not an object that is gone), then returned as a
// *readError.
func (r *run) read(ctx context.Context, i int) (*unstructured.Unstructured, error) {
	for deadline := time.Now().Add(readWithin); ; time.Sleep(50 * time.Millisecond) {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(objects[i].gvk)
		err := cluster.Client.Get(ctx, client.ObjectKey{Namespace: r.ns, Name: objects[i].name}, u)
		switch {
		case err == nil:
			return u, nil
		case apierrors.IsNotFound(err):
			return nil, nil
		case time.Now().After(deadline) || ctx.Err() != nil:
			return nil, &readError{name: objects[i].name, err: err}
		}
	}
}

// snapshot is object i as it was age steps ago (the oldest recorded when the run is younger).
func (r *run) snapshot(i, age int) *unstructured.Unstructured {
	return r.history[max(len(r.history)-1-age, 0)][i]
}

// step carries out a and checks the invariants.
func (r *run) step(ctx context.Context, a action) error {
	before, err := r.read(ctx, a.Object)
	if err != nil {
		return err
	}
	var (
		callErr error
		intent  func(after *unstructured.Unstructured) bool
		// shown is whether the object the call was given (the reconcile read) showed its intent
		// done: only then may it send nothing (g).
		shown bool
		sent  bool
		view  *unstructured.Unstructured
		// lifecycleHeld is invariants (h) and (i), for the running controller's reconciles.
		lifecycleHeld func(after *unstructured.Unstructured) error
	)
	switch {
	case a.Op == opReconcile:
		c := r.reconcile(ctx, a, before)
		view, intent, shown, callErr, sent, lifecycleHeld = c.view, c.intent, c.shown, c.err, c.sent, c.held
	case isSSAKit(a.Op):
		view = r.viewOf(a, before)
		if view != nil {
			r.rec.Reset()
			intent, callErr = r.ssakit(ctx, a, view)
			sent = len(r.rec.Writes()) > 0
			shown = intent != nil && intent(view)
		}
	default:
		r.userOrOther(ctx, a, before)
	}
	after, err := r.read(ctx, a.Object)
	if err != nil {
		return err
	}
	all, err := r.readAll(ctx)
	if err != nil {
		return err
	}
	r.history = append(r.history, all)

	// (a) and (f), on every object after every step.
	for i, live := range r.history[len(r.history)-1] {
		if live == nil {
			continue
		}
		r.checks += 2
		if err := r.finalizerManagersOwnOnlyTheirItem(live); err != nil {
			return fmt.Errorf("(a) %s: %w", objects[i].name, err)
		}
		if err := disjoint(live); err != nil {
			return fmt.Errorf("(f) %s: %w", objects[i].name, err)
		}
	}
	if err := r.callHeld(a, before, after, view, callErr, intent, sent, shown); err != nil {
		return err
	}
	if lifecycleHeld != nil {
		return lifecycleHeld(after)
	}
	return nil
}

// callHeld is invariants (b) to (e) and (g) for an ssakit call made with view (none when view is
// nil: the call was not made, or the controller's cache had no such object).
func (r *run) callHeld(a action, before, after, view *unstructured.Unstructured, callErr error, intent func(*unstructured.Unstructured) bool, sent, shown bool) error {
	if view == nil {
		return nil
	}
	// (e): a call on an object that is gone, or whose name another object holds now.
	r.checks++
	switch {
	case before == nil && after != nil:
		return fmt.Errorf("(e) %s (%s) recreated %s", a.Op, outcome(callErr), objects[a.Object].name)
	case before != nil && before.GetUID() != view.GetUID():
		if after == nil || after.GetResourceVersion() != before.GetResourceVersion() {
			return fmt.Errorf("(e) %s (%s) with an object of uid %s wrote the successor %s", a.Op, outcome(callErr), view.GetUID(), before.GetUID())
		}
		return nil
	case before == nil:
		return nil
	}
	if after == nil {
		// Released the last finalizer of a terminating object, which the server then deleted.
		return r.intentHeld(a, callErr, intent, sent, shown, nil)
	}
	r.checks += 3
	if d := outsideFinalizersAndStatus(before, after); d != "" {
		return fmt.Errorf("(b) %s (%s) changed fields outside metadata.finalizers and status: %s", a.Op, outcome(callErr), d)
	}
	if lost, resurrected := otherFinalizers(a, before, after); len(lost)+len(resurrected) > 0 {
		return fmt.Errorf("(c) %s (%s): finalizers lost %v, resurrected %v", a.Op, outcome(callErr), lost, resurrected)
	}
	if before.GetGeneration() != after.GetGeneration() {
		return fmt.Errorf("(d) %s (%s) changed generation from %d to %d", a.Op, outcome(callErr), before.GetGeneration(), after.GetGeneration())
	}
	return r.intentHeld(a, callErr, intent, sent, shown, after)
}

// outcome renders an ssakit call's result for a violation's message.
func outcome(err error) string {
	if err == nil {
		return "returned success"
	}
	return "returned " + err.Error()
}

// intentHeld is invariant (g): a call that sent nothing is excused only when the object it was
// given showed its intent done (shown).
func (r *run) intentHeld(a action, callErr error, intent func(*unstructured.Unstructured) bool, sent, shown bool, after *unstructured.Unstructured) error {
	r.checks++
	if callErr != nil || intent == nil || intent(after) || (!sent && shown) {
		return nil
	}
	why := ""
	if !sent {
		why = "; it sent nothing, though the object it was given did not show its intent done"
	}
	return fmt.Errorf("(g) %s returned success, but its intent is not on the live object: finalizers %v%s", a.Op, finalizersOf(after), why)
}

func finalizersOf(u *unstructured.Unstructured) []string {
	if u == nil {
		return nil
	}
	return u.GetFinalizers()
}

// ssakit makes a's ssakit call with view, and returns its error and its intent.
func (r *run) ssakit(ctx context.Context, a action, view *unstructured.Unstructured) (intent func(*unstructured.Unstructured) bool, err error) {
	switch a.Op {
	case "ssakit adds first":
		_, err := r.first.Add(ctx, view)
		return carrying(firstFinal, true), err
	case "ssakit adds second":
		_, err := r.second.Add(ctx, view)
		return carrying(secondFinal, true), err
	case "ssakit removes first":
		_, err := r.first.Remove(ctx, view)
		return carrying(firstFinal, false), err
	case "ssakit removes second":
		_, err := r.second.Remove(ctx, view)
		return carrying(secondFinal, false), err
	case "ssakit applies status":
		if !objects[a.Object].isWidget() {
			return nil, nil
		}
		return func(after *unstructured.Unstructured) bool {
			if after == nil {
				return true
			}
			phase, _, _ := unstructured.NestedString(after.Object, "status", "phase")
			return phase == a.Value
		}, r.status.Apply(ctx, view, map[string]any{"phase": a.Value})
	}
	return nil, fmt.Errorf("unknown ssakit operation %q", a.Op)
}

// finalizerManagersOwnOnlyTheirItem is invariant (a), with the status manager's share: it owns
// status only, on the status subresource.
func (r *run) finalizerManagersOwnOnlyTheirItem(live *unstructured.Unstructured) error {
	return ownOnlyTheirShare(live, map[string]string{r.first.FieldOwner(): r.first.Name(), r.second.FieldOwner(): r.second.Name(), lifecycleManager: lifecycleFinal}, r.applierManager)
}

// ownOnlyTheirShare checks that each manager of finalizers (manager to finalizer name) owns
// nothing but its finalizer's item on the main resource, and that statusManager owns status only,
// on the status subresource.
func ownOnlyTheirShare(live metav1.Object, finalizers map[string]string, statusManager string) error {
	ownership, err := ssa.ParseOwnership(live.GetManagedFields())
	if err != nil {
		return err
	}
	for _, e := range ownership.Entries {
		if name, ok := finalizers[e.Manager]; ok {
			if paths := testcluster.FieldPaths(e.Fields); e.Subresource != "" || len(paths) != 1 || paths[0] != ssa.FinalizerPath(name).String() {
				return fmt.Errorf("the manager of %s owns %v (%s)", name, paths, e)
			}
		}
		if e.Manager == statusManager {
			for _, p := range testcluster.FieldPaths(e.Fields) {
				if e.Subresource != "status" || !strings.HasPrefix(p, ".status") {
					return fmt.Errorf("the status manager owns %s (%s)", p, e)
				}
			}
		}
	}
	return nil
}

// disjoint is invariant (f): no field is owned by one of ssakit's managers and one of the user's.
func disjoint(live *unstructured.Unstructured) error {
	return disjointOwners(live, []string{controller, ssa.FinalizerFieldOwner(controller, firstFinal), ssa.FinalizerFieldOwner(controller, secondFinal), lifecycleManager}, userManagers)
}

// disjointOwners checks that no field of live is owned both by one of ours and one of users.
func disjointOwners(live metav1.Object, ours, users []string) error {
	ownership, err := ssa.ParseOwnership(live.GetManagedFields())
	if err != nil {
		return err
	}
	for _, shared := range ownership.Overlaps() {
		mine := slices.ContainsFunc(shared.Managers, func(m string) bool { return slices.Contains(ours, m) })
		theirs := slices.ContainsFunc(shared.Managers, func(m string) bool { return slices.Contains(users, m) })
		if mine && theirs {
			return fmt.Errorf("%s is owned by %v", shared.Path, shared.Managers)
		}
	}
	return nil
}

// outsideFinalizersAndStatus describes what differs between before and after besides
// metadata.finalizers, status, resourceVersion and managedFields (invariant b), or "".
func outsideFinalizersAndStatus(before, after *unstructured.Unstructured) string {
	strip := func(u *unstructured.Unstructured) map[string]any {
		c := u.DeepCopy()
		unstructured.RemoveNestedField(c.Object, "status")
		unstructured.RemoveNestedField(c.Object, "metadata", "finalizers")
		unstructured.RemoveNestedField(c.Object, "metadata", "resourceVersion")
		unstructured.RemoveNestedField(c.Object, "metadata", "managedFields")
		return c.Object
	}
	b, a := strip(before), strip(after)
	if equality.Semantic.DeepEqual(b, a) {
		return ""
	}
	return fmt.Sprintf("before %v, after %v", b, a)
}

// otherFinalizers is invariant (c): the finalizers besides the one a acts on, lost or added.
func otherFinalizers(a action, before, after *unstructured.Unstructured) (lost, resurrected []string) {
	own := map[string]string{"ssakit adds first": firstFinal, "ssakit removes first": firstFinal, "ssakit adds second": secondFinal, "ssakit removes second": secondFinal, opReconcile: lifecycleFinal}[a.Op]
	b, f := before.GetFinalizers(), after.GetFinalizers()
	for _, name := range b {
		if name != own && !slices.Contains(f, name) {
			lost = append(lost, name)
		}
	}
	for _, name := range f {
		if name != own && !slices.Contains(b, name) {
			resurrected = append(resurrected, name)
		}
	}
	return lost, resurrected
}
