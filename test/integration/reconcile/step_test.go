package reconcile

import (
	"context"
	"errors"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/ssakit/ssakit/internal/testcluster"
	ssareconcile "github.com/ssakit/ssakit/pkg/reconcile"
	"github.com/ssakit/ssakit/pkg/ssa"
)

// existingReconciler is an existing reconciler that keeps its own shape and only calls the step.
type existingReconciler struct {
	client.Client
	step     *ssareconcile.Step
	worked   chan string
	cleanups chan string
}

func (r *existingReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	w := &testcluster.Widget{}
	if err := r.Get(ctx, req.NamespacedName, w); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	outcome, result, err := r.step.Handle(ctx, w, func(context.Context) (reconcile.Result, error) {
		r.cleanups <- w.Name
		return reconcile.Result{}, nil
	})
	if outcome != ssareconcile.Proceed {
		return result, err
	}
	r.worked <- w.Name
	return reconcile.Result{}, nil
}

func TestStep_InAnExistingReconciler(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	r := &existingReconciler{worked: make(chan string, 100), cleanups: make(chan string, 100)}
	startManager(t, ns, managerOptions{}, func(mgr manager.Manager) error {
		step, err := ssareconcile.NewStep(mgr.GetClient(), controllerName(ns), cleanupFinalizer, ssareconcile.StepOptions{
			FinalizerOptions: ssa.FinalizerOptions{APIReader: mgr.GetAPIReader()},
			Recorder:         mgr.GetEventRecorder(controllerName(ns)),
		})
		if err != nil {
			return err
		}
		r.Client, r.step = mgr.GetClient(), step
		return ctrl.NewControllerManagedBy(mgr).For(&testcluster.Widget{}).Named(controllerName(ns)).Complete(r)
	})
	w := createWidget(t, ns, "existing")

	g.Eventually(r.worked).WithTimeout(eventually).Should(Receive(Equal("existing")))
	g.Expect(finalizersOf(t.Context(), w)()).To(Equal([]string{cleanupFinalizer}), "the finalizer is in place before the reconciler's own work")
	g.Expect(cluster.Client.Delete(t.Context(), w)).To(Succeed())
	g.Eventually(r.cleanups).WithTimeout(eventually).Should(Receive(Equal("existing")))
	g.Eventually(finalizersOf(t.Context(), w)).WithTimeout(eventually).WithPolling(poll).Should(Equal([]string{gone}))
}

func TestStep_RefusesAnInvalidFinalizerName(t *testing.T) {
	_, err := ssareconcile.NewStep(cluster.Client, "widgets", "unqualified-finalizer", ssareconcile.StepOptions{FinalizerOptions: ssa.FinalizerOptions{APIReader: cluster.Client}})

	if _, ok := errors.AsType[*ssa.InvalidNameError](err); !ok {
		t.Fatalf("want *ssa.InvalidNameError, got %v", err)
	}
}

// Row 12: someone strips the controller's finalizer after Reconcile ran (a `kubectl replace` that
// keeps only another controller's finalizer), then deletes the object. The step's Add is refused,
// and the cleanup can no longer run: a Warning event and a metric say so.
func TestStep_WarnsWhenDeletionStartedWithoutItsFinalizer(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	name := controllerName(ns)
	recorder := events.NewFakeRecorder(10)
	step, err := ssareconcile.NewStep(cluster.Client, name, cleanupFinalizer, ssareconcile.StepOptions{FinalizerOptions: ssa.FinalizerOptions{APIReader: cluster.Client}, Recorder: recorder})
	g.Expect(err).NotTo(HaveOccurred())
	w := createWidget(t, ns, "stripped")
	outcome, _, err := step.Handle(t.Context(), w, nil)
	g.Expect(outcome, err).To(Equal(ssareconcile.Proceed), "the first reconcile")
	w.Finalizers = []string{"other.example.com/keep"}
	g.Expect(cluster.Client.Update(t.Context(), w, client.FieldOwner("kubectl-replace"))).To(Succeed())
	stripped := w.DeepCopyObject().(*testcluster.Widget)
	g.Expect(cluster.Client.Delete(t.Context(), w)).To(Succeed())
	skippedBefore := testcluster.MetricSum(t, "ssakit_cleanups_skipped_total", name)

	outcome, _, err = step.Handle(t.Context(), stripped, func(context.Context) (reconcile.Result, error) {
		t.Error("the cleanup ran without the finalizer")
		return reconcile.Result{}, nil
	})

	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(outcome).To(Equal(ssareconcile.NotHeld))
	g.Expect(recorder.Events).To(Receive(HavePrefix("Warning CleanupSkipped Deletion started while finalizer " + cleanupFinalizer + " was not on the object")))
	g.Expect(testcluster.MetricSum(t, "ssakit_cleanups_skipped_total", name)).To(Equal(skippedBefore+1), "ssakit_cleanups_skipped_total")
}

