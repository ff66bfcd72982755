package finalizer

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"
	"testing"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/ssakit/ssakit/internal/testcluster"
	"github.com/ssakit/ssakit/pkg/ssa"
)

// ownedBy returns the paths manager's main-resource entries own on obj, rendered by fieldPaths.
func ownedBy(t *testing.T, obj client.Object, manager string) []string {
	t.Helper()
	ownership, err := ssa.ParseOwnership(obj.GetManagedFields())
	if err != nil {
		t.Fatal(err)
	}
	set := &fieldpath.Set{}
	for _, e := range ownership.Entries {
		if e.Manager == manager && e.Subresource == "" {
			set = set.Union(e.Fields)
		}
	}
	return testcluster.FieldPaths(set)
}

// operations returns the operations of manager's entries on obj.
func operations(obj client.Object, manager string) []metav1.ManagedFieldsOperationType {
	var ops []metav1.ManagedFieldsOperationType
	for _, e := range obj.GetManagedFields() {
		if e.Manager == manager {
			ops = append(ops, e.Operation)
		}
	}
	return ops
}

// legacyWidget is a Widget a user created without a color (the server defaults spec.replicas),
// whose cleanup finalizer a legacy controller added the kubebuilder way: a fresh read,
// controllerutil.AddFinalizer, a default written into spec.color, one Update. The legacy manager
// then owns what that Update changed: the finalizer, the list, and spec.color.
func legacyWidget(t *testing.T, namespace, name string) *testcluster.Widget {
	t.Helper()
	created := &testcluster.Widget{ObjectMeta: userMeta(namespace, name)}
	if err := cluster.Client.Create(t.Context(), created, client.FieldOwner(userManager)); err != nil {
		t.Fatal(err)
	}
	obj := &testcluster.Widget{}
	if err := cluster.Client.Get(t.Context(), client.ObjectKeyFromObject(created), obj); err != nil {
		t.Fatal(err)
	}
	controllerutil.AddFinalizer(obj, cleanup)
	obj.Spec.Color = "blue"
	if err := cluster.Client.Update(t.Context(), obj, client.FieldOwner(legacyManager)); err != nil {
		t.Fatalf("the legacy controller's Update: %v", err)
	}
	return obj
}

// legacySpec is what the legacy Update owns of a Widget besides the finalizer.
var legacySpec = []string{".spec.color"}

// legacyWidgetSpec is the spec of a legacyWidget: the legacy default and the server's.
var legacyWidgetSpec = map[string]any{"color": "blue", "replicas": int64(1)}

// The Update scenario (rows 3 and 26): after the takeover the legacy manager owns the
// spec it sent and no longer the finalizer; a finalizer-only apply leaves that spec alone; Remove
// then removes the finalizer.
func TestTakeOverLegacy_MovesOnlyTheFinalizerFromAnUpdateAndRemoveThenWorks(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	obj := legacyWidget(t, ns, "update-scenario")
	g.Expect(ownedBy(t, obj, legacyManager)).To(ContainElements(append(legacySpec, `.metadata.finalizers[="example.com/cleanup"]`)))
	f := newFinalizer(t, cluster.Client, cleanup, ssa.FinalizerOptions{TakeOverLegacy: true})

	g.Expect(f.Add(t.Context(), obj)).Error().To(Succeed())

	after := live(t, testcluster.WidgetGVK, obj)
	g.Expect(ownedBy(t, after, legacyManager)).To(ContainElements(legacySpec), "the legacy manager keeps its spec")
	g.Expect(ownedBy(t, after, legacyManager)).NotTo(ContainElement(ContainSubstring("finalizers[")), "the legacy manager no longer owns the finalizer")
	diff(t, "what the finalizer's manager owns", []string{`.metadata.finalizers[="example.com/cleanup"]`}, ownedBy(t, after, finalizerManager))
	diff(t, "operations of the finalizer's manager", []metav1.ManagedFieldsOperationType{metav1.ManagedFieldsOperationApply}, operations(after, finalizerManager))
	diff(t, "the object handed back is the live one", after.GetResourceVersion(), obj.GetResourceVersion())

	// A finalizer-only apply, as from a cache that strips managedFields: csaupgrade would have
	// given the manager the spec, and this apply would delete it (row 26).
	stripped := after.DeepCopy()
	stripped.SetManagedFields(nil)
	g.Expect(f.Add(t.Context(), stripped)).Error().To(Succeed())
	g.Expect(live(t, testcluster.WidgetGVK, obj).Object["spec"]).To(Equal(legacyWidgetSpec))

	g.Expect(f.Remove(t.Context(), obj)).Error().To(Succeed())

	final := live(t, testcluster.WidgetGVK, obj)
	g.Expect(final.GetFinalizers()).To(BeEmpty())
	g.Expect(final.Object["spec"]).To(Equal(legacyWidgetSpec))
	g.Expect(ownedBy(t, final, legacyManager)).To(ContainElements(legacySpec))
}

