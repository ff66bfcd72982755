package proof

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// The generator is guided: uniform random steps seldom reach the states where a cleanup decided
// from a stale view goes wrong (of 4,000 steps, 38 were cleanup attempts), so scenarios, short
// scripted runs of steps that lead into one of them, are mixed into the random steps. A
// scenario's steps are ordinary actions: a sequence replays from its seed and shrinks step by
// step as before.

// scenarioOdds is the chance, out of scenarioIn, that the next draw is a whole scenario instead
// of one random step: about half the steps of a sequence are then scenario steps.
const (
	scenarioOdds = 1
	scenarioIn   = 6
)

// scenario writes the steps of one scripted run on the Widget w, with the rng's choices of
// replicas and of what the cleanups answer.
type scenario func(rng *rand.Rand, w int) []action

// scenarios lead into the deletion-phase states the summary counts (stateTally).
var scenarios = []scenario{removalSeenByAnother, replacedUnderItsName, waitingCleanup}

// guidedSequence draws a sequence of n steps: random actions with scenarios mixed in, the last one
// cut at n.
func guidedSequence(rng *rand.Rand, n int) []action {
	var sequence []action
	for len(sequence) < n {
		if rng.IntN(scenarioIn) < scenarioOdds {
			s := scenarios[rng.IntN(len(scenarios))]
			sequence = append(sequence, s(rng, widgets[rng.IntN(len(widgets))])...)
			continue
		}
		sequence = append(sequence, randomAction(rng))
	}
	return sequence[:n]
}

// script builds a scenario's steps, and gives a reconcile the view of the object as it was after
// an earlier step of the scenario.
type script struct {
	rng   *rand.Rand
	w     int
	steps []action
}

// do appends a step of the user or of the other controller on the scenario's Widget; it returns
// the step's index.
func (s *script) do(op string) int {
	s.steps = append(s.steps, action{Op: op, Object: s.w, Value: []string{"red", "green", "blue"}[s.rng.IntN(3)]})
	return len(s.steps) - 1
}

// reconcile appends a reconcile by the replica with cache kind, from its cache caught up with the
// live object (after < 0) or holding the object as it was right after step after; it returns
// the step's index.
func (s *script) reconcile(kind string, after int, answer string) int {
	a := action{Op: opReconcile, Object: s.w, View: kind, Value: answer}
	if after >= 0 {
		// At step k the snapshot of age g is the object after step k-g-1 (snapshot).
		a.Age = len(s.steps) - after - 1
	}
	s.steps = append(s.steps, a)
	return len(s.steps) - 1
}

// replica draws a replica's cache kind, other than those in not.
func (s *script) replica(not ...string) string {
	left := slices.DeleteFunc(slices.Clone(caches), func(k string) bool { return slices.Contains(not, k) })
	return left[s.rng.IntN(len(left))]
}

// live draws a cache kind among those that keep the lifecycle manager's managedFields entry: from
// such a copy, an add sees the finalizer owned and sends nothing, so the reconcile proceeds on the
// copy alone.
func (s *script) live() string { return []string{cacheFull, cacheTrimmed}[s.rng.IntN(2)] }

// removalSeenByAnother: one replica cleans up and releases a Widget, then another reconciles it
// from a cache that still holds it terminating with the finalizer (the live read must stop a
// second cleanup), and the first reconciles it from a cache that has not seen its own removal, or
// even the deletion (its memory of what it released must stop it).
func removalSeenByAnother(rng *rand.Rand, w int) []action {
	s := &script{rng: rng, w: w}
	s.do("user creates again")
	x := s.live()
	added := s.reconcile(x, -1, cleanupDone)
	if rng.IntN(2) == 0 {
		s.do("other applies its finalizer") // keeps the Widget after the release
	}
	deleted := s.do("user deletes")
	s.reconcile(x, -1, cleanupDone)
	y := s.replica(x)
	s.reconcile(y, deleted, cleanupDone)
	if rng.IntN(2) == 0 {
		s.reconcile(x, deleted, cleanupDone)
	}
	s.reconcile(x, added, cleanupDone)
	s.reconcile(s.replica(x, y), deleted, cleanupAnswers[rng.IntN(len(cleanupAnswers))])
	return s.steps
}

