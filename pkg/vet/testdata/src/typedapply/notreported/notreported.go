// Package notreported holds applies TypedApply must not report, one case per function.
package notreported

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ssakit/ssakit/pkg/reconcile"

	"typedapply/widget"
)

func patchUnstructuredWithApply(ctx context.Context, c client.Client, u *unstructured.Unstructured) error {
	return c.Patch(ctx, u, client.Apply, client.FieldOwner("widgets"))
}

// Every field of metav1.PartialObjectMetadata is left out when zero: it sends what is set.
func patchPartialObjectMetadataWithApply(ctx context.Context, c client.Client, m *metav1.PartialObjectMetadata) error {
	return c.Patch(ctx, m, client.Apply)
}

// The object's type is not known here.
func patchObjectOfInterfaceTypeWithApply(ctx context.Context, c client.Client, obj client.Object) error {
	return c.Patch(ctx, obj, client.Apply)
}

func patchTypedObjectWithMergeFrom(ctx context.Context, c client.Client, w *widget.Widget) error {
	return c.Patch(ctx, w, client.MergeFrom(w.DeepCopyObject().(*widget.Widget)))
}

func updateTypedObject(ctx context.Context, c client.Client, w *widget.Widget) error {
	return c.Update(ctx, w)
}

func applyConfigurationFromUnstructuredBuiltByHand(ctx context.Context, c client.Client) error {
	u := &unstructured.Unstructured{Object: map[string]interface{}{
		"apiVersion": "example.com/v1", "kind": "Widget",
		"metadata": map[string]interface{}{"name": "w"},
		"spec":     map[string]interface{}{"replicas": int64(2)},
	}}
	return c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u))
}

// Content assigned twice could come from either.
func applyConfigurationFromContentAssignedTwice(ctx context.Context, c client.Client, w *widget.Widget, raw map[string]interface{}) error {
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(w)
	if err != nil {
		return err
	}
	if raw != nil {
		content = raw
	}
	return c.Apply(ctx, client.ApplyConfigurationFromUnstructured(&unstructured.Unstructured{Object: content}))
}

// An Unstructured converted from another Unstructured holds only what that one held.
func applyConfigurationFromConvertedUnstructured(ctx context.Context, c client.Client, u *unstructured.Unstructured) error {
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(u)
	if err != nil {
		return err
	}
	return c.Apply(ctx, client.ApplyConfigurationFromUnstructured(&unstructured.Unstructured{Object: content}))
}

func statusApplierWithApplyConfiguration(ctx context.Context, a *reconcile.StatusApplier, s *widget.Sprocket) error {
	phase := "Ready"
	return a.Apply(ctx, s, &widget.SprocketStatusApplyConfiguration{Phase: &phase})
}

func statusApplierWithMap(ctx context.Context, a *reconcile.StatusApplier, s *widget.Sprocket) error {
	return a.Apply(ctx, s, map[string]any{"phase": "Ready"})
}

// Only the object's own status type is known to be a typed status.
func statusApplierWithObjectOfInterfaceType(ctx context.Context, a *reconcile.StatusApplier, obj client.Object, status widget.SprocketStatus) error {
	return a.Apply(ctx, obj, status)
}

// A type parameter's type is not known here either.
func patchObjectOfTypeParameterWithApply[T client.Object](ctx context.Context, c client.Client, obj T) error {
	return c.Patch(ctx, obj, client.Apply)
}

func applyConfigurationFromVariablesAssignedEachOther(ctx context.Context, c client.Client) error {
	var a, b *unstructured.Unstructured
	a = b
	b = a
	return c.Apply(ctx, client.ApplyConfigurationFromUnstructured(a))
}
