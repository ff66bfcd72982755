package semantics

import (
	"slices"
	"testing"

	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Row 1: metadata.finalizers is a set; an Apply entry owns exactly its item.
func TestRow1_ApplyEntryOwnsOnlyItsFinalizerItem(t *testing.T) {
	for _, k := range bothKinds {
		t.Run(k.name, func(t *testing.T) {
			ns := cluster.Namespace(t)
			obj := createAsUser(t, k, ns, "row1")

			mustApply(t, finalizerManager, finalizerConfig(k, ns, "row1", obj.GetUID(), "example.com/fin"))

			want := decodeFields(t, `{"f:metadata":{"f:finalizers":{"v:\"example.com/fin\"":{}}}}`)
			diff(t, "finalizer manager's fields", want, fieldsOf(t, get(t, k, ns, "row1"), finalizerManager))
		})
	}
}

// Row 1: an Update entry that created the list also owns the list itself (".").
func TestRow1_UpdateThatCreatesTheListAlsoOwnsTheList(t *testing.T) {
	for _, k := range bothKinds {
		t.Run(k.name, func(t *testing.T) {
			ns := cluster.Namespace(t)
			obj := createAsUser(t, k, ns, "row1-update")

			obj.SetFinalizers([]string{"example.com/legacy"})
			if err := cluster.Client.Update(t.Context(), obj, client.FieldOwner(legacyManager)); err != nil {
				t.Fatalf("update: %v", err)
			}

			want := decodeFields(t, `{"f:metadata":{"f:finalizers":{".":{},"v:\"example.com/legacy\"":{}}}}`)
			diff(t, "legacy manager's fields", want, fieldsOf(t, get(t, k, ns, "row1-update"), legacyManager))
		})
	}
}

// Row 2: two managers applying the same finalizer both own it, without force and without conflict.
func TestRow2_TwoManagersApplyingOneFinalizerBothOwnIt(t *testing.T) {
	for _, k := range bothKinds {
		t.Run(k.name, func(t *testing.T) {
			ns := cluster.Namespace(t)
			obj := createAsUser(t, k, ns, "row2")

			mustApply(t, "first/finalizers", finalizerConfig(k, ns, "row2", obj.GetUID(), "example.com/shared"))
			mustApply(t, "second/finalizers", finalizerConfig(k, ns, "row2", obj.GetUID(), "example.com/shared"))

			got := get(t, k, ns, "row2")
			want := decodeFields(t, `{"f:metadata":{"f:finalizers":{"v:\"example.com/shared\"":{}}}}`)
			diff(t, "first manager's fields", want, fieldsOf(t, got, "first/finalizers"))
			diff(t, "second manager's fields", want, fieldsOf(t, got, "second/finalizers"))
			diff(t, "finalizers", []string{"example.com/shared"}, got.GetFinalizers())
		})
	}
}

// Row 3: a finalizer the manager owned alone and leaves out of its next apply is removed.
func TestRow3_OmittedFinalizerOwnedOnlyByTheApplierIsRemoved(t *testing.T) {
	for _, k := range bothKinds {
		t.Run(k.name, func(t *testing.T) {
			ns := cluster.Namespace(t)
			obj := createAsUser(t, k, ns, "row3")
			mustApply(t, finalizerManager, finalizerConfig(k, ns, "row3", obj.GetUID(), "example.com/keep", "example.com/drop"))

			mustApply(t, finalizerManager, finalizerConfig(k, ns, "row3", obj.GetUID(), "example.com/keep"))

			diff(t, "finalizers", []string{"example.com/keep"}, get(t, k, ns, "row3").GetFinalizers())
		})
	}
}

// Row 3: a finalizer the manager leaves out stays while a legacy Update manager still owns it;
// only the applier's claim is dropped.
func TestRow3_OmittedFinalizerCoOwnedByAnUpdateManagerStays(t *testing.T) {
	for _, k := range bothKinds {
		t.Run(k.name, func(t *testing.T) {
			ns := cluster.Namespace(t)
			obj := createAsUser(t, k, ns, "row3-legacy")
			obj.SetFinalizers([]string{"example.com/legacy"})
			if err := cluster.Client.Update(t.Context(), obj, client.FieldOwner(legacyManager)); err != nil {
				t.Fatalf("update: %v", err)
			}
			mustApply(t, finalizerManager, finalizerConfig(k, ns, "row3-legacy", obj.GetUID(), "example.com/own", "example.com/legacy"))

			mustApply(t, finalizerManager, finalizerConfig(k, ns, "row3-legacy", obj.GetUID(), "example.com/own"))

			got := get(t, k, ns, "row3-legacy")
			diff(t, "finalizers", []string{"example.com/legacy", "example.com/own"}, sorted(got.GetFinalizers()))
			diff(t, "applier's fields", decodeFields(t, `{"f:metadata":{"f:finalizers":{"v:\"example.com/own\"":{}}}}`), fieldsOf(t, got, finalizerManager))
			diff(t, "legacy manager's fields", decodeFields(t, `{"f:metadata":{"f:finalizers":{".":{},"v:\"example.com/legacy\"":{}}}}`), fieldsOf(t, got, legacyManager))
		})
	}
}

// Row 4: an apply that lists no fields removes the manager's entry and the fields only it owned.
func TestRow4_EmptyApplyRemovesTheEntryAndItsFinalizers(t *testing.T) {
	for _, k := range bothKinds {
		t.Run(k.name, func(t *testing.T) {
			ns := cluster.Namespace(t)
			obj := createAsUser(t, k, ns, "row4")
			mustApply(t, finalizerManager, finalizerConfig(k, ns, "row4", obj.GetUID(), "example.com/fin"))

			mustApply(t, finalizerManager, finalizerConfig(k, ns, "row4", obj.GetUID()))

			got := get(t, k, ns, "row4")
			diff(t, "finalizers", []string(nil), got.GetFinalizers())
			if e := entry(got, finalizerManager); e != nil {
				t.Errorf("the finalizer manager still has an entry: %+v", e)
			}
		})
	}
}

// Row 4: after managedFields were reset, an empty apply of a manager with no entry removes nothing.
func TestRow4_EmptyApplyAfterManagedFieldsResetRemovesNothing(t *testing.T) {
	for _, k := range bothKinds {
		t.Run(k.name, func(t *testing.T) {
			g := NewWithT(t)
			ns := cluster.Namespace(t)
			obj := createAsUser(t, k, ns, "row4-reset")
			mustApply(t, finalizerManager, finalizerConfig(k, ns, "row4-reset", obj.GetUID(), "example.com/fin"))
			reset := client.RawPatch("application/merge-patch+json", []byte(`{"metadata":{"managedFields":[{}]}}`))
			g.Expect(cluster.Client.Patch(t.Context(), obj, reset)).To(Succeed())
			g.Expect(get(t, k, ns, "row4-reset").GetManagedFields()).To(BeEmpty(), "managedFields after the reset")

			mustApply(t, finalizerManager, finalizerConfig(k, ns, "row4-reset", obj.GetUID()))

			diff(t, "finalizers", []string{"example.com/fin"}, get(t, k, ns, "row4-reset").GetFinalizers())
		})
	}
}

// Row 6: finalizer changes do not bump metadata.generation of a custom resource, with or without
// a status subresource, and a defaulted spec field keeps its value; setting deletionTimestamp does
// bump the generation.
func TestRow6_FinalizerChangesDoNotBumpGeneration(t *testing.T) {
	for _, k := range []kind{widget, gadget} {
		t.Run(k.name, func(t *testing.T) {
			g := NewWithT(t)
			ns := cluster.Namespace(t)
			obj := createAsUser(t, k, ns, "row6")
			g.Expect(obj.GetGeneration()).To(Equal(int64(1)), "generation after create")

			mustApply(t, finalizerManager, finalizerConfig(k, ns, "row6", obj.GetUID(), "example.com/fin"))

			got := get(t, k, ns, "row6")
			g.Expect(got.GetGeneration()).To(Equal(int64(1)), "generation after adding a finalizer")
			diff(t, "spec", map[string]any{"color": "blue", "replicas": int64(1)}, got.Object["spec"])

			g.Expect(cluster.Client.Delete(t.Context(), got)).To(Succeed())
			g.Expect(get(t, k, ns, "row6").GetGeneration()).To(Equal(int64(2)), "generation after the delete set deletionTimestamp")
		})
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
