package patterns

import (
	"context"
	"encoding/json"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"finalizerupdate/patterns/helpers"
)

// A JSON patch changes only what it lists.
func setFinalizersThenRawJSONPatch(ctx context.Context, c client.Client, cm *corev1.ConfigMap, patch []byte) error {
	cm.SetFinalizers(nil)
	return c.Patch(ctx, cm, client.RawPatch(types.JSONPatchType, patch))
}

// Finalizers set on an object before it is created: no Update entry to release.
func literalFinalizersThenCreate(ctx context.Context, c client.Client) error {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Finalizers: []string{finalizer}}}
	return c.Create(ctx, cm)
}

// The status subresource takes nothing but the status.
func assignFinalizersThenStatusUpdate(ctx context.Context, r *reconciler, cm *corev1.ConfigMap) error { // want assignFinalizersThenStatusUpdate:"changesFinalizers\\[2\\]"
	cm.Finalizers = nil
	_, err := r.configMaps.UpdateStatus(ctx, cm, metav1.UpdateOptions{})
	return err
}

// A helper that only reads the object changes no finalizer.
func readingHelperThenUpdate(ctx context.Context, c client.Client, cm *corev1.ConfigMap) error {
	cm.Labels = map[string]string{"name": helpers.Name(cm)}
	return c.Update(ctx, cm)
}

// The helper changes another object than the one written.
func (r *reconciler) helperOnCopyThenUpdateOfOriginal(ctx context.Context, cm *corev1.ConfigMap) error {
	cmCopy := cm.DeepCopyObject().(*corev1.ConfigMap)
	_ = r.reconcile(ctx, cmCopy)
	return r.Update(ctx, cm)
}

// The merge patch of the original carries the copy's labels, not its finalizers.
func (r *reconciler) helperOnCopyThenRawMergePatchOfLabels(ctx context.Context, cm *corev1.ConfigMap) error {
	cmCopy := cm.DeepCopyObject().(*corev1.ConfigMap)
	_ = r.reconcile(ctx, cmCopy)
	data, _ := json.Marshal(map[string]any{"metadata": map[string]any{"labels": cmCopy.Labels}})
	return r.Patch(ctx, cm, client.RawPatch(types.MergePatchType, data))
}
