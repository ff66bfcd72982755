package finalizer

import (
	"errors"
	"net/http"
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ssakit/ssakit/internal/testcluster"
	"github.com/ssakit/ssakit/pkg/ssa"
)

// Answers without managedFields (KEP-5958, docs/ssa-semantics.md row 32): a client that asks the
// API server to leave them out gets objects, and answers to its applies, with none. ssakit proves
// what it can from the finalizer list, and never moves ownership it cannot see.

// withoutManagedFields returns a client whose answers carry no managedFields and that records its
// requests, and obj read through it.
func withoutManagedFields(t *testing.T, obj client.Object) (client.Client, *testcluster.Recorder, *testcluster.Widget) {
	t.Helper()
	cfg, rec := testcluster.Recording(testcluster.WithoutManagedFields(cluster.Config))
	c := cluster.ClientFor(t, cfg)
	read := &testcluster.Widget{}
	if err := c.Get(t.Context(), client.ObjectKeyFromObject(obj), read); err != nil {
		t.Fatal(err)
	}
	if len(read.ManagedFields) != 0 {
		t.Fatalf("the client's answer carries managedFields: %v", read.ManagedFields)
	}
	rec.Reset()
	return c, rec, read
}

func TestAdd_WithoutManagedFieldsInAnswersAppliesAndReportsTheFinalizerOn(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	c, rec, obj := withoutManagedFields(t, typedWidget.create(t, ns, "add"))
	f := newFinalizer(t, c, cleanup, ssa.FinalizerOptions{})

	g.Expect(f.Add(t.Context(), obj)).Error().To(Succeed())
	g.Expect(f.Add(t.Context(), obj)).Error().To(Succeed())

	diff(t, "requests: the answer cannot show the finalizer owned, so each Add applies", []string{http.MethodPatch, http.MethodPatch}, methods(rec.Requests()))
	diff(t, "finalizers handed back", []string{cleanup}, obj.GetFinalizers())
	diff(t, "what the finalizer's manager owns", []string{`.metadata.finalizers[="example.com/cleanup"]`}, ownedBy(t, live(t, testcluster.WidgetGVK, obj), finalizerManager))
}

func TestRemove_WithoutManagedFieldsInAnswersRemovesAFinalizerOnlyItsManagerOwns(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	created := typedWidget.create(t, ns, "remove")
	applyAs(t, created, finalizerManager, cleanup)
	c, _, obj := withoutManagedFields(t, created)

	g.Expect(newFinalizer(t, c, cleanup, ssa.FinalizerOptions{}).Remove(t.Context(), obj)).Error().To(Succeed())

	g.Expect(live(t, testcluster.WidgetGVK, obj).GetFinalizers()).To(BeEmpty())
}

// The answer shows the finalizer still there, but not who else owns it: not a CoOwnedError, whose
// empty co-owners would blame a managedFields reset.
func TestRemove_WithoutManagedFieldsInAnswersSaysTheyAreMissingWhenTheFinalizerStays(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	legacy := legacyWidget(t, ns, "co-owned")
	c, _, obj := withoutManagedFields(t, legacy)

	_, err := newFinalizer(t, c, cleanup, ssa.FinalizerOptions{}).Remove(t.Context(), obj)

	g.Expect(errors.Is(err, ssa.ErrNoManagedFields)).To(BeTrue(), "error %v", err)
	_, coOwned := errors.AsType[*ssa.CoOwnedError](err)
	g.Expect(coOwned).To(BeFalse(), "error %v", err)
	g.Expect(err.Error()).To(ContainSubstring("give ssakit a client whose answers carry managedFields"))
	diff(t, "finalizers", []string{cleanup}, live(t, testcluster.WidgetGVK, obj).GetFinalizers())
}

// The takeover patch sets the whole managedFields list: computed from an answer without them, it
// would strip every other manager's ownership. Nothing is patched.
func TestTakeOver_WithoutManagedFieldsInAnswersMovesNothingAndSaysWhy(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	legacy := legacyWidget(t, ns, "takeover")
	before := live(t, testcluster.WidgetGVK, legacy)
	g.Expect(ownedBy(t, before, legacyManager)).To(ContainElements(`.metadata.finalizers[="example.com/cleanup"]`, ".spec.color"))
	c, rec, obj := withoutManagedFields(t, legacy)

	_, err := newFinalizer(t, c, cleanup, ssa.FinalizerOptions{TakeOverLegacy: true}).Remove(t.Context(), obj)

	g.Expect(errors.Is(err, ssa.ErrNoManagedFields)).To(BeTrue(), "error %v", err)
	diff(t, "requests: the release only, no managedFields patch", []string{http.MethodPatch}, methods(rec.Requests()))
	after := live(t, testcluster.WidgetGVK, obj)
	diff(t, "finalizers", []string{cleanup}, after.GetFinalizers())
	diff(t, "what the legacy Update owns", ownedBy(t, before, legacyManager), ownedBy(t, after, legacyManager))
	diff(t, "what the user owns", ownedBy(t, before, userManager), ownedBy(t, after, userManager))
}

