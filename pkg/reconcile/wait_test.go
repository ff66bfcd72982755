package reconcile

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// A cleanup that waits (here, quietly, on a stale copy), beside another finalizer's cleanup that
// is done in the same reconcile: the reconcile still asks to look at the object again when the
// waiting one said, though the other's step, the last to run, ended without a wait. No event of
// the other's removal would bring the look: the waiting cleanup's object changes no more.
// (Killed mutant: reconciler-loses-a-wait, test/mutants/mutants.txt.)
func TestReconciler_AWaitingCleanupIsLookedAtAgainThoughAnotherFinalizerIsReleased(t *testing.T) {
	got, _, _ := runCleanupScript(t, []string{"stale"}, "ok")

	if d := cmp.Diff([]staleCall{{RequeueAfter: 100 * time.Millisecond}}, got); d != "" {
		t.Errorf("what the reconcile returned (-want +got):\n%s", d)
	}
}
