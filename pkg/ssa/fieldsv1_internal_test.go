package ssa

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The managedFields patch of a takeover sends each entry's fields as a JSON object, whichever way
// apimachinery holds FieldsV1: bytes, or a string under the fieldsv1string build tag
// (docs/ssa-semantics.md row 33; `make test-fieldsv1string` runs this test with the tag).
func TestManagedFieldsPatch_SendsFieldsAsAJSONObjectUnderEitherFieldsV1(t *testing.T) {
	set, err := ParseOwnership([]metav1.ManagedFieldsEntry{{Manager: "op/finalizer", Operation: metav1.ManagedFieldsOperationApply,
		FieldsType: "FieldsV1", FieldsV1: metav1.NewFieldsV1(`{"f:metadata":{"f:finalizers":{"v:\"example.com/cleanup\"":{}}}}`)}})
	if err != nil {
		t.Fatal(err)
	}
	fields, err := fieldsV1(set.Entries[0].Fields)
	if err != nil {
		t.Fatal(err)
	}

	patch, err := managedFieldsPatch([]metav1.ManagedFieldsEntry{{Manager: "op/finalizer", Operation: metav1.ManagedFieldsOperationApply, FieldsType: "FieldsV1", FieldsV1: fields}}, "42")
	if err != nil {
		t.Fatal(err)
	}

	var got []map[string]any
	if err := json.Unmarshal(patch, &got); err != nil {
		t.Fatal(err)
	}
	want := []map[string]any{
		{"op": "replace", "path": "/metadata/managedFields", "value": []any{map[string]any{
			"manager": "op/finalizer", "operation": "Apply", "fieldsType": "FieldsV1",
			"fieldsV1": map[string]any{"f:metadata": map[string]any{"f:finalizers": map[string]any{`v:"example.com/cleanup"`: map[string]any{}}}},
		}}},
		{"op": "replace", "path": "/metadata/resourceVersion", "value": "42"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("patch (-want +got):\n%s", d)
	}
}
