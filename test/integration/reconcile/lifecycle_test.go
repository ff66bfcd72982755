package reconcile

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/ssakit/ssakit/internal/testcluster"
	"github.com/ssakit/ssakit/pkg/ssa"
)

const cleanupFinalizer = "widgets.test.ssakit.dev/cleanup"

var (
	eventually = 20 * time.Second
	poll       = 20 * time.Millisecond
)

func TestLifecycle_AddsTheFinalizerReconcilesAndCleansUpOnce(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	h := &widgetHandler{}
	startManager(t, ns, managerOptions{}, func(mgr manager.Manager) error {
		return addWidgetController(mgr, controllerName(ns), cleanupFinalizer, h)
	})

	w := createWidget(t, ns, "lifecycle")

	g.Eventually(finalizersOf(t.Context(), w)).WithTimeout(eventually).WithPolling(poll).Should(Equal([]string{cleanupFinalizer}))
	g.Eventually(h.reconcileCount).WithTimeout(eventually).Should(BeNumerically(">=", 1))
	g.Expect(cluster.Client.Delete(t.Context(), w)).To(Succeed())
	g.Eventually(finalizersOf(t.Context(), w)).WithTimeout(eventually).WithPolling(poll).Should(Equal([]string{gone}))
	g.Consistently(func() int { return len(h.cleanupTimes()) }).WithTimeout(time.Second).Should(Equal(1), "cleanup runs")
	// A cleanup done at its first attempt costs the API server no event write: nothing was
	// announced that its end would close.
	g.Consistently(eventsAbout(t.Context(), ns, "lifecycle")).WithTimeout(2*time.Second).Should(BeEmpty(), "events about the object")
}

func TestLifecycle_RetriesAFailingCleanupWithBackoffAndWarningEvents(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	h := &widgetHandler{cleanup: func(_ context.Context, _ *testcluster.Widget, attempt int) (reconcile.Result, error) {
		if attempt <= 2 {
			return reconcile.Result{}, fmt.Errorf("attempt %d: the backing store is unavailable", attempt)
		}
		return reconcile.Result{}, nil
	}}
	startManager(t, ns, managerOptions{}, func(mgr manager.Manager) error {
		return addWidgetController(mgr, controllerName(ns), cleanupFinalizer, h)
	})
	w := createWidget(t, ns, "flaky")
	g.Eventually(finalizersOf(t.Context(), w)).WithTimeout(eventually).WithPolling(poll).Should(Equal([]string{cleanupFinalizer}))

	g.Expect(cluster.Client.Delete(t.Context(), w)).To(Succeed())

	g.Eventually(finalizersOf(t.Context(), w)).WithTimeout(eventually).WithPolling(poll).Should(Equal([]string{gone}))
	attempts := h.cleanupTimes()
	g.Expect(attempts).To(HaveLen(3))
	// The controller's rate limiter doubles from backoffBase: at least 100ms, then 200ms.
	g.Expect(attempts[1].Sub(attempts[0])).To(BeNumerically(">=", backoffBase), "first backoff")
	g.Expect(attempts[2].Sub(attempts[1])).To(BeNumerically(">=", 2*backoffBase), "second backoff")
	g.Eventually(eventsAbout(t.Context(), ns, "flaky")).WithTimeout(eventually).Should(ConsistOf(
		"Warning CleanupFailed", "Warning CleanupFailed", "Normal CleanupSucceeded"))
}