// Without TakeOverLegacy the legacy Update keeps the finalizer on the object (row 3): the
// takeover is what the option adds.
func TestRemove_WithoutTakeOverLegacyLeavesTheUpdatesFinalizer(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	obj := legacyWidget(t, ns, "no-takeover")

	_, err := newFinalizer(t, cluster.Client, cleanup, ssa.FinalizerOptions{}).Remove(t.Context(), obj)

	_, coOwned := errors.AsType[*ssa.CoOwnedError](err)
	g.Expect(coOwned).To(BeTrue(), "error %v", err)
	g.Expect(err.Error()).To(ContainSubstring("ssa.FinalizerOptions{TakeOverLegacy: true}"))
	diff(t, "finalizers", []string{cleanup}, live(t, testcluster.WidgetGVK, obj).GetFinalizers())
}

// A controller that moves to ssakit may first see an object when it is already terminating: the
// server refuses new finalizers then (row 12), so Remove alone must take the legacy finalizer
// over and release it; the object is then deleted (row 13).
func TestRemove_TakesOverTheLegacyFinalizerOfATerminatingObject(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	obj := legacyWidget(t, ns, "terminating")
	g.Expect(cluster.Client.Delete(t.Context(), obj)).To(Succeed())
	c, rec := cluster.RecordingClient(t)
	var calls [][]string
	f := newFinalizer(t, c, cleanup, ssa.FinalizerOptions{TakeOverLegacy: true, OnTakeOver: func(_ context.Context, _ client.Object, took ssa.TakeOver) {
		calls = append(calls, took.From)
	}})

	g.Expect(f.Remove(t.Context(), obj)).Error().To(Succeed())

	expectGone(t, typedWidget, obj)
	diff(t, "requests: release, takeover, release", []string{http.MethodPatch, http.MethodPatch, http.MethodPatch}, methods(rec.Requests()))
	diff(t, "OnTakeOver calls", [][]string{{legacyManager}}, calls)
}

// A merge patch (client.MergeFrom) that added the finalizer next to another controller's leaves
// an Update entry owning both items and the list itself. The takeover moves this finalizer's
// item only: the other one stays on the object, still owned by the legacy writer.
func TestRemove_TakesOverFromAMergePatchAndLeavesTheOtherFinalizer(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	created := typedWidget.create(t, ns, "merge-patch")
	obj := &testcluster.Widget{}
	g.Expect(cluster.Client.Get(t.Context(), client.ObjectKeyFromObject(created), obj)).To(Succeed())
	base := obj.DeepCopyObject().(*testcluster.Widget)
	controllerutil.AddFinalizer(obj, "other.example.com/keep")
	controllerutil.AddFinalizer(obj, cleanup)
	g.Expect(cluster.Client.Patch(t.Context(), obj, client.MergeFrom(base), client.FieldOwner(legacyManager))).To(Succeed())
	g.Expect(entryFields(obj, legacyManager)).To(ContainSubstring(`".":{}`), "the merge patch owns the list as a whole")

	g.Expect(newFinalizer(t, cluster.Client, cleanup, ssa.FinalizerOptions{TakeOverLegacy: true}).Remove(t.Context(), obj)).Error().To(Succeed())

	after := live(t, testcluster.WidgetGVK, obj)
	diff(t, "finalizers", []string{"other.example.com/keep"}, after.GetFinalizers())
	g.Expect(ownedBy(t, after, legacyManager)).To(ContainElement(`.metadata.finalizers[="other.example.com/keep"]`))
}