// The add's answer shows that deletion started after the object was read (from a cache that
// strips managedFields, so the add was sent): the step cleans up instead of letting the caller
// build more.
func TestStep_CleansUpWhenTheAnswerToItsAddShowsDeletionStarted(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	step, err := ssareconcile.NewStep(cluster.Client, controllerName(ns), cleanupFinalizer, ssareconcile.StepOptions{FinalizerOptions: ssa.FinalizerOptions{APIReader: cluster.Client}})
	g.Expect(err).NotTo(HaveOccurred())
	w := createWidget(t, ns, "deleted-meanwhile")
	stale := staleCopyOfADeletedWidget(t, step, w)
	cleanups := 0

	outcome, _, err := step.Handle(t.Context(), stale, func(context.Context) (reconcile.Result, error) { cleanups++; return reconcile.Result{}, nil })

	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(outcome).To(Equal(ssareconcile.Released), "the outcome for an object whose deletion the add's answer showed")
	g.Expect(cleanups).To(Equal(1))
	g.Expect(finalizersOf(t.Context(), w)()).To(Equal([]string{"other.example.com/keep"}))
}

// staleCopyOfADeletedWidget lets step add its finalizer to w, has another controller add its
// own, and deletes w, so that w stays terminating; it returns a stripped copy read before the
// deletion, as a lagging cache that strips managedFields would hand it over.
func staleCopyOfADeletedWidget(t *testing.T, step *ssareconcile.Step, w *testcluster.Widget) *testcluster.Widget {
	t.Helper()
	g := NewWithT(t)
	outcome, _, err := step.Handle(t.Context(), w, nil)
	g.Expect(outcome, err).To(Equal(ssareconcile.Proceed))
	w.Finalizers = append(w.Finalizers, "other.example.com/keep")
	g.Expect(cluster.Client.Update(t.Context(), w, client.FieldOwner("other"))).To(Succeed())
	stale := w.DeepCopyObject().(*testcluster.Widget)
	stale.ManagedFields = nil
	g.Expect(cluster.Client.Delete(t.Context(), w)).To(Succeed())
	return stale
}

// Row 15: an unqualified finalizer name is accepted on custom resources only; on a built-in kind the
// server refuses it, which retrying cannot fix: an *ssa.InvalidNameError, terminal.
func TestStep_AnUnqualifiedNameRefusedForABuiltInKindIsTerminal(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	step, err := ssareconcile.NewStep(cluster.Client, controllerName(ns), "unqualified-cleanup", ssareconcile.StepOptions{
		FinalizerOptions: ssa.FinalizerOptions{APIReader: cluster.Client, AllowUnqualifiedName: true},
	})
	g.Expect(err).NotTo(HaveOccurred())
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "unqualified"}}
	g.Expect(cluster.Client.Create(t.Context(), cm)).To(Succeed())

	outcome, _, err := step.Handle(t.Context(), cm, nil)

	g.Expect(outcome).To(Equal(ssareconcile.Failed))
	_, invalid := errors.AsType[*ssa.InvalidNameError](err)
	g.Expect(invalid).To(BeTrue(), "an *ssa.InvalidNameError: %v", err)
	g.Expect(errors.Is(err, reconcile.TerminalError(nil))).To(BeTrue(), "terminal: %v", err)
}

