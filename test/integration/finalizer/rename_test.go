package finalizer

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/ssakit/ssakit/internal/testcluster"
	"github.com/ssakit/ssakit/pkg/ssa"
)

// oldName is a legacy finalizer name without a path, as many projects still carry (row 15).
const oldName = "widget-finalizer"

// withOldName is a Widget whose finalizer a legacy controller added under oldName with
// controllerutil.AddFinalizer and Update.
func withOldName(t *testing.T, namespace, name string) *testcluster.Widget {
	t.Helper()
	obj := &testcluster.Widget{}
	if err := cluster.Client.Get(t.Context(), client.ObjectKeyFromObject(typedWidget.create(t, namespace, name)), obj); err != nil {
		t.Fatal(err)
	}
	controllerutil.AddFinalizer(obj, oldName)
	if err := cluster.Client.Update(t.Context(), obj, client.FieldOwner(legacyManager)); err != nil {
		t.Fatalf("the legacy controller's Update: %v", err)
	}
	return obj
}

// FormerNames: Add puts the new name on first, then takes the old one over from the legacy Update
// and lets it go (rows 3 and 31); no version of the object is ever without one of them.
func TestFormerNames_AddPutsTheNewNameOnBeforeTheOldOneGoes(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	obj := withOldName(t, ns, "rename")
	history := cluster.WatchVersions(t, testcluster.WidgetGVK, ns)
	c, rec := cluster.RecordingClient(t)
	f := newFinalizer(t, c, cleanup, ssa.FinalizerOptions{FormerNames: []string{oldName}})

	g.Expect(f.Add(t.Context(), obj)).Error().To(Succeed())

	diff(t, "finalizers handed back", []string{cleanup}, obj.GetFinalizers())
	after := live(t, testcluster.WidgetGVK, obj)
	diff(t, "finalizers", []string{cleanup}, after.GetFinalizers())
	diff(t, "what the finalizer's manager owns", []string{`.metadata.finalizers[="example.com/cleanup"]`}, ownedBy(t, after, finalizerManager))
	diff(t, "requests: add, takeover of the old name, release", []string{http.MethodPatch, http.MethodPatch, http.MethodPatch}, methods(rec.Requests()))
	// The watch sees the three writes (add, takeover, release).
	g.Eventually(func() int { return len(history.Versions()) }).WithTimeout(30*time.Second).Should(BeNumerically(">=", 4), "the watch saw the first version and the three writes")
	for _, version := range history.Stop() {
		if !slices.Contains(version.Finalizers, cleanup) && !slices.Contains(version.Finalizers, oldName) {
			t.Errorf("a version of the object carried neither finalizer: %v", version.Finalizers)
		}
	}
}

// A terminating object cannot take the new name (row 12): Add says so, IsOnLive reads the old name as
// the finalizer, and Remove releases the old name, which lets the object go (row 13).
func TestFormerNames_ATerminatingObjectKeepsTheOldNameUntilRemove(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	obj := withOldName(t, ns, "terminating-rename")
	g.Expect(cluster.Client.Delete(t.Context(), obj)).To(Succeed())
	terminating := typedWidget.get(t, obj)
	f := newFinalizer(t, cluster.Client, cleanup, ssa.FinalizerOptions{FormerNames: []string{oldName}, APIReader: cluster.Client})

	_, err := f.Add(t.Context(), terminating)
	g.Expect(errors.Is(err, ssa.ErrTerminating)).To(BeTrue(), "error %v", err)
	g.Expect(f.IsOn(terminating)).To(BeTrue())
	g.Expect(f.IsOnLive(t.Context(), terminating)).To(BeTrue())

	g.Expect(f.Remove(t.Context(), terminating)).Error().To(Succeed())

	expectGone(t, typedWidget, obj)
}

// An old name an Apply manager holds (an earlier release of the controller, with its shared
// manager) is taken from it too, and only that item: its other finalizer stays its own.
func TestFormerNames_TakesTheOldNameFromAnApplyManagerAndLeavesItsOtherFinalizer(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	obj := typedWidget.create(t, ns, "rename-applied")
	applyAs(t, obj, "widgets/finalizer", oldName, "example.com/backup")

	g.Expect(newFinalizer(t, cluster.Client, cleanup, ssa.FinalizerOptions{FormerNames: []string{oldName}}).Add(t.Context(), obj)).Error().To(Succeed())

	after := live(t, testcluster.WidgetGVK, obj)
	g.Expect(after.GetFinalizers()).To(ConsistOf(cleanup, "example.com/backup"))
	diff(t, "what the old shared manager owns", []string{`.metadata.finalizers[="example.com/backup"]`}, ownedBy(t, after, "widgets/finalizer"))
}

// An object read before the rename, from a cache that has not seen it yet, still shows the old
// name: Add sends one apply, which changes nothing, and sees from the answer that there is
// nothing left to do.
func TestFormerNames_AddOnACopyReadBeforeTheRenameSendsOneApply(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	obj := withOldName(t, ns, "stale-rename")
	stale := obj.DeepCopyObject().(*testcluster.Widget)
	g.Expect(newFinalizer(t, cluster.Client, cleanup, ssa.FinalizerOptions{FormerNames: []string{oldName}}).Add(t.Context(), obj)).Error().To(Succeed())
	c, rec := cluster.RecordingClient(t)

	g.Expect(newFinalizer(t, c, cleanup, ssa.FinalizerOptions{FormerNames: []string{oldName}}).Add(t.Context(), stale)).Error().To(Succeed())

	diff(t, "requests", []string{http.MethodPatch}, methods(rec.Requests()))
	diff(t, "finalizers", []string{cleanup}, stale.GetFinalizers())
}

