package reconcile

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/ssakit/ssakit/internal/testcluster"
	ssareconcile "github.com/ssakit/ssakit/pkg/reconcile"
)

// Row 6: a finalizer change does not bump generation, so GenerationChangedPredicate alone hides a
// `kubectl replace` that drops the controller's finalizer. With FinalizerLost next to it, the
// finalizer is back within seconds, and a later delete still runs the cleanup.
func TestFinalizerLost_WithGenerationChangedPredicateRestoresADroppedFinalizer(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	h := &widgetHandler{}
	startManager(t, ns, managerOptions{}, func(mgr manager.Manager) error {
		return addWidgetControllerWith(mgr, controllerName(ns), cleanupFinalizer, h, widgetControllerOptions{
			predicates: func(r *ssareconcile.Reconciler[*testcluster.Widget]) []predicate.Predicate {
				return []predicate.Predicate{predicate.Or[client.Object](
					predicate.GenerationChangedPredicate{},
					ssareconcile.FinalizerLost(r.Finalizers()...),
				)}
			},
		})
	})
	manifest := createWidget(t, ns, "replaced") // the user's manifest: no finalizer
	g.Eventually(finalizersOf(t.Context(), manifest)).WithTimeout(eventually).WithPolling(poll).Should(Equal([]string{cleanupFinalizer}))
	// `kubectl replace -f manifest.yaml`: an update with the user's manifest, which has no
	// finalizer, at the live resourceVersion; retried when the controller wrote in between.
	var before, replaced *testcluster.Widget
	g.Eventually(func() (err error) {
		if before, _, err = getWidget(t.Context(), manifest); err != nil {
			return err
		}
		replaced = manifest.DeepCopyObject().(*testcluster.Widget)
		replaced.ResourceVersion = before.ResourceVersion
		return cluster.Client.Update(t.Context(), replaced, client.FieldOwner("kubectl-replace"))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	g.Expect(replaced.Finalizers).To(BeEmpty(), "the replace dropped the finalizer")
	g.Expect(replaced.Generation).To(Equal(before.Generation), "the replace left generation alone (row 6)")

	g.Eventually(finalizersOf(t.Context(), manifest)).WithTimeout(5*time.Second).WithPolling(poll).Should(Equal([]string{cleanupFinalizer}), "the finalizer is back")
	g.Expect(cluster.Client.Delete(t.Context(), manifest)).To(Succeed())
	g.Eventually(finalizersOf(t.Context(), manifest)).WithTimeout(eventually).WithPolling(poll).Should(Equal([]string{gone}))
	g.Expect(h.cleanupTimes()).To(HaveLen(1), "cleanups")
}