// A cache that lags behind the step's own cleanup hands it a live-looking copy again: the refused
// add is the step's own removal, not a stripped finalizer, and no warning is given.
func TestStep_GivesNoWarningForAStaleCopyOfAnObjectItCleanedUp(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	recorder := events.NewFakeRecorder(10)
	step, err := ssareconcile.NewStep(cluster.Client, controllerName(ns), cleanupFinalizer, ssareconcile.StepOptions{FinalizerOptions: ssa.FinalizerOptions{APIReader: cluster.Client}, Recorder: recorder})
	g.Expect(err).NotTo(HaveOccurred())
	w := createWidget(t, ns, "cleaned-once")
	stale := staleCopyOfADeletedWidget(t, step, w)
	cleanups := 0
	cleanup := func(context.Context) (reconcile.Result, error) { cleanups++; return reconcile.Result{}, nil }
	outcome, _, err := step.Handle(t.Context(), stale.DeepCopyObject().(*testcluster.Widget), cleanup)
	g.Expect(outcome, err).To(Equal(ssareconcile.Released))

	outcome, _, err = step.Handle(t.Context(), stale.DeepCopyObject().(*testcluster.Widget), cleanup)

	g.Expect(outcome, err).To(Equal(ssareconcile.Released), "the outcome for a stale copy of an object the step released")
	g.Expect(cleanups).To(Equal(1))
	var got []string
	for len(recorder.Events) > 0 {
		got = append(got, <-recorder.Events)
	}
	g.Expect(got).To(BeEmpty(), "a cleanup done at its first attempt is announced by no event")
}

// A cache that lags behind the step's own cleanup may still show the object alive, its finalizer
// owned by the step's manager, so that the add needs no request and cannot find out: the step
// must still not let the reconcile build anything for an object it cleaned up and released.
func TestStep_DoesNotProceedWithAStaleCopyOfAnObjectItCleanedUp(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	step, err := ssareconcile.NewStep(cluster.Client, controllerName(ns), cleanupFinalizer, ssareconcile.StepOptions{FinalizerOptions: ssa.FinalizerOptions{APIReader: cluster.Client}})
	g.Expect(err).NotTo(HaveOccurred())
	w := createWidget(t, ns, "cleaned-then-stale")
	outcome, _, err := step.Handle(t.Context(), w, nil)
	g.Expect(outcome, err).To(Equal(ssareconcile.Proceed))
	stale := w.DeepCopyObject().(*testcluster.Widget) // alive, finalizer owned: as a lagging cache holds it
	g.Expect(cluster.Client.Delete(t.Context(), w)).To(Succeed())
	terminating, _, err := getWidget(t.Context(), w)
	g.Expect(err).NotTo(HaveOccurred())
	outcome, _, err = step.Handle(t.Context(), terminating, func(context.Context) (reconcile.Result, error) { return reconcile.Result{}, nil })
	g.Expect(outcome, err).To(Equal(ssareconcile.Released))

	outcome, _, err = step.Handle(t.Context(), stale, nil)

	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(outcome).To(Equal(ssareconcile.Released), "the reconcile of a stale copy of a cleaned-up object was let through")
}

// The object is deleted and another created under its name while the cleanup runs: the cleaned-up
// object is gone, which ends the step without error; the successor is not touched.
func TestStep_EndsQuietlyWhenTheObjectWasReplacedDuringItsCleanup(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	step, err := ssareconcile.NewStep(cluster.Client, controllerName(ns), cleanupFinalizer, ssareconcile.StepOptions{FinalizerOptions: ssa.FinalizerOptions{APIReader: cluster.Client}})
	g.Expect(err).NotTo(HaveOccurred())
	w := createWidget(t, ns, "replaced-in-cleanup")
	outcome, _, err := step.Handle(t.Context(), w, nil)
	g.Expect(outcome, err).To(Equal(ssareconcile.Proceed))
	g.Expect(cluster.Client.Delete(t.Context(), w)).To(Succeed())
	terminating, _, err := getWidget(t.Context(), w)
	g.Expect(err).NotTo(HaveOccurred())
	var successor *testcluster.Widget

	outcome, _, err = step.Handle(t.Context(), terminating, func(ctx context.Context) (reconcile.Result, error) {
		patch := client.RawPatch("application/merge-patch+json", []byte(`{"metadata":{"finalizers":null}}`))
		if err := cluster.Client.Patch(ctx, terminating.DeepCopyObject().(client.Object), patch, client.FieldOwner("someone-else")); err != nil {
			return reconcile.Result{}, err
		}
		successor = createWidget(t, ns, "replaced-in-cleanup")
		return reconcile.Result{}, nil
	})

	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(outcome).To(Equal(ssareconcile.Gone))
	after, _, err := getWidget(t.Context(), successor)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(after.ResourceVersion).To(Equal(successor.ResourceVersion), "the successor was written")
}
