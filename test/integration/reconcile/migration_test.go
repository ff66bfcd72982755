package reconcile

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/ssakit/ssakit/internal/testcluster"
	ssareconcile "github.com/ssakit/ssakit/pkg/reconcile"
	"github.com/ssakit/ssakit/pkg/ssa"
)

// finalizerOwners returns the managers that own finalizer on the live widget.
func finalizerOwners(t *testing.T, w *testcluster.Widget, finalizer string) func() []string {
	return func() []string {
		live, ok, err := getWidget(t.Context(), w)
		if err != nil || !ok {
			return []string{fmt.Sprintf("not readable: %v", err)}
		}
		ownership, err := ssa.ParseOwnership(live.GetManagedFields())
		if err != nil {
			return []string{err.Error()}
		}
		return ownership.Owners(ssa.FinalizerPath(finalizer))
	}
}

// operationCount is the value of ssakit_finalizer_operations_total for controller and operation,
// all results together.
func operationCount(t *testing.T, controller, operation string) float64 {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, f := range families {
		if f.GetName() != "ssakit_finalizer_operations_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["controller"] == controller && labels["operation"] == operation {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

// A controller that moves to ssakit from controllerutil.AddFinalizer + Update, with
// TakeOverLegacy in its FinalizerOptions, migrates each object it reconciles: the legacy
// Update entry no longer owns the finalizer, one takeover is counted and announced per object,
// and a later delete runs each cleanup once and lets every object go.
func TestNew_WithTakeOverLegacyMigratesEachObjectOnItsWay(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	name := controllerName(ns)
	finalizer := "test.ssakit.dev/cleanup"
	var widgets []*testcluster.Widget
	for i := range 3 {
		w := createWidget(t, ns, fmt.Sprintf("legacy-%d", i))
		controllerutil.AddFinalizer(w, finalizer)
		g.Expect(cluster.Client.Update(t.Context(), w, client.FieldOwner("legacy-operator"))).To(Succeed())
		widgets = append(widgets, w)
	}
	h := &widgetHandler{}
	startManager(t, ns, managerOptions{}, func(mgr manager.Manager) error {
		return addWidgetControllerWith(mgr, name, finalizer, h, widgetControllerOptions{finalizerOptions: ssa.FinalizerOptions{TakeOverLegacy: true}})
	})

	for _, w := range widgets {
		g.Eventually(finalizerOwners(t, w, finalizer), 10*time.Second, 50*time.Millisecond).Should(Equal([]string{ssa.FinalizerFieldOwner(name, finalizer)}), "the finalizer's only owner, on %s", w.Name)
		g.Eventually(eventsAbout(t.Context(), ns, w.Name), 10*time.Second, 50*time.Millisecond).Should(ContainElement("Normal FinalizerTakenOver"))
	}
	g.Expect(operationCount(t, name, "takeover")).To(Equal(3.0))

	for _, w := range widgets {
		g.Expect(cluster.Client.Delete(t.Context(), w)).To(Succeed())
	}
	for _, w := range widgets {
		g.Eventually(finalizersOf(t.Context(), w), 10*time.Second, 50*time.Millisecond).Should(Equal([]string{gone}))
		g.Expect(eventsAbout(t.Context(), ns, w.Name)()).To(ConsistOf("Normal FinalizerTakenOver"))
	}
	g.Expect(h.cleanupTimes()).To(HaveLen(3), "one cleanup per object")
	g.Expect(operationCount(t, name, "takeover")).To(Equal(3.0), "no takeover on the way out: the objects were migrated")
}

// The rename scenario: 100 live Widgets carry "flyte-finalizer" from a legacy controller's Update;
// the controller starts with "flyte.org/finalizer", the old name among its former names, and
// migrates them while running, while 10 of them are deleted. A watch started before it shows no
// version of any object without one of the two names; the 10 are cleaned up exactly once each and
// disappear; the 90 others end up with the new name alone.
func TestNew_RenamesAFinalizerOnLiveObjectsNeverLeavingOneUnprotected(t *testing.T) {
	const (
		objects  = 100
		deleted  = 10
		oldName  = "flyte-finalizer"
		newName  = "flyte.org/finalizer"
		waitTime = 30 * time.Second
	)
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	name := controllerName(ns)
	var widgets []*testcluster.Widget
	for i := range objects {
		w := createWidget(t, ns, fmt.Sprintf("flyte-%03d", i))
		controllerutil.AddFinalizer(w, oldName)
		g.Expect(cluster.Client.Update(t.Context(), w, client.FieldOwner("flyte-operator"))).To(Succeed())
		widgets = append(widgets, w)
	}
	history := cluster.WatchVersions(t, testcluster.WidgetGVK, ns)
	var (
		mu       sync.Mutex
		cleanups = map[string]int{}
	)
	h := &widgetHandler{cleanup: func(_ context.Context, w *testcluster.Widget, _ int) (reconcile.Result, error) {
		mu.Lock()
		defer mu.Unlock()
		cleanups[w.Name]++
		return reconcile.Result{}, nil
	}}
	startManager(t, ns, managerOptions{}, func(mgr manager.Manager) error {
		return addWidgetControllerWith(mgr, name, newName, h, widgetControllerOptions{finalizerOptions: ssa.FinalizerOptions{FormerNames: []string{oldName}}})
	})

	// Deleted while the controller migrates: some before it has seen them, some after.
	for i, w := range widgets[:deleted] {
		if i%2 == 1 {
			time.Sleep(20 * time.Millisecond)
		}
		g.Expect(cluster.Client.Delete(t.Context(), w)).To(Succeed())
	}

	for _, w := range widgets[:deleted] {
		g.Eventually(finalizersOf(t.Context(), w), waitTime, 50*time.Millisecond).Should(Equal([]string{gone}))
	}
	for _, w := range widgets[deleted:] {
		g.Eventually(finalizersOf(t.Context(), w), waitTime, 50*time.Millisecond).Should(Equal([]string{newName}))
	}
	time.Sleep(500 * time.Millisecond) // time for a second cleanup, were there one
	mu.Lock()
	for _, w := range widgets[:deleted] {
		g.Expect(cleanups).To(HaveKeyWithValue(w.Name, 1), "cleanups of %s", w.Name)
	}
	g.Expect(cleanups).To(HaveLen(deleted), "only deleted objects are cleaned up")
	mu.Unlock()
	versions := history.Stop()
	g.Expect(len(versions)).To(BeNumerically(">=", objects), "the watch saw every object")
	for _, v := range versions {
		if !slices.Contains(v.Finalizers, newName) && !slices.Contains(v.Finalizers, oldName) {
			t.Errorf("a version of %s carried neither finalizer: %v (terminating: %v)", v.Name, v.Finalizers, v.Terminating)
		}
	}
}

// kubebuilderReconciler is a controller written the usual way before ssakit: AddFinalizer and
// Update; on deletion, the cleanup, RemoveFinalizer and Update.
type kubebuilderReconciler struct {
	client.Client
	finalizer string
}

func (r *kubebuilderReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	w := &testcluster.Widget{}
	if err := r.Get(ctx, req.NamespacedName, w); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if w.DeletionTimestamp.IsZero() {
		if controllerutil.AddFinalizer(w, r.finalizer) {
			return reconcile.Result{}, r.Update(ctx, w, client.FieldOwner("kubebuilder-operator"))
		}
		return reconcile.Result{}, nil
	}
	if controllerutil.RemoveFinalizer(w, r.finalizer) {
		return reconcile.Result{}, client.IgnoreNotFound(r.Update(ctx, w, client.FieldOwner("kubebuilder-operator")))
	}
	return reconcile.Result{}, nil
}

// A rolling upgrade: the kubebuilder-style release keeps running, adding the finalizer with
// Update, while the ssakit release (TakeOverLegacy) migrates. No live version of any object is
// without the finalizer, every object ends up owned by ssakit's manager alone, and once the old
// release is gone every deleted object disappears.
func TestNew_RollingUpgradeFromAnUpdateControllerLosesNothingAndLeavesNothingStuck(t *testing.T) {
	const objects = 20
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	name := controllerName(ns)
	finalizer := "test.ssakit.dev/cleanup"
	history := cluster.WatchVersions(t, testcluster.WidgetGVK, ns)
	stopOld := startManager(t, ns, managerOptions{}, func(mgr manager.Manager) error {
		return ctrl.NewControllerManagedBy(mgr).For(&testcluster.Widget{}).Named(name + "-old").
			Complete(&kubebuilderReconciler{Client: mgr.GetClient(), finalizer: finalizer})
	})
	var widgets []*testcluster.Widget
	for i := range objects / 2 {
		widgets = append(widgets, createWidget(t, ns, fmt.Sprintf("before-%02d", i)))
	}
	h := &widgetHandler{}
	startManager(t, ns, managerOptions{}, func(mgr manager.Manager) error {
		return addWidgetControllerWith(mgr, name, finalizer, h, widgetControllerOptions{finalizerOptions: ssa.FinalizerOptions{TakeOverLegacy: true}})
	})
	for i := range objects / 2 {
		widgets = append(widgets, createWidget(t, ns, fmt.Sprintf("during-%02d", i)))
	}

	for _, w := range widgets {
		g.Eventually(finalizerOwners(t, w, finalizer), 15*time.Second, 50*time.Millisecond).Should(Equal([]string{ssa.FinalizerFieldOwner(name, finalizer)}), "the finalizer's only owner, on %s", w.Name)
	}
	stopOld()
	for _, w := range widgets {
		g.Expect(cluster.Client.Delete(t.Context(), w)).To(Succeed())
	}
	for _, w := range widgets {
		g.Eventually(finalizersOf(t.Context(), w), 15*time.Second, 50*time.Millisecond).Should(Equal([]string{gone}))
	}
	g.Expect(h.cleanupTimes()).To(HaveLen(objects), "one cleanup per object, by the new release")
	seenWith := map[string]bool{}
	for _, v := range history.Stop() {
		if slices.Contains(v.Finalizers, finalizer) {
			seenWith[v.Name] = true
		} else if seenWith[v.Name] {
			t.Errorf("a version of %s lost the finalizer: %v (terminating: %v)", v.Name, v.Finalizers, v.Terminating)
		}
	}
	g.Expect(seenWith).To(HaveLen(objects))
}

// A copy read before the deletion of an object that carries only the finalizer's former name: the
// add is refused (deletion has started, row 12), but the former name still guards the object, so
// the step cleans up once and releases it, with no CleanupSkipped event.
func TestStep_CleansUpAnObjectGuardedByAFormerNameFromACopyReadBeforeItsDeletion(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	w := createWidget(t, ns, "stale-old-name")
	controllerutil.AddFinalizer(w, "stale-finalizer")
	g.Expect(cluster.Client.Update(t.Context(), w, client.FieldOwner("legacy-operator"))).To(Succeed())
	stale := w.DeepCopyObject().(*testcluster.Widget)
	g.Expect(cluster.Client.Delete(t.Context(), w)).To(Succeed())
	recorder := events.NewFakeRecorder(10)
	step, err := ssareconcile.NewStep(cluster.Client, controllerName(ns), "stale.ssakit.dev/finalizer", ssareconcile.StepOptions{
		FinalizerOptions: ssa.FinalizerOptions{APIReader: cluster.Client, FormerNames: []string{"stale-finalizer"}}, Recorder: recorder,
	})
	g.Expect(err).NotTo(HaveOccurred())
	cleanups := 0

	outcome, _, err := step.Handle(t.Context(), stale, func(context.Context) (reconcile.Result, error) {
		cleanups++
		return reconcile.Result{}, nil
	})

	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(outcome).To(Equal(ssareconcile.Released))
	g.Expect(cleanups).To(Equal(1))
	g.Expect(finalizersOf(t.Context(), w)()).To(Equal([]string{gone}))
	close(recorder.Events)
	var reasons []string
	for e := range recorder.Events {
		reasons = append(reasons, e)
	}
	g.Expect(reasons).NotTo(ContainElement(ContainSubstring(ssareconcile.ReasonCleanupSkipped)))
}