// Row 24: after managedFields were reset, the release apply makes before-first-apply (an Update
// entry) own every field, the finalizer included; the takeover moves the finalizer from it, and
// the spec stays.
func TestRemove_TakesOverAfterManagedFieldsWereReset(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	obj := legacyWidget(t, ns, "reset")
	reset := client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"managedFields":[{}]}}`))
	g.Expect(cluster.Client.Patch(t.Context(), obj, reset)).To(Succeed())
	g.Expect(obj.GetManagedFields()).To(BeEmpty())
	var calls [][]string
	f := newFinalizer(t, cluster.Client, cleanup, ssa.FinalizerOptions{TakeOverLegacy: true, OnTakeOver: func(_ context.Context, _ client.Object, took ssa.TakeOver) {
		calls = append(calls, took.From)
	}})

	g.Expect(f.Remove(t.Context(), obj)).Error().To(Succeed())

	after := live(t, testcluster.WidgetGVK, obj)
	g.Expect(after.GetFinalizers()).To(BeEmpty())
	g.Expect(after.Object["spec"]).To(Equal(legacyWidgetSpec))
	diff(t, "OnTakeOver calls", [][]string{{"before-first-apply"}}, calls)
}

// An earlier Apply manager of the finalizer (ssakit's old shared "<controller>/finalizer", which
// also owned a sibling) is taken from only when named; the sibling stays its own.
func TestRemove_TakesOverFromANamedApplyManagerAndLeavesItsOtherFinalizer(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	obj := typedWidget.create(t, ns, "named-legacy")
	applyAs(t, obj, "widgets/finalizer", cleanup, "example.com/backup")

	_, err := newFinalizer(t, cluster.Client, cleanup, ssa.FinalizerOptions{TakeOverLegacy: true}).Remove(t.Context(), obj)
	_, coOwned := errors.AsType[*ssa.CoOwnedError](err)
	g.Expect(coOwned).To(BeTrue(), "an Apply manager that is not named is not legacy: error %v", err)

	g.Expect(newFinalizer(t, cluster.Client, cleanup, ssa.FinalizerOptions{TakeOverLegacy: true, LegacyManagers: []string{"widgets/finalizer"}}).Remove(t.Context(), obj)).Error().To(Succeed())

	after := live(t, testcluster.WidgetGVK, obj)
	diff(t, "finalizers", []string{"example.com/backup"}, after.GetFinalizers())
	diff(t, "what the old shared manager owns", []string{`.metadata.finalizers[="example.com/backup"]`}, ownedBy(t, after, "widgets/finalizer"))
}

// A user who applied the finalizer (kubectl apply --server-side) declared it: the takeover never
// takes it from an Apply manager that is not named, and sends no patch.
func TestRemove_NeverTakesFromAnApplyManagerThatIsNotNamed(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	obj := legacyWidget(t, ns, "user-applied")
	applyAs(t, obj, "kubectl", cleanup)
	c, rec := cluster.RecordingClient(t)

	_, err := newFinalizer(t, c, cleanup, ssa.FinalizerOptions{TakeOverLegacy: true}).Remove(t.Context(), obj)

	coOwned, ok := errors.AsType[*ssa.CoOwnedError](err)
	g.Expect(ok).To(BeTrue(), "error %v", err)
	diff(t, "co-owners", []string{"kubectl", legacyManager}, coOwned.CoOwners)
	diff(t, "requests: the release only", []string{http.MethodPatch}, methods(rec.Requests()))
	after := live(t, testcluster.WidgetGVK, obj)
	g.Expect(ownedBy(t, after, legacyManager)).To(ContainElement(`.metadata.finalizers[="example.com/cleanup"]`), "nothing was moved")
}

// writeBeforeFirstJSONPatch is a client that lets another writer change the object just before
// the first JSON patch goes out, so that the takeover meets a newer object.
type writeBeforeFirstJSONPatch struct {
	client.Client
	once  sync.Once
	write func(ctx context.Context)
}

func (c *writeBeforeFirstJSONPatch) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
	if patch.Type() == types.JSONPatchType {
		c.once.Do(func() { c.write(ctx) })
	}
	return c.Client.Patch(ctx, obj, patch, opts...)
}

// replaceByALegacyWidget deletes obj (its finalizers dropped) and creates a legacyWidget under its
// name, which it stores in successor.
func replaceByALegacyWidget(t *testing.T, obj client.Object, successor **testcluster.Widget) func(context.Context) {
	return func(ctx context.Context) {
		gone := typedWidget.get(t, obj).(*testcluster.Widget)
		gone.Finalizers = nil
		if err := cluster.Client.Update(ctx, gone); err != nil {
			t.Errorf("dropping the finalizers of %s: %v", obj.GetName(), err)
		}
		if err := cluster.Client.Delete(ctx, gone); err != nil {
			t.Errorf("deleting %s: %v", obj.GetName(), err)
		}
		*successor = legacyWidget(t, obj.GetNamespace(), obj.GetName())
	}
}

func labelByUser(t *testing.T, obj client.Object) func(context.Context) {
	return func(ctx context.Context) {
		patch := client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"labels":{"edited":"meanwhile"}}}`))
		if err := cluster.Client.Patch(ctx, typedWidget.get(t, obj), patch, client.FieldOwner(userManager)); err != nil {
			t.Errorf("the user's edit: %v", err)
		}
	}
}

