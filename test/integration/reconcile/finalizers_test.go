package reconcile

import (
	"context"
	"errors"
	"sync"
	"testing"

	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/ssakit/ssakit/internal/testcluster"
	ssareconcile "github.com/ssakit/ssakit/pkg/reconcile"
	"github.com/ssakit/ssakit/pkg/ssa"
)

const dnsFinalizer = "dns.test.ssakit.dev/record"

// attempts counts the calls of a cleanup.
type attempts struct {
	mu sync.Mutex
	n  int
}

func (a *attempts) next() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.n++
	return a.n
}

func (a *attempts) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.n
}

// Two finalizers of one controller guard two external systems. The first one's cleanup fails until
// the test lets it succeed, the second one's fails twice: the second finalizer is released as
// soon as its own cleanup is done, while the first one's still fails, and the first follows.
func TestLifecycle_TwoFinalizersOfOneReconcilerCleanUpIndependently(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	release := make(chan struct{})
	h := &widgetHandler{cleanup: func(context.Context, *testcluster.Widget, int) (reconcile.Result, error) {
		select {
		case <-release:
			return reconcile.Result{}, nil
		default:
			return reconcile.Result{}, errors.New("the backing store is unavailable")
		}
	}}
	dns := &attempts{}
	dnsCleanup := func(context.Context, *testcluster.Widget) (reconcile.Result, error) {
		if dns.next() <= 2 {
			return reconcile.Result{}, errors.New("the DNS provider is unavailable")
		}
		return reconcile.Result{}, nil
	}
	name := controllerName(ns)
	startManager(t, ns, managerOptions{}, func(mgr manager.Manager) error {
		return addWidgetControllerWith(mgr, name, cleanupFinalizer, h, widgetControllerOptions{
			more: []ssareconcile.Finalizer[*testcluster.Widget]{{Name: dnsFinalizer, Cleanup: dnsCleanup}},
		})
	})
	w := createWidget(t, ns, "two-systems")
	g.Eventually(finalizersOf(t.Context(), w)).WithTimeout(eventually).WithPolling(poll).Should(ConsistOf(cleanupFinalizer, dnsFinalizer))
	g.Eventually(h.reconcileCount).WithTimeout(eventually).Should(BeNumerically(">=", 1), "Reconcile runs once both finalizers are on")
	live, _, err := getWidget(t.Context(), w)
	g.Expect(err).NotTo(HaveOccurred())
	o, err := ssa.ParseOwnership(live.ManagedFields)
	g.Expect(err).NotTo(HaveOccurred())
	diff(t, "owners of the second finalizer", []string{ssa.FinalizerFieldOwner(name, dnsFinalizer)}, o.Owners(ssa.FinalizerPath(dnsFinalizer)))

	g.Expect(cluster.Client.Delete(t.Context(), w)).To(Succeed())

	g.Eventually(finalizersOf(t.Context(), w)).WithTimeout(eventually).WithPolling(poll).Should(Equal([]string{cleanupFinalizer}),
		"the second finalizer is released once its own cleanup succeeds, while the first one's still fails")
	g.Expect(dns.count()).To(Equal(3), "the second cleanup's calls")
	g.Expect(len(h.cleanupTimes())).To(BeNumerically(">=", 3), "the first cleanup ran on each reconcile too")
	close(release)
	g.Eventually(finalizersOf(t.Context(), w)).WithTimeout(eventually).WithPolling(poll).Should(Equal([]string{gone}))
	g.Expect(dns.count()).To(Equal(3), "the second cleanup ran again after its finalizer was released")
}

// A reconcile whose object lacks one of its finalizers adds it before the handler runs, without
// touching the other one.
func TestLifecycle_ReconcileRunsOnlyOnceEveryFinalizerIsOn(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	reconciledWith := make(chan []string, 100)
	h := &widgetHandler{onReconcile: func(w *testcluster.Widget) { reconciledWith <- w.Finalizers }}
	name := controllerName(ns)
	startManager(t, ns, managerOptions{}, func(mgr manager.Manager) error {
		return addWidgetControllerWith(mgr, name, cleanupFinalizer, h, widgetControllerOptions{
			more: []ssareconcile.Finalizer[*testcluster.Widget]{{Name: dnsFinalizer, Cleanup: func(context.Context, *testcluster.Widget) (reconcile.Result, error) {
				return reconcile.Result{}, nil
			}}},
		})
	})

	createWidget(t, ns, "both-first")

	g.Eventually(reconciledWith).WithTimeout(eventually).Should(Receive(ConsistOf(cleanupFinalizer, dnsFinalizer)))
}

// staleReads is a cluster whose client answers Get with a copy of an object read earlier, as a
// cache that has not caught up does; everything else goes to the API server.
type staleReads struct {
	client.Client
	stale client.Object
}

func (s staleReads) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	if key != client.ObjectKeyFromObject(s.stale) {
		return errors.New("unexpected read")
	}
	*obj.(*testcluster.Widget) = *s.stale.DeepCopyObject().(*testcluster.Widget)
	return nil
}

func (s staleReads) GetClient() client.Client    { return s }
func (s staleReads) GetAPIReader() client.Reader { return s.Client }

// The cache still shows the first finalizer owned, but someone's Update dropped it on the server:
// the first step skips its add, and the second step's answer shows the loss. Reconcile must not
// run on an object without every finalizer; the steps run again and restore it first.
func TestReconciler_NeverReconcilesAnObjectSeenWithoutEveryFinalizer(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	name := controllerName(ns)
	w := createWidget(t, ns, "lost-meanwhile")
	first, err := ssa.NewFinalizer(cluster.Client, name, cleanupFinalizer, ssa.FinalizerOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(first.Add(t.Context(), w)).To(BeTrue(), "the first finalizer added")
	stale := w.DeepCopyObject().(*testcluster.Widget) // the first finalizer on, owned; the second not yet
	w.Finalizers = nil
	g.Expect(cluster.Client.Update(t.Context(), w, client.FieldOwner("kubectl-replace"))).To(Succeed())
	var reconciledWith [][]string
	h := &widgetHandler{onReconcile: func(w *testcluster.Widget) { reconciledWith = append(reconciledWith, w.Finalizers) }}
	r, err := ssareconcile.New[*testcluster.Widget](staleReads{Client: cluster.Client, stale: stale}, h,
		ssareconcile.Options{Controller: name, Finalizer: cleanupFinalizer},
		ssareconcile.Finalizer[*testcluster.Widget]{Name: dnsFinalizer, Cleanup: func(context.Context, *testcluster.Widget) (reconcile.Result, error) {
			return reconcile.Result{}, nil
		}})
	g.Expect(err).NotTo(HaveOccurred())
	h.status = ssareconcile.NewStatusApplier(cluster.Client, name, ssareconcile.StatusApplierOptions{})

	_, err = r.Reconcile(t.Context(), reconcile.Request{NamespacedName: client.ObjectKeyFromObject(w)})

	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(reconciledWith).To(ConsistOf(ConsistOf(cleanupFinalizer, dnsFinalizer)), "the finalizers of each object Reconcile got")
	g.Expect(finalizersOf(t.Context(), w)()).To(ConsistOf(cleanupFinalizer, dnsFinalizer), "live finalizers")
}
