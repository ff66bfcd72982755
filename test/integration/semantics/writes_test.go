package semantics

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/util/csaupgrade"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Row 5: a plain write that leaves a finalizer out (an Update from an old read, as `kubectl
// replace` sends) removes it, whoever applied it: the applier's entry no longer owns it.
func TestRow5_UpdateThatDropsAFinalizerRemovesItFromEveryManager(t *testing.T) {
	for _, k := range bothKinds {
		t.Run(k.name, func(t *testing.T) {
			g := NewWithT(t)
			ns := cluster.Namespace(t)
			obj := createAsUser(t, k, ns, "row5")
			mustApply(t, finalizerManager, finalizerConfig(k, ns, "row5", obj.GetUID(), "example.com/fin"))
			replaced := get(t, k, ns, "row5")
			replaced.SetFinalizers(nil)

			g.Expect(cluster.Client.Update(t.Context(), replaced, client.FieldOwner(userManager))).To(Succeed())

			got := get(t, k, ns, "row5")
			g.Expect(got.GetFinalizers()).To(BeEmpty())
			g.Expect(entry(got, finalizerManager)).To(BeNil(), "the applier's entry, which owned only the finalizer")
		})
	}
}

// Row 20: two writers Update finalizers from the same read; the second one's resourceVersion is
// stale, so it is refused with a 409 and must read again. Nothing is lost.
func TestRow20_SecondUpdateFromTheSameReadIsAConflict(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	createAsUser(t, widget, ns, "row20")
	first, second := get(t, widget, ns, "row20"), get(t, widget, ns, "row20")
	first.SetFinalizers([]string{"first.example.com/fin"})
	second.SetFinalizers([]string{"second.example.com/fin"})

	g.Expect(cluster.Client.Update(t.Context(), first, client.FieldOwner("first"))).To(Succeed())
	err := cluster.Client.Update(t.Context(), second, client.FieldOwner("second"))

	g.Expect(apierrors.IsConflict(err)).To(BeTrue(), "want 409 Conflict, got %v", err)
	g.Expect(err.Error()).To(ContainSubstring("the object has been modified"))
	diff(t, "finalizers", []string{"first.example.com/fin"}, get(t, widget, ns, "row20").GetFinalizers())
}

// Row 20: an Update sends every field it read, but its manager comes to own only what it
// changed (structured-merge-diff's Updater): here the finalizer item and the list, and none of the
// user's spec, which it sent unchanged.
func TestRow20_AnUpdatesManagerOwnsWhatItChangedNotEverythingItSent(t *testing.T) {
	ns := cluster.Namespace(t)
	createAsUser(t, widget, ns, "row20-owns")
	read := get(t, widget, ns, "row20-owns")
	read.SetFinalizers([]string{"legacy.example.com/fin"})
	if err := cluster.Client.Update(t.Context(), read, client.FieldOwner(legacyManager)); err != nil {
		t.Fatal(err)
	}

	diff(t, "what the Update's manager owns", decodeFields(t, `{"f:metadata":{"f:finalizers":{".":{},"v:\"legacy.example.com/fin\"":{}}}}`),
		fieldsOf(t, get(t, widget, ns, "row20-owns"), legacyManager))
}

