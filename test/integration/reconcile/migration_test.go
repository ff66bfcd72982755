package reconcile

import (
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/ssakit/ssakit/internal/testcluster"
	ssareconcile "github.com/ssakit/ssakit/pkg/reconcile"
	"github.com/ssakit/ssakit/pkg/ssa"
)

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
		if f.GetName() != ssareconcile.FinalizerOperationsMetric {
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
// ssa.TakeOverLegacy in its FinalizerOptions, migrates each object it reconciles: the legacy
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
		return addWidgetControllerWith(mgr, name, finalizer, h, widgetControllerOptions{finalizerOptions: []ssa.FinalizerOption{ssa.TakeOverLegacy()}})
	})

	for _, w := range widgets {
		g.Eventually(func() []string {
			live, _, _ := getWidget(t.Context(), w)
			ownership, err := ssa.ParseOwnership(live.GetManagedFields())
			if err != nil {
				return []string{err.Error()}
			}
			return ownership.Owners(ssa.FinalizerPath(finalizer))
		}, 10*time.Second, 50*time.Millisecond).Should(Equal([]string{ssa.FinalizerFieldOwner(name, finalizer)}), "the finalizer's only owner, on %s", w.Name)
		g.Eventually(eventsAbout(t.Context(), ns, w.Name), 10*time.Second, 50*time.Millisecond).Should(ContainElement("Normal FinalizerTakenOver"))
	}
	g.Expect(operationCount(t, name, "takeover")).To(Equal(3.0))

	for _, w := range widgets {
		g.Expect(cluster.Client.Delete(t.Context(), w)).To(Succeed())
	}
	for _, w := range widgets {
		g.Eventually(finalizersOf(t.Context(), w), 10*time.Second, 50*time.Millisecond).Should(Equal([]string{gone}))
		g.Expect(eventsAbout(t.Context(), ns, w.Name)()).To(ConsistOf("Normal FinalizerTakenOver", "Normal CleanupSucceeded"))
	}
	g.Expect(h.cleanupTimes()).To(HaveLen(3), "one cleanup per object")
	g.Expect(operationCount(t, name, "takeover")).To(Equal(3.0), "no takeover on the way out: the objects were migrated")
}
