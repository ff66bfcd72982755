package answer

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestInto_ReplacesEveryFieldOfATypedObject(t *testing.T) {
	obj := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "cm", ResourceVersion: "1", Labels: map[string]string{"stale": "yes"}},
		Data:       map[string]string{"stale": "value"},
	}
	answer := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "cm", "resourceVersion": "7"},
		"data":     map[string]any{"fresh": "value"},
	}}

	if err := Into(obj, answer); err != nil {
		t.Fatal(err)
	}

	want := &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: "cm", ResourceVersion: "7"},
		Data:       map[string]string{"fresh": "value"},
	}
	if d := cmp.Diff(want, obj); d != "" {
		t.Errorf("object (-want +got):\n%s", d)
	}
}

func TestInto_LeavesTheObjectAsItWasWhenTheAnswerDoesNotConvert(t *testing.T) {
	obj := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm", ResourceVersion: "1"}, Data: map[string]string{"k": "v"}}
	before := obj.DeepCopy()
	answer := &unstructured.Unstructured{Object: map[string]any{
		"metadata": map[string]any{"name": "cm", "resourceVersion": "7"},
		"data":     "not a map",
	}}

	if err := Into(obj, answer); err == nil {
		t.Fatal("Into accepted data that is not a map")
	}

	if d := cmp.Diff(before, obj); d != "" {
		t.Errorf("object after a failed conversion (-want +got):\n%s", d)
	}
}

func TestInto_ReplacesAnUnstructuredObjectsContent(t *testing.T) {
	obj := &unstructured.Unstructured{Object: map[string]any{"stale": true}}
	answer := &unstructured.Unstructured{Object: map[string]any{"fresh": true}}

	if err := Into(obj, answer); err != nil {
		t.Fatal(err)
	}

	if d := cmp.Diff(answer.Object, obj.Object); d != "" {
		t.Errorf("content (-want +got):\n%s", d)
	}
}

// The answer's managedFields reach a typed object with their fields intact, whichever way
// apimachinery holds FieldsV1: bytes, or a string under the fieldsv1string build tag
// (docs/ssa-semantics.md row 33; `make test-fieldsv1string` runs this test with the tag).
func TestInto_KeepsTheFieldsOfManagedFieldsEntries(t *testing.T) {
	const fields = `{"f:metadata":{"f:finalizers":{"v:\"example.com/cleanup\"":{}}}}`
	obj := &corev1.ConfigMap{}
	answer := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "cm", "managedFields": []any{map[string]any{
			"manager": "op/finalizer", "operation": "Apply", "apiVersion": "v1", "fieldsType": "FieldsV1",
			"fieldsV1": map[string]any{"f:metadata": map[string]any{"f:finalizers": map[string]any{`v:"example.com/cleanup"`: map[string]any{}}}},
		}}},
	}}

	if err := Into(obj, answer); err != nil {
		t.Fatal(err)
	}

	if len(obj.ManagedFields) != 1 || obj.ManagedFields[0].FieldsV1 == nil {
		t.Fatalf("managedFields: %v", obj.ManagedFields)
	}
	if d := cmp.Diff(fields, obj.ManagedFields[0].FieldsV1.GetRawString()); d != "" {
		t.Errorf("fieldsV1 (-want +got):\n%s", d)
	}
}
