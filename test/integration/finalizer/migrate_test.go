package finalizer

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp/cmpopts"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/ssakit/ssakit/internal/testcluster"
	"github.com/ssakit/ssakit/pkg/ssa"
)

// applyAs applies finalizers to obj as manager, as a controller that moved to ssakit before it
// took legacy finalizers over would have, or a user's kubectl apply --server-side.
func applyAs(t *testing.T, obj client.Object, manager string, finalizers ...string) {
	t.Helper()
	cluster.ApplyFinalizers(t, testcluster.WidgetGVK, obj, manager, finalizers...)
}

// A controller that applied its finalizer before it took legacy owners over co-owns it with the
// legacy Update: Add sees the manager's entry and sends nothing, so only Migrate moves the item,
// and it moves nothing else (rows 3 and 31).
func TestMigrate_TakesOverAFinalizerTheManagerAlreadyCoOwns(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	legacyWidget(t, ns, "co-owned")
	applyAs(t, live(t, testcluster.WidgetGVK, &testcluster.Widget{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "co-owned"}}), finalizerManager, cleanup)
	obj := live(t, testcluster.WidgetGVK, &testcluster.Widget{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "co-owned"}})
	c, rec := cluster.RecordingClient(t)
	f := newFinalizer(t, c, cleanup, ssa.FinalizerOptions{TakeOverLegacy: true})
	g.Expect(f.Add(t.Context(), obj.DeepCopy())).Error().To(Succeed())
	g.Expect(rec.Take()).To(BeEmpty(), "Add trusts the manager's entry")

	done, err := f.Migrate(t.Context(), obj)

	g.Expect(err).NotTo(HaveOccurred())
	diff(t, "migration", ssa.Migration{Object: done.Object, TakeFrom: []string{legacyManager}}, done)
	after := live(t, testcluster.WidgetGVK, obj)
	g.Expect(ownedBy(t, after, legacyManager)).To(ContainElements(legacySpec), "the legacy manager keeps its spec")
	g.Expect(ownedBy(t, after, legacyManager)).NotTo(ContainElement(ContainSubstring("finalizers[")), "the legacy manager no longer owns the finalizer")
	diff(t, "what the finalizer's manager owns", []string{`.metadata.finalizers[="example.com/cleanup"]`}, ownedBy(t, after, finalizerManager))
	g.Expect(after.Object["spec"]).To(Equal(legacyWidgetSpec))
	diff(t, "the object handed back is the live one", after.GetResourceVersion(), obj.GetResourceVersion())
}

// A rename puts the new name on, then releases the old one, whoever wrote it.
func TestMigrate_RenamesAndReleasesTheOldName(t *testing.T) {
	g := NewWithT(t)
	obj := withOldName(t, cluster.Namespace(t), "rename")
	f := newFinalizer(t, cluster.Client, cleanup, ssa.FinalizerOptions{TakeOverLegacy: true, FormerNames: []string{oldName}})

	done, err := f.Migrate(t.Context(), obj)

	g.Expect(err).NotTo(HaveOccurred())
	diff(t, "migration", ssa.Migration{Object: done.Object, Apply: true, PutOn: true, Release: []string{oldName}}, done)
	after := live(t, testcluster.WidgetGVK, obj)
	diff(t, "finalizers", []string{cleanup}, after.GetFinalizers())
	diff(t, "what the finalizer's manager owns", []string{`.metadata.finalizers[="example.com/cleanup"]`}, ownedBy(t, after, finalizerManager))
	g.Expect(ownedBy(t, after, legacyManager)).NotTo(ContainElement(ContainSubstring("finalizers[")))
}

// Migrate moves finalizers; it never protects an object the controller did not protect.
func TestMigrate_NeverAddsTheFinalizerToAnObjectThatCarriesNeitherName(t *testing.T) {
	g := NewWithT(t)
	obj := typedWidget.create(t, cluster.Namespace(t), "unprotected")
	c, rec := cluster.RecordingClient(t)
	f := newFinalizer(t, c, cleanup, ssa.FinalizerOptions{TakeOverLegacy: true, FormerNames: []string{oldName}})

	done, err := f.Migrate(t.Context(), live(t, testcluster.WidgetGVK, obj))

	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(done.Changes()).To(BeFalse())
	g.Expect(done.Kept).To(ConsistOf(ContainSubstring("carries neither")))
	g.Expect(rec.Take()).To(BeEmpty())
	g.Expect(live(t, testcluster.WidgetGVK, obj).GetFinalizers()).To(BeEmpty())
}

