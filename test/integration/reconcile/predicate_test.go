package reconcile

import (
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/ssakit/ssakit/internal/testcluster"
	ssareconcile "github.com/ssakit/ssakit/pkg/reconcile"
	"github.com/ssakit/ssakit/pkg/ssa"
)

// Row 6: a finalizer change does not bump generation, so GenerationChangedPredicate alone hides a
// `kubectl replace` that drops the controller's finalizer. With FinalizerChanged next to it, the
// finalizer is back within seconds, and a later delete still runs the cleanup.
func TestFinalizerChanged_WithGenerationChangedPredicateRestoresADroppedFinalizer(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	h := &widgetHandler{}
	startManager(t, ns, managerOptions{}, func(mgr manager.Manager) error {
		return addWidgetControllerWith(mgr, controllerName(ns), cleanupFinalizer, h, widgetControllerOptions{
			predicates: func(r *ssareconcile.Reconciler[*testcluster.Widget]) []predicate.Predicate {
				return []predicate.Predicate{predicate.Or[client.Object](
					predicate.GenerationChangedPredicate{},
					ssareconcile.FinalizerChanged(r.Finalizers(), nil),
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

// A rolling upgrade that renames the finalizer, with the predicates the README recommends: the old
// release (controllerutil.AddFinalizer and Update under the old name) and the new one
// (the old name among its FormerNames) run side by side for a while, as a Deployment's rolling update has them. The
// old release puts its name back on objects the new one migrated, which bumps no generation
// (row 6); FinalizerPredicate lets that event through, so once the old release stops every object
// carries the new name alone within seconds, with no resync.
func TestFinalizerPredicate_LetsARollingRenameConvergeOnceTheOldReleaseStops(t *testing.T) {
	const (
		objects = 32
		oldName = "widget-finalizer"
		overlap = 3 * time.Second
	)
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	name := controllerName(ns)
	var widgets []*testcluster.Widget
	for i := range objects {
		widgets = append(widgets, createWidget(t, ns, fmt.Sprintf("rolling-%02d", i)))
	}
	stopOld := startManager(t, ns, managerOptions{}, func(mgr manager.Manager) error {
		return ctrl.NewControllerManagedBy(mgr).For(&testcluster.Widget{}).Named(name + "-old").
			Complete(&kubebuilderReconciler{Client: mgr.GetClient(), finalizer: oldName})
	})
	for _, w := range widgets {
		g.Eventually(finalizersOf(t.Context(), w)).WithTimeout(eventually).WithPolling(poll).Should(ContainElement(oldName))
	}
	startManager(t, ns, managerOptions{}, func(mgr manager.Manager) error {
		return addWidgetControllerWith(mgr, name, cleanupFinalizer, &widgetHandler{}, widgetControllerOptions{
			finalizerOptions: ssa.FinalizerOptions{FormerNames: []string{oldName}},
			predicates: func(r *ssareconcile.Reconciler[*testcluster.Widget]) []predicate.Predicate {
				return []predicate.Predicate{predicate.Or[client.Object](
					predicate.GenerationChangedPredicate{},
					r.FinalizerPredicate(),
				)}
			},
		})
	})
	time.Sleep(overlap)
	stopOld()

	for _, w := range widgets {
		g.Eventually(finalizersOf(t.Context(), w)).WithTimeout(10*time.Second).WithPolling(poll).Should(Equal([]string{cleanupFinalizer}), "the finalizers of %s", w.Name)
	}
}