// Row 24: after managedFields were reset, Updates are not tracked, and the next apply gives every
// field that exists to a "before-first-apply" entry, a legacy finalizer included, so the
// applier's later release of everything leaves it there.
func TestRow24_ApplyAfterAResetGivesEveryExistingFieldToBeforeFirstApply(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	obj := createAsUser(t, widget, ns, "row24")
	reset := client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"managedFields":[{}]}}`))
	g.Expect(cluster.Client.Patch(t.Context(), obj, reset)).To(Succeed())
	legacy := get(t, widget, ns, "row24")
	legacy.SetFinalizers([]string{"example.com/legacy"})
	g.Expect(cluster.Client.Update(t.Context(), legacy, client.FieldOwner(legacyManager))).To(Succeed())
	g.Expect(get(t, widget, ns, "row24").GetManagedFields()).To(BeEmpty(), "an Update after the reset is not tracked")

	mustApply(t, finalizerManager, finalizerConfig(widget, ns, "row24", obj.GetUID(), "example.com/fin"))

	got := get(t, widget, ns, "row24")
	before := entry(got, "before-first-apply")
	g.Expect(before).NotTo(BeNil(), "a before-first-apply entry")
	g.Expect(before.Operation).To(Equal(metav1.ManagedFieldsOperationUpdate))
	g.Expect(fieldsOf(t, got, "before-first-apply")).To(HaveKeyWithValue("f:metadata", HaveKeyWithValue("f:finalizers",
		HaveKey(`v:"example.com/legacy"`))), "before-first-apply owns the legacy finalizer")
	g.Expect(fieldsOf(t, got, "before-first-apply")).To(HaveKeyWithValue("f:spec", HaveKey("f:color")), "and the spec")
	mustApply(t, finalizerManager, finalizerConfig(widget, ns, "row24", obj.GetUID()))
	diff(t, "finalizers after the applier released everything", []string{"example.com/legacy"}, get(t, widget, ns, "row24").GetFinalizers())
}

// Row 25: past 10 Update entries the oldest are merged into "ancient-changes"; an Apply entry
// never is.
func TestRow25_UpdateEntriesPastTenAreMergedIntoAncientChanges(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	obj := createAsUser(t, configMap, ns, "row25")
	mustApply(t, finalizerManager, finalizerConfig(configMap, ns, "row25", obj.GetUID(), "example.com/fin"))

	for i := range 12 {
		cm := &corev1.ConfigMap{}
		g.Expect(cluster.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "row25"}, cm)).To(Succeed())
		cm.Data[fmt.Sprintf("key-%d", i)] = "v"
		g.Expect(cluster.Client.Update(t.Context(), cm, client.FieldOwner(fmt.Sprintf("writer-%d", i)))).To(Succeed())
	}

	got := get(t, configMap, ns, "row25")
	updates := 0
	for _, e := range got.GetManagedFields() {
		if e.Operation == metav1.ManagedFieldsOperationUpdate {
			updates++
		}
	}
	g.Expect(entry(got, "ancient-changes")).NotTo(BeNil(), "an ancient-changes entry")
	g.Expect(updates).To(BeNumerically("<=", 10), "Update entries")
	g.Expect(entry(got, finalizerManager)).NotTo(BeNil(), "the Apply entry, never merged")
	g.Expect(entry(got, finalizerManager).Operation).To(Equal(metav1.ManagedFieldsOperationApply))
}

// Row 26: client-go's csaupgrade moves a legacy manager's whole field set, spec included, into
// the apply manager; that manager's next finalizer-only apply then deletes the spec it now owns
// alone.
func TestRow26_CSAUpgradeMovesTheWholeFieldSetSoAFinalizerOnlyApplyDeletesSpec(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	legacy := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "row26", Finalizers: []string{"example.com/fin"}},
		Data:       map[string]string{"written-by": "the legacy controller"},
	}
	g.Expect(cluster.Client.Create(t.Context(), legacy, client.FieldOwner(legacyManager))).To(Succeed())
	obj := get(t, configMap, ns, "row26")
	patch, err := csaupgrade.UpgradeManagedFieldsPatch(obj, sets.New(legacyManager), finalizerManager)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(cluster.Client.Patch(t.Context(), obj, client.RawPatch(types.JSONPatchType, patch))).To(Succeed())
	g.Expect(fieldsOf(t, get(t, configMap, ns, "row26"), finalizerManager)).To(HaveKey("f:data"), "the apply manager now owns data")

	mustApply(t, finalizerManager, finalizerConfig(configMap, ns, "row26", obj.GetUID(), "example.com/fin"))

	got := get(t, configMap, ns, "row26")
	g.Expect(got.Object).NotTo(HaveKey("data"), "the finalizer-only apply deleted the data the legacy controller wrote")
	diff(t, "finalizers", []string{"example.com/fin"}, got.GetFinalizers())
}

// Row 28: a create of a name that is taken is a 409 AlreadyExists, and the existing object is
// not touched: a create is an if-absent write.
func TestRow28_CreateOfATakenNameIsAlreadyExistsAndTouchesNothing(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	createAsUser(t, configMap, ns, "row28")
	before := get(t, configMap, ns, "row28")
	other := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "row28", Labels: map[string]string{"by": "other"}}, Data: map[string]string{"key": "other"}}

	err := cluster.Client.Create(t.Context(), other, client.FieldOwner("other"))

	g.Expect(apierrors.IsAlreadyExists(err)).To(BeTrue(), "want 409 AlreadyExists, got %v", err)
	diff(t, "the existing object", before, get(t, configMap, ns, "row28"))
}

// Row 29: a delete with a uid or resourceVersion precondition that no longer holds is a 409
// Conflict, and nothing is deleted.
func TestRow29_DeleteWithAPreconditionThatNoLongerHoldsIsAConflict(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	createAsUser(t, configMap, ns, "row29")
	read := get(t, configMap, ns, "row29")
	changed := read.DeepCopy()
	changed.SetLabels(map[string]string{"changed": "yes"})
	g.Expect(cluster.Client.Update(t.Context(), changed, client.FieldOwner(userManager))).To(Succeed())
	staleVersion, otherUID := read.GetResourceVersion(), types.UID("00000000-0000-0000-0000-000000000000")

	for name, pre := range map[string]client.Preconditions{
		"resourceVersion": {ResourceVersion: &staleVersion},
		"uid":             {UID: &otherUID},
	} {
		err := cluster.Client.Delete(t.Context(), read.DeepCopy(), pre)
		g.Expect(apierrors.IsConflict(err)).To(BeTrue(), "%s precondition: want 409 Conflict, got %v", name, err)
	}
	g.Expect(get(t, configMap, ns, "row29").GetLabels()).To(HaveKeyWithValue("changed", "yes"), "still there")
}

// Row 31: a JSON patch that replaces only metadata.managedFields, with the resourceVersion it was
// computed from, is written exactly as given: the patching manager gets no entry of its own, and
// the other entries are the ones sent. With a stale resourceVersion it is a 409 and nothing is
// written. ssa.FinalizerOptions.TakeOverLegacy moves a finalizer item this way.
func TestRow31_AManagedFieldsPatchIsTakenAsGivenAndGuardedByResourceVersion(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	obj := createAsUser(t, widget, ns, "row31")
	obj.SetFinalizers([]string{"example.com/fin"})
	g.Expect(cluster.Client.Update(t.Context(), obj, client.FieldOwner(legacyManager))).To(Succeed())
	before := get(t, widget, ns, "row31")
	var moved []metav1.ManagedFieldsEntry
	for _, e := range before.GetManagedFields() {
		if e.Manager != legacyManager {
			moved = append(moved, e)
		}
	}
	moved = append(moved, metav1.ManagedFieldsEntry{Manager: finalizerManager, Operation: metav1.ManagedFieldsOperationApply, APIVersion: "test.ssakit.dev/v1",
		FieldsType: "FieldsV1", FieldsV1: metav1.NewFieldsV1(`{"f:metadata":{"f:finalizers":{"v:\"example.com/fin\"":{}}}}`)})
	patch := func(resourceVersion string) client.Patch {
		raw, err := json.Marshal([]map[string]any{
			{"op": "replace", "path": "/metadata/managedFields", "value": moved},
			{"op": "replace", "path": "/metadata/resourceVersion", "value": resourceVersion},
		})
		g.Expect(err).NotTo(HaveOccurred())
		return client.RawPatch(types.JSONPatchType, raw)
	}

	g.Expect(cluster.Client.Patch(t.Context(), get(t, widget, ns, "row31"), patch(before.GetResourceVersion()), client.FieldOwner("patcher"))).To(Succeed())

	after := get(t, widget, ns, "row31")
	managers := func(obj client.Object) []string {
		var names []string
		for _, e := range obj.GetManagedFields() {
			names = append(names, e.Manager+"/"+string(e.Operation))
		}
		slices.Sort(names)
		return names
	}
	diff(t, "entries", []string{finalizerManager + "/Apply", userManager + "/Update"}, managers(after))
	diff(t, "finalizers", []string{"example.com/fin"}, after.GetFinalizers())

	err := cluster.Client.Patch(t.Context(), get(t, widget, ns, "row31"), patch(before.GetResourceVersion()), client.FieldOwner("patcher"))

	g.Expect(apierrors.IsConflict(err)).To(BeTrue(), "want 409 Conflict for a stale resourceVersion, got %v", err)
	diff(t, "resourceVersion after the refused patch", after.GetResourceVersion(), get(t, widget, ns, "row31").GetResourceVersion())
}
