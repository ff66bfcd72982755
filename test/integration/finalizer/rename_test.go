package finalizer

import (
	"errors"
	"net/http"
	"slices"
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
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

// RenamedFrom: Add puts the new name on first, then takes the old one over from the legacy Update
// and lets it go (rows 3 and 31); no version of the object is ever without one of them.
func TestRenamedFrom_AddPutsTheNewNameOnBeforeTheOldOneGoes(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	obj := withOldName(t, ns, "rename")
	history := cluster.WatchVersions(t, testcluster.WidgetGVK, ns)
	c, rec := cluster.RecordingClient(t)
	f := newFinalizer(t, c, cleanup, ssa.RenamedFrom(oldName))

	g.Expect(f.Add(t.Context(), obj)).To(Succeed())

	diff(t, "finalizers handed back", []string{cleanup}, obj.GetFinalizers())
	after := live(t, testcluster.WidgetGVK, obj)
	diff(t, "finalizers", []string{cleanup}, after.GetFinalizers())
	diff(t, "what the finalizer's manager owns", []string{`.metadata.finalizers[="example.com/cleanup"]`}, ownedBy(t, after, finalizerManager))
	diff(t, "requests: add, takeover of the old name, release", []string{http.MethodPatch, http.MethodPatch, http.MethodPatch}, methods(rec.Requests()))
	// The watch sees the three writes (add, takeover, release).
	g.Eventually(func() int { return len(history.Versions()) }).Should(BeNumerically(">=", 4), "the watch saw the first version and the three writes")
	for _, version := range history.Stop() {
		if !slices.Contains(version.Finalizers, cleanup) && !slices.Contains(version.Finalizers, oldName) {
			t.Errorf("a version of the object carried neither finalizer: %v", version.Finalizers)
		}
	}
}

// A terminating object cannot take the new name (row 12): Add says so, Held reads the old name as
// the finalizer, and Remove releases the old name, which lets the object go (row 13).
func TestRenamedFrom_ATerminatingObjectKeepsTheOldNameUntilRemove(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	obj := withOldName(t, ns, "terminating-rename")
	g.Expect(cluster.Client.Delete(t.Context(), obj)).To(Succeed())
	terminating := typedWidget.get(t, obj)
	f := newFinalizer(t, cluster.Client, cleanup, ssa.RenamedFrom(oldName), withReader(cluster.Client))

	err := f.Add(t.Context(), terminating)
	g.Expect(errors.Is(err, ssa.ErrTerminating)).To(BeTrue(), "error %v", err)
	g.Expect(f.Carries(terminating)).To(BeTrue())
	g.Expect(f.Held(t.Context(), terminating)).To(BeTrue())

	g.Expect(f.Remove(t.Context(), terminating)).To(Succeed())

	expectGone(t, typedWidget, obj)
}

// An old name an Apply manager holds (an earlier release of the controller, with its shared
// manager) is taken from it too, and only that item: its other finalizer stays its own.
func TestRenamedFrom_TakesTheOldNameFromAnApplyManagerAndLeavesItsOtherFinalizer(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	obj := typedWidget.create(t, ns, "rename-applied")
	old := &unstructured.Unstructured{}
	old.SetGroupVersionKind(testcluster.WidgetGVK)
	old.SetNamespace(ns)
	old.SetName(obj.GetName())
	old.SetUID(obj.GetUID())
	old.SetFinalizers([]string{oldName, "example.com/backup"})
	g.Expect(cluster.Client.Apply(t.Context(), client.ApplyConfigurationFromUnstructured(old), client.FieldOwner("widgets/finalizer"))).To(Succeed())

	g.Expect(newFinalizer(t, cluster.Client, cleanup, ssa.RenamedFrom(oldName)).Add(t.Context(), obj)).To(Succeed())

	after := live(t, testcluster.WidgetGVK, obj)
	g.Expect(after.GetFinalizers()).To(ConsistOf(cleanup, "example.com/backup"))
	diff(t, "what the old shared manager owns", []string{`.metadata.finalizers[="example.com/backup"]`}, ownedBy(t, after, "widgets/finalizer"))
}

// An object read before the rename, from a cache that has not seen it yet, still shows the old
// name: Add sends one apply, which changes nothing, and sees from the answer that there is
// nothing left to do.
func TestRenamedFrom_AddOnACopyReadBeforeTheRenameSendsOneApply(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	obj := withOldName(t, ns, "stale-rename")
	stale := obj.DeepCopyObject().(*testcluster.Widget)
	g.Expect(newFinalizer(t, cluster.Client, cleanup, ssa.RenamedFrom(oldName)).Add(t.Context(), obj)).To(Succeed())
	c, rec := cluster.RecordingClient(t)

	g.Expect(newFinalizer(t, c, cleanup, ssa.RenamedFrom(oldName)).Add(t.Context(), stale)).To(Succeed())

	diff(t, "requests", []string{http.MethodPatch}, methods(rec.Requests()))
	diff(t, "finalizers", []string{cleanup}, stale.GetFinalizers())
}

// NewFinalizer refuses an older name the server would refuse, and the finalizer's own name.
func TestRenamedFrom_RefusesAnInvalidOrTheSameName(t *testing.T) {
	g := NewWithT(t)
	_, err := ssa.NewFinalizer(cluster.Client, controller, cleanup, ssa.RenamedFrom("Not_A_Name!"))
	g.Expect(err).To(MatchError(ContainSubstring("older name")))
	_, err = ssa.NewFinalizer(cluster.Client, controller, cleanup, ssa.RenamedFrom(cleanup))
	g.Expect(err).To(MatchError(ContainSubstring("names the finalizer itself")))
}