// A terminating object cannot take the new name (row 12): it keeps the old one, untouched, for
// the controller's Remove.
func TestMigrate_LeavesATerminatingObjectItsOldName(t *testing.T) {
	g := NewWithT(t)
	obj := withOldName(t, cluster.Namespace(t), "terminating")
	g.Expect(cluster.Client.Delete(t.Context(), obj)).To(Succeed())
	c, rec := cluster.RecordingClient(t)
	f := newFinalizer(t, c, cleanup, ssa.FinalizerOptions{TakeOverLegacy: true, FormerNames: []string{oldName}})

	done, err := f.Migrate(t.Context(), live(t, testcluster.WidgetGVK, obj))

	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(done.Changes()).To(BeFalse())
	g.Expect(done.Kept).To(ConsistOf(ContainSubstring("terminating")))
	g.Expect(rec.Take()).To(BeEmpty())
	diff(t, "finalizers", []string{oldName}, live(t, testcluster.WidgetGVK, obj).GetFinalizers())
}

// An Apply owner that LegacyManagers does not name declared the finalizer itself (a user's
// kubectl apply --server-side): the plan says it stays, and Migrate leaves it co-owned.
func TestMigrate_KeepsAnApplyOwnerItIsNotToldToTakeFrom(t *testing.T) {
	g := NewWithT(t)
	obj := legacyWidget(t, cluster.Namespace(t), "user-applied")
	applyAs(t, obj, "kubectl", cleanup)
	f := newFinalizer(t, cluster.Client, cleanup, ssa.FinalizerOptions{TakeOverLegacy: true})

	done, err := f.Migrate(t.Context(), live(t, testcluster.WidgetGVK, obj))

	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(done.TakeFrom).To(BeEmpty())
	g.Expect(done.Kept).To(ConsistOf(ContainSubstring(`"kubectl (Apply)"`)))
	after := live(t, testcluster.WidgetGVK, obj)
	g.Expect(ownedBy(t, after, legacyManager)).To(ContainElement(`.metadata.finalizers[="example.com/cleanup"]`), "nothing was moved")
	g.Expect(ownedBy(t, after, "kubectl")).To(ContainElement(`.metadata.finalizers[="example.com/cleanup"]`))
}

// PlanMigration is Migrate's dry run: on a live object it predicts what Migrate does, and sends
// nothing.
func TestPlanMigration_PredictsWhatMigrateDoesWithoutARequest(t *testing.T) {
	ns := cluster.Namespace(t)
	objects := map[string]client.Object{
		"update":    legacyWidget(t, ns, "plan-update"),
		"rename":    withOldName(t, ns, "plan-rename"),
		"migrated":  legacyWidget(t, ns, "plan-migrated"),
		"untouched": typedWidget.create(t, ns, "plan-untouched"),
	}
	// What each plan does, its Kept notes aside.
	want := map[string]ssa.Migration{
		"update":    {Apply: true, TakeFrom: []string{legacyManager}},
		"rename":    {Apply: true, PutOn: true, Release: []string{oldName}},
		"migrated":  {},
		"untouched": {},
	}
	migrated := newFinalizer(t, cluster.Client, cleanup, ssa.FinalizerOptions{TakeOverLegacy: true, FormerNames: []string{oldName}})
	if _, err := migrated.Migrate(t.Context(), live(t, testcluster.WidgetGVK, objects["migrated"])); err != nil {
		t.Fatal(err)
	}
	for shape, obj := range objects {
		t.Run(shape, func(t *testing.T) {
			c, rec := cluster.RecordingClient(t)
			f := newFinalizer(t, c, cleanup, ssa.FinalizerOptions{TakeOverLegacy: true, FormerNames: []string{oldName}})

			plan, err := f.PlanMigration(live(t, testcluster.WidgetGVK, obj))
			if err != nil {
				t.Fatal(err)
			}
			diff(t, "requests of the plan", []string(nil), methods(rec.Take()))
			diff(t, "plan", want[shape], plan, cmpopts.IgnoreFields(ssa.Migration{}, "Object", "Kept"))
			done, err := f.Migrate(t.Context(), live(t, testcluster.WidgetGVK, obj))
			if err != nil {
				t.Fatal(err)
			}

			diff(t, "what Migrate did against the plan", plan, done)
			if plan.Changes() {
				// One apply, a takeover or a release's takeover and apply: never a read.
				for _, m := range methods(rec.Take()) {
					diff(t, "method", http.MethodPatch, m)
				}
			}
		})
	}
}