// replacedUnderItsName: a terminating Widget goes (its finalizer released by a replica, or
// stripped by the user), a new one is created under its name and gets the finalizer, and a
// replica that still holds the old terminating copy reconciles (the live read must tell the new
// object from the old).
func replacedUnderItsName(rng *rand.Rand, w int) []action {
	s := &script{rng: rng, w: w}
	s.do("user creates again")
	x := s.replica()
	s.reconcile(x, -1, cleanupDone)
	deleted := s.do("user deletes")
	released := ""
	if rng.IntN(2) == 0 {
		s.reconcile(x, -1, cleanupDone)
		released = x
	} else {
		s.do("user replaces dropping every finalizer")
	}
	s.do("user creates again")
	s.reconcile(s.replica(), -1, cleanupDone)
	s.reconcile(s.replica(released), deleted, cleanupAnswers[rng.IntN(len(cleanupAnswers))])
	if rng.IntN(2) == 0 {
		s.do("user deletes") // the new one is terminating too, with the finalizer
		s.reconcile(s.replica(released), deleted, cleanupDone)
	}
	return s.steps
}

// waitingCleanup: a cleanup waits, another replica looks at the Widget meanwhile (caught up or
// lagging), a third finishes it, and the one that waited reconciles from the terminating copy it
// held.
func waitingCleanup(rng *rand.Rand, w int) []action {
	s := &script{rng: rng, w: w}
	s.do("user creates again")
	x := s.replica()
	s.reconcile(x, -1, cleanupDone)
	s.do("user deletes")
	waited := s.reconcile(x, -1, cleanupWaits)
	y := s.replica(x)
	after := -1
	if rng.IntN(2) == 0 {
		after = waited - 1
	}
	s.reconcile(y, after, []string{cleanupWaits, cleanupFails}[rng.IntN(2)])
	s.reconcile(s.replica(x), -1, cleanupDone)
	s.reconcile(x, waited, cleanupDone)
	return s.steps
}

// stateTally counts how often the running controller's reconciles reached each deletion-phase
// state, named as issue 26 names them.
type stateTally struct {
	// laggingTerminating: a replica held a terminating Widget that is not the live one.
	laggingTerminating int
	// replaced: a replica held a terminating Widget whose name another Widget holds now.
	replaced int
	// removalSeen: a replica held a Widget carrying the finalizer that another replica had
	// removed.
	removalSeen int
	// ownRemoval: a replica held a Widget carrying the finalizer that it had removed itself.
	ownRemoval int
	// waited: a cleanup said it is not done yet.
	waited int
}

func (t stateTally) String() string {
	return fmt.Sprintf("states reached: %d terminating objects seen by lagging replicas, %d objects replaced under their name while a replica held the old terminating copy, "+
		"%d removals by one replica seen by another, %d removals by a replica not yet in its own cache, %d cleanups that waited",
		t.laggingTerminating, t.replaced, t.removalSeen, t.ownRemoval, t.waited)
}

// stateCount is how many times the state name was reached.
type stateCount struct {
	name string
	n    int
}

// least returns the state reached the fewest times.
func (t stateTally) least() stateCount {
	return slices.MinFunc([]stateCount{
		{"terminating objects seen by lagging replicas", t.laggingTerminating},
		{"objects replaced under their name while a replica held the old terminating copy", t.replaced},
		{"removals by one replica seen by another", t.removalSeen},
		{"removals by a replica not yet in its own cache", t.ownRemoval},
		{"cleanups that waited", t.waited},
	}, func(a, b stateCount) int { return a.n - b.n })
}

// reached counts the states a reconcile by replica met: view is the Widget it held, before the
// live one, releasedBy the replica that released view's UID ("" for none).
func (t *stateTally) reached(replica string, view, before *unstructured.Unstructured, releasedBy string) {
	if view == nil {
		return
	}
	terminating := !view.GetDeletionTimestamp().IsZero()
	if terminating && (before == nil || before.GetResourceVersion() != view.GetResourceVersion()) {
		t.laggingTerminating++
	}
	if terminating && before != nil && before.GetUID() != view.GetUID() {
		t.replaced++
	}
	if slices.Contains(view.GetFinalizers(), lifecycleFinal) {
		switch releasedBy {
		case "":
		case replica:
			t.ownRemoval++
		default:
			t.removalSeen++
		}
	}
}
