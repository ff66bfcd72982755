package ssa_test

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/ssakit/ssakit/pkg/ssa"
)

func ExampleServerTypeConverter() {
	widgets := schema.GroupVersion{Group: "example.com", Version: "v1"}
	// Built once at start-up: a change to the CRD's schema needs a new converter.
	tc, err := ssa.ServerTypeConverter(ctrl.GetConfigOrDie(), widgets)
	if err != nil {
		panic(err) // names the group-version the server does not serve
	}

	desired := &unstructured.Unstructured{Object: map[string]any{
		"metadata": map[string]any{"name": "w", "namespace": "demo"},
		"status": map[string]any{"conditions": []any{map[string]any{
			"type": "Ready", "status": "True", "reason": "Reconciled", "message": "",
			"lastTransitionTime": "2026-01-01T00:00:00Z",
		}}},
	}}
	desired.SetGroupVersionKind(widgets.WithKind("Widget"))
	typed, err := tc.ObjectToTyped(desired)
	if err != nil {
		panic(err)
	}
	// With the CRD's x-kubernetes-list-map-keys the set holds .status.conditions[type="Ready"],
	// the path managedFields uses, not an atomic .status.conditions.
	fields, err := typed.ToFieldSet()
	if err != nil {
		panic(err)
	}
	fmt.Println(fields)
}