// Rows 9 and 13: the object disappears while its cleanup runs; the removal that follows neither
// recreates it nor fails.
func TestLifecycle_ObjectDeletedByOthersDuringCleanupIsNotResurrected(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	h := &widgetHandler{cleanup: func(ctx context.Context, w *testcluster.Widget, _ int) (reconcile.Result, error) {
		// Someone else strips every finalizer; the object, already terminating, is deleted.
		patch := client.RawPatch("application/merge-patch+json", []byte(`{"metadata":{"finalizers":null}}`))
		return reconcile.Result{}, cluster.Client.Patch(ctx, w.DeepCopyObject().(client.Object), patch, client.FieldOwner("someone-else"))
	}}
	startManager(t, ns, managerOptions{}, func(mgr manager.Manager) error {
		return addWidgetController(mgr, controllerName(ns), cleanupFinalizer, h)
	})
	w := createWidget(t, ns, "vanishing")
	g.Eventually(finalizersOf(t.Context(), w)).WithTimeout(eventually).WithPolling(poll).Should(Equal([]string{cleanupFinalizer}))

	g.Expect(cluster.Client.Delete(t.Context(), w)).To(Succeed())

	g.Eventually(finalizersOf(t.Context(), w)).WithTimeout(eventually).WithPolling(poll).Should(Equal([]string{gone}))
	g.Consistently(finalizersOf(t.Context(), w)).WithTimeout(2*time.Second).WithPolling(100*time.Millisecond).Should(Equal([]string{gone}), "not resurrected")
	g.Expect(h.cleanupTimes()).To(HaveLen(1), "cleanup attempts: no error loop")
	g.Expect(eventsAbout(t.Context(), ns, "vanishing")()).NotTo(ContainElement("Warning CleanupFailed"))
}

func TestLifecycle_CleanupInterruptedByAManagerRestartCompletes(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	started := make(chan struct{})
	interrupted := &widgetHandler{cleanup: func(ctx context.Context, _ *testcluster.Widget, _ int) (reconcile.Result, error) {
		close(started)
		<-ctx.Done() // the manager stops in the middle of the cleanup
		return reconcile.Result{}, ctx.Err()
	}}
	stop := startManager(t, ns, managerOptions{}, func(mgr manager.Manager) error {
		return addWidgetController(mgr, controllerName(ns), cleanupFinalizer, interrupted)
	})
	w := createWidget(t, ns, "restart")
	g.Eventually(finalizersOf(t.Context(), w)).WithTimeout(eventually).WithPolling(poll).Should(Equal([]string{cleanupFinalizer}))
	g.Expect(cluster.Client.Delete(t.Context(), w)).To(Succeed())
	g.Eventually(started).WithTimeout(eventually).Should(BeClosed())

	stop()
	g.Expect(finalizersOf(t.Context(), w)()).To(Equal([]string{cleanupFinalizer}), "the finalizer stays while no manager runs")
	resumed := &widgetHandler{}
	startManager(t, ns, managerOptions{}, func(mgr manager.Manager) error {
		return addWidgetController(mgr, controllerName(ns), cleanupFinalizer, resumed)
	})

	g.Eventually(finalizersOf(t.Context(), w)).WithTimeout(eventually).WithPolling(poll).Should(Equal([]string{gone}))
	g.Expect(resumed.cleanupTimes()).To(HaveLen(1))
}