// NewFinalizer refuses a former name the server would refuse, and the finalizer's own name.
func TestFormerNames_RefusesAnInvalidOrTheSameName(t *testing.T) {
	g := NewWithT(t)
	_, err := ssa.NewFinalizer(cluster.Client, controller, cleanup, ssa.FinalizerOptions{FormerNames: []string{"Not_A_Name!"}})
	g.Expect(err).To(MatchError(ContainSubstring("former name")))
	_, err = ssa.NewFinalizer(cluster.Client, controller, cleanup, ssa.FinalizerOptions{FormerNames: []string{cleanup}})
	g.Expect(err).To(MatchError(ContainSubstring("names the finalizer itself")))
}

// failApplyAfterJSONPatch fails, once, the first apply sent after a JSON patch went through, as
// a timeout or a shutdown would: the request never reaches the server.
type failApplyAfterJSONPatch struct {
	client.Client
	mu              sync.Mutex
	patched, failed bool
}

func (c *failApplyAfterJSONPatch) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
	err := c.Client.Patch(ctx, obj, patch, opts...)
	if err == nil && patch.Type() == types.JSONPatchType {
		c.mu.Lock()
		c.patched = true
		c.mu.Unlock()
	}
	return err
}

func (c *failApplyAfterJSONPatch) Apply(ctx context.Context, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
	c.mu.Lock()
	fail := c.patched && !c.failed
	c.failed = c.failed || fail
	c.mu.Unlock()
	if fail {
		return apierrors.NewTimeoutError("injected: the request timed out", 1)
	}
	return c.Client.Apply(ctx, obj, opts...)
}

// A rename interrupted between the takeover and the release leaves the finalizer's manager owning
// the old name: the next Add, from a fresh read (a restarted controller), finishes it.
func TestFormerNames_ARenameInterruptedAfterTheTakeoverIsFinishedByTheNextAdd(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	obj := withOldName(t, ns, "interrupted-add")

	_, err := newFinalizer(t, &failApplyAfterJSONPatch{Client: cluster.Client}, cleanup, ssa.FinalizerOptions{FormerNames: []string{oldName}}).Add(t.Context(), obj)
	g.Expect(err).To(MatchError(ContainSubstring(`its former names "widget-finalizer" are still there`)))
	g.Expect(ownedBy(t, live(t, testcluster.WidgetGVK, obj), finalizerManager)).To(ContainElement(`.metadata.finalizers[="widget-finalizer"]`), "the takeover went through")

	fresh := typedWidget.get(t, obj)
	g.Expect(newFinalizer(t, cluster.Client, cleanup, ssa.FinalizerOptions{FormerNames: []string{oldName}}).Add(t.Context(), fresh)).Error().To(Succeed())

	after := live(t, testcluster.WidgetGVK, obj)
	diff(t, "finalizers", []string{cleanup}, after.GetFinalizers())
	diff(t, "what the finalizer's manager owns", []string{`.metadata.finalizers[="example.com/cleanup"]`}, ownedBy(t, after, finalizerManager))
}

// The same interruption on a terminating object is finished by the next Remove: the object goes.
func TestFormerNames_ARenameInterruptedOnATerminatingObjectIsFinishedByTheNextRemove(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	obj := withOldName(t, ns, "interrupted-remove")
	g.Expect(cluster.Client.Delete(t.Context(), obj)).To(Succeed())
	terminating := typedWidget.get(t, obj)

	_, err := newFinalizer(t, &failApplyAfterJSONPatch{Client: cluster.Client}, cleanup, ssa.FinalizerOptions{FormerNames: []string{oldName}}).Remove(t.Context(), terminating)
	g.Expect(apierrors.IsTimeout(err)).To(BeTrue(), "error %v", err)

	g.Expect(newFinalizer(t, cluster.Client, cleanup, ssa.FinalizerOptions{FormerNames: []string{oldName}}).Remove(t.Context(), typedWidget.get(t, obj))).Error().To(Succeed())

	expectGone(t, typedWidget, obj)
}

// A terminating object that carries the finalizer, owned by a legacy writer only, is protected:
// Add says so without a request, and Remove takes it over once the cleanup is done.
func TestAdd_OnATerminatingObjectCarryingTheFinalizerOfALegacyWriterSucceedsWithoutARequest(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	obj := legacyWidget(t, ns, "terminating-legacy")
	g.Expect(cluster.Client.Delete(t.Context(), obj)).To(Succeed())
	terminating := typedWidget.get(t, obj)
	c, rec := cluster.RecordingClient(t)

	g.Expect(newFinalizer(t, c, cleanup, ssa.FinalizerOptions{TakeOverLegacy: true}).Add(t.Context(), terminating)).Error().To(Succeed())

	g.Expect(rec.Requests()).To(BeEmpty())
}
