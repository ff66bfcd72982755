// Package reported holds the typed applies TypedApply reports, one case per function.
package reported

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ssakit/ssakit/pkg/reconcile"

	"typedapply/widget"
)

func patchTypedObjectWithApply(ctx context.Context, c client.Client, w *widget.Widget) error {
	return c.Patch(ctx, w, client.Apply, client.FieldOwner("widgets")) // want `^c.Patch with client.Apply of typed \*widget.Widget sends every field its JSON encoding keeps, zero values included \(spec.replicas, spec.paused, spec.storage and 1 more even when unset\), and the field manager comes to own them \(https://github.com/kubernetes-sigs/controller-runtime/issues/1669\); apply an apply configuration with Client.Apply instead \(controller-runtime v0.22 or later; generated with \+kubebuilder:ac:generate=true, or client-go's\), or client.ApplyConfigurationFromUnstructured of an Unstructured holding only the fields to set$`
}

func patchTypedObjectWhoseListItemsSendOptionalFields(ctx context.Context, c client.Client, g *widget.Gadget) error {
	return c.Patch(ctx, g, client.Apply) // want `of typed \*widget.Gadget sends every field its JSON encoding keeps, zero values included \(spec.size and spec.ports\[\].targetPort even when unset\)`
}

func patchBuiltinTypeWithApply(ctx context.Context, c client.Client, cm *corev1.ConfigMap) error {
	return c.Patch(ctx, cm, client.Apply) // want `^c.Patch with client.Apply of typed \*v1.ConfigMap: client.Apply as a patch type is deprecated in controller-runtime v0.25; apply an apply configuration with Client.Apply instead \(controller-runtime v0.22 or later; generated with \+kubebuilder:ac:generate=true, or client-go's\), or client.ApplyConfigurationFromUnstructured of an Unstructured holding only the fields to set$`
}

func patchTypedObjectWithStoredApplyPatch(ctx context.Context, c client.Client, g *widget.Gadget) error {
	patch := client.Apply
	return c.Patch(ctx, g, patch) // want `of typed \*widget.Gadget sends every field`
}

// The object's own apply counts spec only: the server drops status from it. With no zero value
// sent, the deprecation is the reason left.
func patchTypedObjectWhoseUnsetFieldsAreStatus(ctx context.Context, c client.Client, s *widget.Sprocket) error {
	return c.Patch(ctx, s, client.Apply) // want `^c.Patch with client.Apply of typed \*widget.Sprocket: client.Apply as a patch type is deprecated in controller-runtime v0.25; apply an apply configuration`
}

// The status writer's apply counts status only.
func patchTypedStatusWithApply(ctx context.Context, c client.Client, w *widget.Widget) error {
	return c.Status().Patch(ctx, w, client.Apply, client.ForceOwnership) // want `^c.Status\(\).Patch with client.Apply of typed \*widget.Widget sends every field its JSON encoding keeps, zero values included \(status.phase even when unset\)`
}

func patchTypedValueAddressWithApply(ctx context.Context, c client.Client) error {
	var g widget.Gadget
	return c.Patch(ctx, &g, client.Apply) // want `of typed \*widget.Gadget sends every field`
}

func applyConfigurationFromConvertedTypedObject(ctx context.Context, c client.Client, w *widget.Widget) error {
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(w)
	if err != nil {
		return err
	}
	return c.Apply(ctx, client.ApplyConfigurationFromUnstructured(&unstructured.Unstructured{Object: content})) // want `^client.ApplyConfigurationFromUnstructured of an Unstructured converted from typed \*widget.Widget \(line 51\) sends every field that type's JSON encoding keeps, zero values included \(spec.replicas, spec.paused, spec.storage and 2 more even when unset\), and the field manager comes to own them`
}

func applyConfigurationFromConvertedTypedObjectVariable(ctx context.Context, c client.Client, g *widget.Gadget) error {
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(g)
	if err != nil {
		return err
	}
	u := &unstructured.Unstructured{Object: content}
	ac := client.ApplyConfigurationFromUnstructured(u) // want `converted from typed \*widget.Gadget \(line 59\) sends every field that type's JSON encoding keeps, zero values included \(spec.size and spec.ports\[\].targetPort even when unset\)`
	return c.Apply(ctx, ac)
}

func patchConvertedTypedObjectWithApply(ctx context.Context, c client.Client, g *widget.Gadget) error {
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(g)
	if err != nil {
		return err
	}
	return c.Patch(ctx, &unstructured.Unstructured{Object: content}, client.Apply) // want `^c.Patch with client.Apply of an Unstructured converted from typed \*widget.Gadget \(line 69\)`
}

func patchConvertedTypedObjectWithoutZeroValuesWithApply(ctx context.Context, c client.Client, s *widget.Sprocket) error {
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(s)
	if err != nil {
		return err
	}
	return c.Patch(ctx, &unstructured.Unstructured{Object: content}, client.Apply) // want `^c.Patch with client.Apply of an Unstructured converted from typed \*widget.Sprocket \(line 77\): client.Apply as a patch type is deprecated in controller-runtime v0.25; apply an apply configuration`
}

func statusApplierWithTypedStatus(ctx context.Context, a *reconcile.StatusApplier, s *widget.Sprocket) error {
	s.Status.Phase = "Ready"
	return a.Apply(ctx, s, s.Status) // want `^reconcile.StatusApplier.Apply of typed status widget.SprocketStatus sends every field its JSON encoding keeps, zero values included \(status.phase even when unset\), and the controller comes to own them \(https://github.com/kubernetes-sigs/controller-runtime/issues/1669\); pass the status apply configuration generated with \+kubebuilder:ac:generate=true instead$`
}

func statusApplierWithTypedStatusPointer(ctx context.Context, a *reconcile.StatusApplier, w *widget.Widget) error {
	return a.Apply(ctx, w, &w.Status) // want `of typed status \*widget.WidgetStatus sends every field`
}

func statusApplierWithTypedStatusLiteral(ctx context.Context, a *reconcile.StatusApplier, g *widget.Gadget) error {
	return a.Apply(ctx, g, widget.GadgetStatus{}) // want `of typed status widget.GadgetStatus sends every field its JSON encoding keeps, zero values included, and the controller`
}