// The takeover patch is guarded by resourceVersion: when the object changed since the answer it
// was computed from, it is refused; Remove applies again, for a fresh answer with managedFields
// whole, and computes the takeover again from it. The other writer's change, and its ownership,
// stay. No API reader is involved: one that returned trimmed managedFields would make the patch
// drop other managers' entries.
func TestRemove_RetriesATakeoverThatMetANewerObject(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	obj := legacyWidget(t, ns, "stale-takeover")
	c := &writeBeforeFirstJSONPatch{Client: cluster.Client, write: labelByUser(t, obj)}

	g.Expect(newFinalizer(t, c, cleanup, ssa.FinalizerOptions{TakeOverLegacy: true}).Remove(t.Context(), obj)).Error().To(Succeed())

	after := live(t, testcluster.WidgetGVK, obj)
	g.Expect(after.GetFinalizers()).To(BeEmpty())
	g.Expect(after.GetLabels()).To(HaveKeyWithValue("edited", "meanwhile"))
	g.Expect(ownedBy(t, after, userManager)).To(ContainElement(".metadata.labels.edited"), "the takeover kept the user's ownership of the label")
	g.Expect(ownedBy(t, after, legacyManager)).To(ContainElements(legacySpec), "and the legacy writer's")
}

// An object deleted and created again under its name between the release and the takeover is
// never touched: the retry's apply carries the UID, and Remove says the object was replaced.
func TestRemove_NeverTakesOverOnASuccessorUnderTheSameName(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	obj := legacyWidget(t, ns, "replaced-takeover")
	var successor *testcluster.Widget
	c := &writeBeforeFirstJSONPatch{Client: cluster.Client, write: replaceByALegacyWidget(t, obj, &successor)}

	_, err := newFinalizer(t, c, cleanup, ssa.FinalizerOptions{TakeOverLegacy: true}).Remove(t.Context(), obj)

	g.Expect(errors.Is(err, ssa.ErrReplaced)).To(BeTrue(), "error %v", err)
	after := live(t, testcluster.WidgetGVK, successor)
	diff(t, "the successor's finalizers", []string{cleanup}, after.GetFinalizers())
	g.Expect(ownedBy(t, after, legacyManager)).To(ContainElement(`.metadata.finalizers[="example.com/cleanup"]`), "the successor's ownership is untouched")
	g.Expect(ownedBy(t, after, finalizerManager)).To(BeEmpty())
}

// kubectl's client-side apply records what it applied in the last-applied annotation and writes
// as the Update manager "kubectl-client-side-apply": a finalizer it put there is taken over like
// any Update's, and the annotation, which is the user's, is left as it was.
func TestRemove_TakesOverAFinalizerKubectlClientSideApplyWrote(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	lastApplied := `{"apiVersion":"test.ssakit.dev/v1","kind":"Widget","metadata":{"finalizers":["example.com/cleanup"],"name":"csa","namespace":"` + ns + `"},"spec":{"color":"blue"}}`
	obj := &testcluster.Widget{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "csa", Finalizers: []string{cleanup},
		Annotations: map[string]string{"kubectl.kubernetes.io/last-applied-configuration": lastApplied}}, Spec: testcluster.WidgetSpec{Color: "blue"}}
	g.Expect(cluster.Client.Create(t.Context(), obj, client.FieldOwner("kubectl-client-side-apply"))).To(Succeed())

	g.Expect(newFinalizer(t, cluster.Client, cleanup, ssa.FinalizerOptions{TakeOverLegacy: true}).Remove(t.Context(), obj)).Error().To(Succeed())

	after := live(t, testcluster.WidgetGVK, obj)
	g.Expect(after.GetFinalizers()).To(BeEmpty())
	g.Expect(after.GetAnnotations()).To(HaveKeyWithValue("kubectl.kubernetes.io/last-applied-configuration", lastApplied))
	g.Expect(ownedBy(t, after, "kubectl-client-side-apply")).To(ContainElement(".spec.color"))
}

