package semantics

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// lostFinalizersObjects is the number of objects rows 18 and 19 were observed with.
const lostFinalizersObjects = 40

// Rows 18 and 19: two writers read every object once, then each adds its own finalizer to what it
// read. The test returns how many objects lost a finalizer.
func countLostFinalizers(t *testing.T, addFinalizer func(read *unstructured.Unstructured, writer, finalizer string) error) int {
	t.Helper()
	ns := cluster.Namespace(t)
	writers := map[string]string{"writer-a": "a.example.com/cleanup", "writer-b": "b.example.com/cleanup"}
	for i := range lostFinalizersObjects {
		createAsUser(t, widget, ns, fmt.Sprintf("obj-%02d", i))
	}
	reads := map[string][]*unstructured.Unstructured{}
	for writer := range writers {
		for i := range lostFinalizersObjects {
			reads[writer] = append(reads[writer], get(t, widget, ns, fmt.Sprintf("obj-%02d", i)))
		}
	}
	for _, writer := range slices.Sorted(maps.Keys(writers)) {
		for _, read := range reads[writer] {
			if err := addFinalizer(read, writer, writers[writer]); err != nil {
				t.Fatalf("%s adding %s to %s: %v", writer, writers[writer], read.GetName(), err)
			}
		}
	}
	lost := 0
	for i := range lostFinalizersObjects {
		got := get(t, widget, ns, fmt.Sprintf("obj-%02d", i)).GetFinalizers()
		for _, finalizer := range writers {
			if !slices.Contains(got, finalizer) {
				lost++
			}
		}
	}
	return lost
}

// Row 18: a JSON merge patch replaces the whole finalizer list, so the second writer silently
// drops the first writer's finalizer on every object.
func TestRow18_MergePatchFromTheSameReadLosesFinalizers(t *testing.T) {
	lost := countLostFinalizers(t, func(read *unstructured.Unstructured, writer, finalizer string) error {
		modified := read.DeepCopy()
		modified.SetFinalizers(append(modified.GetFinalizers(), finalizer))
		return cluster.Client.Patch(t.Context(), modified, client.MergeFrom(read), client.FieldOwner(writer))
	})

	NewWithT(t).Expect(lost).To(Equal(lostFinalizersObjects), "finalizers lost")
}

// Row 19: the same two writers as two Server-Side Apply managers lose nothing.
func TestRow19_TwoApplyManagersLoseNoFinalizers(t *testing.T) {
	lost := countLostFinalizers(t, func(read *unstructured.Unstructured, writer, finalizer string) error {
		return applyAs(t.Context(), cluster.Client, writer+"/finalizers",
			finalizerConfig(widget, read.GetNamespace(), read.GetName(), read.GetUID(), finalizer))
	})

	NewWithT(t).Expect(lost).To(Equal(0), "finalizers lost")
}
