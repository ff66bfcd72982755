package reconcile

import (
	"context"
	"testing"

	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/ssakit/ssakit/internal/testcluster"
	ssareconcile "github.com/ssakit/ssakit/pkg/reconcile"
	"github.com/ssakit/ssakit/pkg/ssa"
)

// Cleanups decided from a stale view of the object, as a replica whose cache lags sees it. Two
// steps of one controller stand for two replicas (or one controller before and after a restart):
// neither remembers what the other cleaned up, so only the live object can tell them. Each test
// kills mutants of test/mutants/mutants.txt that the rest of the suites let through.

// twoReplicas returns two steps of one controller and finalizer, each reading the live object
// through the API server.
func twoReplicas(t *testing.T, ns string) (a, b *ssareconcile.Step) {
	t.Helper()
	g := NewWithT(t)
	for _, s := range []**ssareconcile.Step{&a, &b} {
		step, err := ssareconcile.NewStep(cluster.Client, controllerName(ns), cleanupFinalizer, ssareconcile.StepOptions{FinalizerOptions: ssa.FinalizerOptions{APIReader: cluster.Client}})
		g.Expect(err).NotTo(HaveOccurred())
		*s = step
	}
	return a, b
}

// countingCleanup counts its runs.
func countingCleanup(runs *int) func(context.Context) (reconcile.Result, error) {
	return func(context.Context) (reconcile.Result, error) { *runs++; return reconcile.Result{}, nil }
}

// One replica cleaned the object up and removed its finalizer; another finalizer keeps the object
// terminating. The other replica's cache still shows the finalizer: its step reads the live
// object before the cleanup, and does not run it again. (Killed mutant:
// step-trusts-the-cache-before-cleanup.)
func TestStep_ACopyThatLagsBehindAnotherReplicasRemovalRunsNoCleanup(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	a, b := twoReplicas(t, ns)
	w := createWidget(t, ns, "removed-by-a")
	staleCopyOfADeletedWidget(t, a, w)
	terminating, _, err := getWidget(t.Context(), w)
	g.Expect(err).NotTo(HaveOccurred())
	lagging := terminating.DeepCopyObject().(*testcluster.Widget) // terminating, carrying the finalizer
	runs := 0
	outcome, _, err := a.Handle(t.Context(), terminating, countingCleanup(&runs))
	g.Expect(outcome, err).To(Equal(ssareconcile.Released), "replica a's cleanup")

	outcome, _, err = b.Handle(t.Context(), lagging, countingCleanup(&runs))

	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(outcome).To(Equal(ssareconcile.NotHeld), "replica b, on a copy that still shows the finalizer")
	g.Expect(runs).To(Equal(1), "cleanups run")
	g.Expect(finalizersOf(t.Context(), w)()).To(Equal([]string{"other.example.com/keep"}))
}

// Rows 9 and 10: one replica cleaned the object up and released it; the object is gone, and a new
// one was made under its name, which carries the finalizer. The other replica's cache still holds
// the old object, terminating, with the finalizer: the live object under the name is not that
// object, so its cleanup does not run again, and the successor is not written. (Killed mutants:
// isonlive-ignores-uid, step-trusts-the-cache-before-cleanup.)
func TestStep_AnOldTerminatingCopyOfAReplacedObjectRunsNoCleanup(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	a, b := twoReplicas(t, ns)
	w := createWidget(t, ns, "replaced")
	outcome, _, err := a.Handle(t.Context(), w, nil)
	g.Expect(outcome, err).To(Equal(ssareconcile.Proceed))
	g.Expect(cluster.Client.Delete(t.Context(), w)).To(Succeed())
	terminating, _, err := getWidget(t.Context(), w)
	g.Expect(err).NotTo(HaveOccurred())
	old := terminating.DeepCopyObject().(*testcluster.Widget)
	runs := 0
	outcome, _, err = a.Handle(t.Context(), terminating, countingCleanup(&runs))
	g.Expect(outcome, err).To(Equal(ssareconcile.Released), "replica a's cleanup")
	g.Expect(finalizersOf(t.Context(), w)()).To(Equal([]string{gone}))
	successor := createWidget(t, ns, "replaced")
	outcome, _, err = a.Handle(t.Context(), successor, nil)
	g.Expect(outcome, err).To(Equal(ssareconcile.Proceed), "replica a adds the finalizer to the successor")

	outcome, _, err = b.Handle(t.Context(), old.DeepCopyObject().(*testcluster.Widget), countingCleanup(&runs))

	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(outcome).To(Equal(ssareconcile.NotHeld), "replica b, on the old object's terminating copy")
	g.Expect(runs).To(Equal(1), "cleanups run")
	after, _, err := getWidget(t.Context(), successor)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(after.ResourceVersion).To(Equal(successor.ResourceVersion), "the successor was written")
}