// A copy from a cache that strips managedFields shows no owner, but Migrate plans its takeover
// from the server's answer to its apply, never from the copy.
func TestMigrate_OnAStrippedCopyTakesOverFromTheServersAnswer(t *testing.T) {
	g := NewWithT(t)
	obj := legacyWidget(t, cluster.Namespace(t), "stripped")
	stripped := live(t, testcluster.WidgetGVK, obj)
	stripped.SetManagedFields(nil)
	f := newFinalizer(t, cluster.Client, cleanup, ssa.FinalizerOptions{TakeOverLegacy: true})

	done, err := f.Migrate(t.Context(), stripped)

	g.Expect(err).NotTo(HaveOccurred())
	diff(t, "migration", ssa.Migration{Object: done.Object, Apply: true, TakeFrom: []string{legacyManager}}, done)
	after := live(t, testcluster.WidgetGVK, obj)
	diff(t, "what the finalizer's manager owns", []string{`.metadata.finalizers[="example.com/cleanup"]`}, ownedBy(t, after, finalizerManager))
	g.Expect(ownedBy(t, after, legacyManager)).To(ContainElements(legacySpec), "the legacy manager keeps its spec")
}

// The finalizer is put on only under the resourceVersion of the copy that showed the former name: a
// copy read before the former name was removed gets ErrStale, and the object nothing (row 11).
func TestMigrate_NeverPutsTheFinalizerOnAnObjectThatLostItsFormerNameSinceItWasRead(t *testing.T) {
	g := NewWithT(t)
	obj := withOldName(t, cluster.Namespace(t), "lost-old-name")
	stale := live(t, testcluster.WidgetGVK, obj)
	controllerutil.RemoveFinalizer(obj, oldName)
	g.Expect(cluster.Client.Update(t.Context(), obj, client.FieldOwner(legacyManager))).To(Succeed())
	f := newFinalizer(t, cluster.Client, cleanup, ssa.FinalizerOptions{TakeOverLegacy: true, FormerNames: []string{oldName}})

	_, err := f.Migrate(t.Context(), stale)

	g.Expect(err).To(MatchError(ssa.ErrStale))
	diff(t, "finalizers", []string(nil), live(t, testcluster.WidgetGVK, obj).GetFinalizers())
}

// A rename interrupted after the takeover leaves the former name owned by the manager: the first
// apply releases it, and Migrate says so, as its plan did.
func TestMigrate_ReportsTheFormerNameItsFirstApplyReleased(t *testing.T) {
	g := NewWithT(t)
	obj := typedWidget.create(t, cluster.Namespace(t), "interrupted")
	applyAs(t, obj, finalizerManager, cleanup, oldName)
	f := newFinalizer(t, cluster.Client, cleanup, ssa.FinalizerOptions{TakeOverLegacy: true, FormerNames: []string{oldName}})
	plan, err := f.PlanMigration(live(t, testcluster.WidgetGVK, obj))
	g.Expect(err).NotTo(HaveOccurred())

	done, err := f.Migrate(t.Context(), live(t, testcluster.WidgetGVK, obj))

	g.Expect(err).NotTo(HaveOccurred())
	diff(t, "migration", ssa.Migration{Object: done.Object, Release: []string{oldName}}, done)
	diff(t, "what Migrate did against the plan", plan, done)
	diff(t, "finalizers", []string{cleanup}, live(t, testcluster.WidgetGVK, obj).GetFinalizers())
}