// A rename puts the new name on, then cannot release the old one: the object keeps both, never
// neither, and the error says why.
func TestRename_WithoutManagedFieldsInAnswersKeepsBothNamesAndSaysWhy(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	legacy := withOldName(t, ns, "rename")
	before := live(t, testcluster.WidgetGVK, legacy)
	c, _, obj := withoutManagedFields(t, legacy)

	_, err := newFinalizer(t, c, cleanup, ssa.FinalizerOptions{FormerNames: []string{oldName}}).Add(t.Context(), obj)

	g.Expect(errors.Is(err, ssa.ErrNoManagedFields)).To(BeTrue(), "error %v", err)
	after := live(t, testcluster.WidgetGVK, obj)
	diff(t, "finalizers", []string{oldName, cleanup}, after.GetFinalizers())
	diff(t, "what the legacy Update owns", ownedBy(t, before, legacyManager), ownedBy(t, after, legacyManager))
}

// Objects whose managedFields were dropped (kubernetes#136919 drops them all on a non-apply write
// while a conversion webhook is down; a reset does the same): the first apply gives every field
// to before-first-apply (row 24), which records no writer's intent. ssakit recovers without
// being told to take over.

// resetManagedFields drops every managedFields entry of obj, as kubernetes#136919 leaves objects.
func resetManagedFields(t *testing.T, obj client.Object) {
	t.Helper()
	reset := client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"managedFields":[{}]}}`))
	if err := cluster.Client.Patch(t.Context(), obj, reset); err != nil {
		t.Fatalf("resetting managedFields: %v", err)
	}
	if len(obj.GetManagedFields()) != 0 {
		t.Fatalf("managedFields after the reset: %v", obj.GetManagedFields())
	}
}

func TestAdd_AfterManagedFieldsWereDroppedOwnsTheFinalizerAgain(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	obj := typedWidget.create(t, ns, "add-after-reset")
	f := newFinalizer(t, cluster.Client, cleanup, ssa.FinalizerOptions{})
	g.Expect(f.Add(t.Context(), obj)).Error().To(Succeed())
	resetManagedFields(t, obj)

	g.Expect(f.Add(t.Context(), obj)).Error().To(Succeed())

	after := live(t, testcluster.WidgetGVK, obj)
	diff(t, "finalizers", []string{cleanup}, after.GetFinalizers())
	diff(t, "what the finalizer's manager owns", []string{`.metadata.finalizers[="example.com/cleanup"]`}, ownedBy(t, after, finalizerManager))
	g.Expect(after.Object["spec"]).To(Equal(map[string]any{"color": "blue", "replicas": int64(1)}))
}

func TestRemove_AfterManagedFieldsWereDroppedTakesItsFinalizerFromBeforeFirstApply(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	obj := typedWidget.create(t, ns, "remove-after-reset")
	f := newFinalizer(t, cluster.Client, cleanup, ssa.FinalizerOptions{}) // no TakeOverLegacy
	g.Expect(f.Add(t.Context(), obj)).Error().To(Succeed())
	resetManagedFields(t, obj)

	g.Expect(f.Remove(t.Context(), obj)).Error().To(Succeed())

	after := live(t, testcluster.WidgetGVK, obj)
	g.Expect(after.GetFinalizers()).To(BeEmpty())
	g.Expect(after.Object["spec"]).To(Equal(map[string]any{"color": "blue", "replicas": int64(1)}), "the spec before-first-apply owns stays")
	g.Expect(ownedBy(t, after, "before-first-apply")).To(ContainElement(".spec.color"))
}

// A finalizer a legacy Update added, on an object whose managedFields were then dropped: the
// takeover finds only before-first-apply and moves the item, nothing else.
func TestTakeOver_AfterManagedFieldsWereDroppedMovesOnlyTheFinalizer(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	obj := legacyWidget(t, ns, "takeover-after-reset")
	other := "other.example.com/keep"
	addByUpdate(t.Context(), t, obj, "other-operator", other)
	resetManagedFields(t, obj)

	g.Expect(newFinalizer(t, cluster.Client, cleanup, ssa.FinalizerOptions{TakeOverLegacy: true}).Remove(t.Context(), obj)).Error().To(Succeed())

	after := live(t, testcluster.WidgetGVK, obj)
	diff(t, "finalizers", []string{other}, after.GetFinalizers())
	g.Expect(ownedBy(t, after, "before-first-apply")).To(ContainElements(".spec.color", `.metadata.finalizers[="other.example.com/keep"]`))
}

func TestRename_AfterManagedFieldsWereDroppedReleasesTheOldName(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	obj := withOldName(t, ns, "rename-after-reset")
	resetManagedFields(t, obj)

	g.Expect(newFinalizer(t, cluster.Client, cleanup, ssa.FinalizerOptions{FormerNames: []string{oldName}}).Add(t.Context(), obj)).Error().To(Succeed())

	after := live(t, testcluster.WidgetGVK, obj)
	diff(t, "finalizers", []string{cleanup}, after.GetFinalizers())
	diff(t, "what the finalizer's manager owns", []string{`.metadata.finalizers[="example.com/cleanup"]`}, ownedBy(t, after, finalizerManager))
}