// Row 3: two controllers, each with its own finalizer manager, on one object. Neither removes the
// other's finalizer; the object goes once both cleanups are done.
func TestLifecycle_TwoControllersKeepTheirOwnFinalizers(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	release := make(chan struct{})
	alpha := &widgetHandler{}
	beta := &widgetHandler{cleanup: func(ctx context.Context, _ *testcluster.Widget, _ int) (reconcile.Result, error) {
		select {
		case <-release:
			return reconcile.Result{}, nil
		case <-ctx.Done():
			return reconcile.Result{}, ctx.Err()
		}
	}}
	startManager(t, ns, managerOptions{}, func(mgr manager.Manager) error {
		return errors.Join(
			addWidgetController(mgr, "alpha-"+controllerName(ns), "alpha.test.ssakit.dev/cleanup", alpha),
			addWidgetController(mgr, "beta-"+controllerName(ns), "beta.test.ssakit.dev/cleanup", beta),
		)
	})
	w := createWidget(t, ns, "shared")
	g.Eventually(finalizersOf(t.Context(), w)).WithTimeout(eventually).WithPolling(poll).Should(ConsistOf("alpha.test.ssakit.dev/cleanup", "beta.test.ssakit.dev/cleanup"))

	g.Expect(cluster.Client.Delete(t.Context(), w)).To(Succeed())

	g.Eventually(finalizersOf(t.Context(), w)).WithTimeout(eventually).WithPolling(poll).Should(Equal([]string{"beta.test.ssakit.dev/cleanup"}), "alpha done, beta still cleaning up")
	live, ok, err := getWidget(t.Context(), w)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(ok).To(BeTrue())
	o, err := ssa.ParseOwnership(live.ManagedFields)
	g.Expect(err).NotTo(HaveOccurred())
	diff(t, "owners of beta's finalizer", []string{ssa.FinalizerFieldOwner("beta-"+controllerName(ns), "beta.test.ssakit.dev/cleanup")}, o.Owners(ssa.FinalizerPath("beta.test.ssakit.dev/cleanup")))
	close(release)
	g.Eventually(finalizersOf(t.Context(), w)).WithTimeout(eventually).WithPolling(poll).Should(Equal([]string{gone}))
	g.Expect(alpha.cleanupTimes()).To(HaveLen(1))
	g.Expect(beta.cleanupTimes()).To(HaveLen(1))
}

// A cleanup that must wait (an external resource still being deleted) returns a Result: it is
// looked at again after RequeueAfter, with no error, no backoff and no Warning; one Normal event
// says the waiting started.
func TestLifecycle_ACleanupThatWaitsIsLookedAtAgainWithoutErrorOrWarning(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	const wait = 300 * time.Millisecond
	h := &widgetHandler{cleanup: func(_ context.Context, _ *testcluster.Widget, attempt int) (reconcile.Result, error) {
		if attempt < 3 {
			return reconcile.Result{RequeueAfter: wait}, nil // the external resource is still going
		}
		return reconcile.Result{}, nil
	}}
	name := controllerName(ns)
	startManager(t, ns, managerOptions{}, func(mgr manager.Manager) error {
		return addWidgetController(mgr, name, cleanupFinalizer, h)
	})
	w := createWidget(t, ns, "slow-release")
	g.Eventually(finalizersOf(t.Context(), w)).WithTimeout(eventually).WithPolling(poll).Should(Equal([]string{cleanupFinalizer}))
	g.Eventually(h.reconcileCount).WithTimeout(eventually).Should(BeNumerically(">=", 1))
	// The reconciles of the object's creation are over (a status apply from a stale copy among
	// them may fail and be retried) before the errors are counted.
	g.Eventually(func() bool {
		count := h.reconcileCount()
		time.Sleep(500 * time.Millisecond)
		return h.reconcileCount() == count
	}).WithTimeout(eventually).Should(BeTrue(), "the controller settles")
	errorsBefore := testcluster.MetricSum(t, "controller_runtime_reconcile_errors_total", name)

	g.Expect(cluster.Client.Delete(t.Context(), w)).To(Succeed())

	g.Eventually(finalizersOf(t.Context(), w)).WithTimeout(eventually).WithPolling(poll).Should(Equal([]string{gone}))
	attempts := h.cleanupTimes()
	g.Expect(attempts).To(HaveLen(3), "cleanup calls")
	// An event about the object may bring a look sooner; without one, each waits RequeueAfter.
	g.Expect(attempts[2].Sub(attempts[0])).To(BeNumerically(">=", wait), "the cleanup was looked at again without waiting")
	g.Eventually(eventsAbout(t.Context(), ns, "slow-release")).WithTimeout(eventually).Should(ConsistOf("Normal CleanupWaiting", "Normal CleanupSucceeded"))
	g.Expect(testcluster.MetricSum(t, "controller_runtime_reconcile_errors_total", name)).To(Equal(errorsBefore), "reconcile errors while cleaning up")
}
