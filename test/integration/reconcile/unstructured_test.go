package reconcile

import (
	"context"
	"sync"
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/ssakit/ssakit/internal/testcluster"
	ssareconcile "github.com/ssakit/ssakit/pkg/reconcile"
)

// dynamicHandler reconciles Widgets as unstructured objects, as an operator that learns its kinds
// at run time does: it reports the color it saw in status.phase.
type dynamicHandler struct {
	status *ssareconcile.StatusApplier

	mu       sync.Mutex
	kinds    []string
	cleanups int
}

func (h *dynamicHandler) Reconcile(ctx context.Context, w *unstructured.Unstructured) (reconcile.Result, error) {
	h.mu.Lock()
	h.kinds = append(h.kinds, w.GetKind())
	h.mu.Unlock()
	color, _, _ := unstructured.NestedString(w.Object, "spec", "color")
	return reconcile.Result{}, h.status.Apply(ctx, w, map[string]any{"phase": "Saw " + color})
}

func (h *dynamicHandler) Cleanup(context.Context, *unstructured.Unstructured) (reconcile.Result, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cleanups++
	return reconcile.Result{}, nil
}

func (h *dynamicHandler) seen() (kinds []string, cleanups int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.kinds...), h.cleanups
}

func TestNew_ReconcilesUnstructuredObjectsOfTheKindGiven(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	name := controllerName(ns)
	h := &dynamicHandler{}
	startManager(t, ns, managerOptions{cacheUnstructured: true}, func(mgr manager.Manager) error {
		h.status = ssareconcile.NewStatusApplier(mgr.GetClient(), name, ssareconcile.StatusApplierOptions{})
		r, err := ssareconcile.New[*unstructured.Unstructured](mgr, h, ssareconcile.Options{
			Controller: name, Finalizer: cleanupFinalizer, GroupVersionKind: testcluster.WidgetGVK,
		})
		if err != nil {
			return err
		}
		watched := &unstructured.Unstructured{}
		watched.SetGroupVersionKind(testcluster.WidgetGVK)
		return ctrl.NewControllerManagedBy(mgr).For(watched).Named(name).Complete(r)
	})
	w := createWidget(t, ns, "dynamic")

	g.Eventually(finalizersOf(t.Context(), w)).WithTimeout(eventually).WithPolling(poll).Should(Equal([]string{cleanupFinalizer}))
	g.Eventually(func() string {
		live, _, err := getWidget(t.Context(), w)
		if err != nil {
			return err.Error()
		}
		return live.Status.Phase
	}).WithTimeout(eventually).WithPolling(poll).Should(Equal("Saw blue"), "status applied from the unstructured object")
	g.Expect(cluster.Client.Delete(t.Context(), w)).To(Succeed())
	g.Eventually(finalizersOf(t.Context(), w)).WithTimeout(eventually).WithPolling(poll).Should(Equal([]string{gone}))
	kinds, cleanups := h.seen()
	g.Expect(kinds).To(HaveEach(testcluster.WidgetGVK.Kind), "the kind of each object Reconcile got")
	g.Expect(cleanups).To(Equal(1), "cleanups")
}
