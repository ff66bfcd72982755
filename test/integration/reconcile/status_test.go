package reconcile

import (
	"fmt"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/ssakit/ssakit/internal/testcluster"
)

// Row 7: status goes to the /status subresource under the controller's own manager, which owns
// status fields only; the user's spec and entry are untouched; observedGeneration follows spec.
func TestStatus_AppliedToTheStatusSubresourceByTheControllersManager(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	name := controllerName(ns)
	h := &widgetHandler{}
	startManager(t, ns, managerOptions{}, func(mgr manager.Manager) error {
		return addWidgetController(mgr, name, cleanupFinalizer, h)
	})
	w := createWidget(t, ns, "status")
	userEntry := func(w *testcluster.Widget) metav1.ManagedFieldsEntry {
		for _, e := range w.ManagedFields {
			if e.Manager == "user" {
				return e
			}
		}
		return metav1.ManagedFieldsEntry{}
	}
	before := userEntry(w)

	g.Eventually(observedGeneration(t, w)).WithTimeout(eventually).WithPolling(poll).Should(Equal(int64(1)))

	live, _, err := getWidget(t.Context(), w)
	g.Expect(err).NotTo(HaveOccurred())
	var statusEntries []string
	for _, e := range live.ManagedFields {
		if e.Manager == name {
			statusEntries = append(statusEntries, fmt.Sprintf("%s %s %s", e.Operation, e.Subresource, e.FieldsV1.GetRawString()))
		}
	}
	g.Expect(statusEntries).To(HaveLen(1))
	g.Expect(statusEntries[0]).To(HavePrefix("Apply status "))
	g.Expect(statusEntries[0]).NotTo(ContainSubstring("f:spec"))
	g.Expect(strings.TrimPrefix(statusEntries[0], "Apply status ")).To(HavePrefix(`{"f:status":`))
	diff(t, "user's entry", before, userEntry(live))
	diff(t, "spec", testcluster.WidgetSpec{Color: "blue", Replicas: new(int64(1))}, live.Spec)
	ready := live.Status.Conditions[0]
	g.Expect(ready.Type).To(Equal("Ready"))

	live.Spec.Color = "green"
	g.Expect(cluster.Client.Update(t.Context(), live, client.FieldOwner("user"))).To(Succeed())

	g.Eventually(observedGeneration(t, w)).WithTimeout(eventually).WithPolling(poll).Should(Equal(int64(2)))
	after, _, err := getWidget(t.Context(), w)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(after.Status.Conditions[0].Message).To(Equal("color is green"))
	g.Expect(after.Status.Conditions[0].LastTransitionTime).To(Equal(ready.LastTransitionTime), "lastTransitionTime of a condition whose status did not change")
}

func observedGeneration(t *testing.T, key client.Object) func() int64 {
	return func() int64 {
		w, ok, err := getWidget(t.Context(), key)
		if err != nil || !ok {
			return -1
		}
		return w.Status.ObservedGeneration
	}
}

// Row 21: once every object is reconciled, a resync of 50 objects sends no finalizer or status
// write: both are decided from the cached object.
func TestSteadyState_AResyncOf50ObjectsWritesNothing(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	cfg, rec := cluster.RecordingConfig()
	h := &widgetHandler{}
	syncPeriod := 3 * time.Second
	startManager(t, ns, managerOptions{config: cfg, syncPeriod: &syncPeriod}, func(mgr manager.Manager) error {
		return addWidgetController(mgr, controllerName(ns), cleanupFinalizer, h)
	})
	const objects = 50
	for i := range objects {
		createWidget(t, ns, fmt.Sprintf("steady-%02d", i))
	}
	g.Eventually(func() int {
		list := &testcluster.WidgetList{}
		if err := cluster.Client.List(t.Context(), list, client.InNamespace(ns)); err != nil {
			return -1
		}
		done := 0
		for _, w := range list.Items {
			if len(w.Finalizers) == 1 && w.Status.ObservedGeneration == 1 {
				done++
			}
		}
		return done
	}).WithTimeout(eventually).WithPolling(100 * time.Millisecond).Should(Equal(objects))
	// Let the reconciles that the controller's own writes triggered run out: no new write for
	// two seconds.
	writes, since := -1, time.Now()
	g.Eventually(func() bool {
		if n := len(widgetWrites(rec.Requests(), 0)); n != writes {
			writes, since = n, time.Now()
		}
		return writes > 0 && time.Since(since) > 2*time.Second
	}).WithTimeout(eventually).WithPolling(100*time.Millisecond).Should(BeTrue(), "the writes of the first reconciles to settle")
	rec.Reset()
	settled := h.reconcileCount()

	g.Eventually(h.reconcileCount).WithTimeout(eventually).Should(BeNumerically(">=", settled+objects), "reconciles from the resync")

	diff(t, "writes to widgets after the resync", []string(nil), widgetWrites(rec.Requests(), 0))
}

// widgetWrites lists the write requests to widgets among requests, from index from on.
func widgetWrites(requests []testcluster.Request, from int) []string {
	var out []string
	for _, r := range requests[from:] {
		if r.IsWrite() && strings.Contains(r.Path, "/widgets") {
			out = append(out, r.Method+" "+r.Path)
		}
	}
	return out
}