// A takeover that meets an Apply owner which arrived after the first apply writes nothing from
// it: Migrate reports no takeover, and says in Kept who still owns the finalizer.
func TestMigrate_ReportsOnlyTheTakeoverItWrote(t *testing.T) {
	g := NewWithT(t)
	obj := legacyWidget(t, cluster.Namespace(t), "blocked-takeover")
	c := &writeBeforeFirstJSONPatch{Client: cluster.Client, write: func(context.Context) { applyAs(t, obj, "kubectl", cleanup) }}
	f := newFinalizer(t, c, cleanup, ssa.FinalizerOptions{TakeOverLegacy: true})

	done, err := f.Migrate(t.Context(), live(t, testcluster.WidgetGVK, obj))

	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(done.TakeFrom).To(BeEmpty())
	g.Expect(done.Kept).To(ConsistOf(ContainSubstring(`"kubectl (Apply)"`)))
	g.Expect(ownedBy(t, live(t, testcluster.WidgetGVK, obj), legacyManager)).To(ContainElement(`.metadata.finalizers[="example.com/cleanup"]`), "nothing was moved")
}

// After a managedFields reset the server's answer to the first apply names every field as
// owned by before-first-apply (row 24): the plan expects it, and Migrate takes the finalizer from it.
func TestPlanMigration_ExpectsBeforeFirstApplyAfterAReset(t *testing.T) {
	g := NewWithT(t)
	obj := legacyWidget(t, cluster.Namespace(t), "reset")
	g.Expect(cluster.Client.Patch(t.Context(), obj, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"managedFields":[{}]}}`)))).To(Succeed())
	f := newFinalizer(t, cluster.Client, cleanup, ssa.FinalizerOptions{TakeOverLegacy: true})

	plan, err := f.PlanMigration(live(t, testcluster.WidgetGVK, obj))
	g.Expect(err).NotTo(HaveOccurred())
	done, err := f.Migrate(t.Context(), live(t, testcluster.WidgetGVK, obj))

	g.Expect(err).NotTo(HaveOccurred())
	diff(t, "plan", ssa.Migration{Object: plan.Object, Apply: true, TakeFrom: []string{"before-first-apply"}}, plan)
	diff(t, "what Migrate did against the plan", plan, done)
	g.Expect(live(t, testcluster.WidgetGVK, obj).Object["spec"]).To(Equal(legacyWidgetSpec))
}

// A former name owned through a subresource cannot be taken over: the finalizer is put on, the
// former name stays, and Kept says why; nothing fails halfway.
func TestMigrate_KeepsAFormerNameOwnedThroughASubresource(t *testing.T) {
	g := NewWithT(t)
	obj := withOldName(t, cluster.Namespace(t), "status-owned")
	entries := live(t, testcluster.WidgetGVK, obj).GetManagedFields()
	for i := range entries {
		if entries[i].Manager == legacyManager {
			entries[i].Subresource = "status"
		}
	}
	patch, err := json.Marshal([]map[string]any{{"op": "replace", "path": "/metadata/managedFields", "value": entries}})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(cluster.Client.Patch(t.Context(), obj, client.RawPatch(types.JSONPatchType, patch))).To(Succeed())
	f := newFinalizer(t, cluster.Client, cleanup, ssa.FinalizerOptions{TakeOverLegacy: true, FormerNames: []string{oldName}})
	plan, err := f.PlanMigration(live(t, testcluster.WidgetGVK, obj))
	g.Expect(err).NotTo(HaveOccurred())

	done, err := f.Migrate(t.Context(), live(t, testcluster.WidgetGVK, obj))

	g.Expect(err).NotTo(HaveOccurred())
	diff(t, "what Migrate did against the plan", plan, done)
	diff(t, "migration", ssa.Migration{Object: done.Object, Apply: true, PutOn: true}, done, cmpopts.IgnoreFields(ssa.Migration{}, "Kept"))
	g.Expect(done.Kept).To(ConsistOf(ContainSubstring("through a subresource")))
	diff(t, "finalizers", []string{oldName, cleanup}, live(t, testcluster.WidgetGVK, obj).GetFinalizers())
}