// An object replaced under its name while Add takes its finalizer over is not reported as
// protected: the retry's apply carries the UID, and Add says the object was replaced.
func TestAdd_ReportsAnObjectReplacedDuringTheTakeover(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	obj := legacyWidget(t, ns, "replaced-during-add")
	var successor *testcluster.Widget
	c := &writeBeforeFirstJSONPatch{Client: cluster.Client, write: replaceByALegacyWidget(t, obj, &successor)}

	_, err := newFinalizer(t, c, cleanup, ssa.FinalizerOptions{TakeOverLegacy: true}).Add(t.Context(), obj)

	g.Expect(errors.Is(err, ssa.ErrReplaced)).To(BeTrue(), "error %v", err)
	g.Expect(ownedBy(t, live(t, testcluster.WidgetGVK, successor), finalizerManager)).To(BeEmpty(), "the successor is untouched")
}

// A controller's cache may strip managedFields: Remove never works from the object it is given
// but from the answer to its own apply, so the takeover keeps every other manager's ownership.
func TestRemove_TakesOverFromAStrippedCachedCopyKeepingEveryOtherEntry(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	obj := legacyWidget(t, ns, "stripped-takeover")
	stripped := obj.DeepCopyObject().(*testcluster.Widget)
	stripped.ManagedFields = nil

	g.Expect(newFinalizer(t, cluster.Client, cleanup, ssa.FinalizerOptions{TakeOverLegacy: true}).Remove(t.Context(), stripped)).Error().To(Succeed())

	after := live(t, testcluster.WidgetGVK, obj)
	g.Expect(after.GetFinalizers()).To(BeEmpty())
	g.Expect(ownedBy(t, after, legacyManager)).To(ContainElements(legacySpec))
	g.Expect(ownedBy(t, after, userManager)).NotTo(BeEmpty(), "the creator's entry")
}

// Once its finalizer item is taken over, a legacy Update no longer owns the finalizer list
// either: it owned the list only because it created it with the item. What else it wrote stays
// its own; a controller that wrote nothing but the finalizer is named nowhere any more.
func TestTakeOver_LeavesTheLegacyManagerNoFinalizerListItOwnedOnlyForTheItem(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	spec := legacyWidget(t, ns, "with-spec")
	only := typedWidget.create(t, ns, "finalizer-only")
	addByUpdate(t.Context(), t, only, legacyManager, cleanup)
	g.Expect(ownedBy(t, only, legacyManager)).To(Equal([]string{".metadata.finalizers", `.metadata.finalizers[="example.com/cleanup"]`}))
	f := newFinalizer(t, cluster.Client, cleanup, ssa.FinalizerOptions{TakeOverLegacy: true})

	g.Expect(f.Add(t.Context(), spec)).Error().To(Succeed())
	g.Expect(f.Add(t.Context(), only)).Error().To(Succeed())

	withSpec := live(t, testcluster.WidgetGVK, spec)
	g.Expect(ownedBy(t, withSpec, legacyManager)).NotTo(ContainElement(HavePrefix(".metadata.finalizers")), "the legacy manager's finalizer list")
	g.Expect(ownedBy(t, withSpec, legacyManager)).To(ContainElements(legacySpec), "the legacy manager's spec")
	blame, err := ssa.Blame(live(t, testcluster.WidgetGVK, only))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(blame).NotTo(ContainSubstring(legacyManager), "blame of the object whose legacy writer wrote only the finalizer")
	diff(t, "managers", []string{userManager, finalizerManager}, managersOf(live(t, testcluster.WidgetGVK, only)))
}

// managersOf returns the managers of obj's managedFields entries, sorted.
func managersOf(obj client.Object) []string {
	var managers []string
	for _, e := range obj.GetManagedFields() {
		managers = append(managers, e.Manager)
	}
	slices.Sort(managers)
	return managers
}
