// Package writes holds the calls writeOf and patchOf recognize, and calls they must not: the
// test analyzer reports each recognized write as "<object|subresource> <method> [<patch>]".
package writes

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func updateThroughClient(ctx context.Context, c client.Client, cm *corev1.ConfigMap) error {
	return c.Update(ctx, cm) // want `^object Update$`
}

func updateThroughWriter(ctx context.Context, w client.Writer, cm *corev1.ConfigMap) error {
	return w.Update(ctx, cm, client.FieldOwner("x")) // want `^object Update$`
}

type reconciler struct {
	client.Client
	writer client.Client
}

func (r *reconciler) updateThroughEmbeddedClient(ctx context.Context, cm *corev1.ConfigMap) error {
	return r.Update(ctx, cm) // want `^object Update$`
}

func (r *reconciler) updateThroughClientField(ctx context.Context, cm *corev1.ConfigMap) error {
	return r.writer.Update(ctx, cm) // want `^object Update$`
}

// wrapper is a client of its own that implements client.Writer's Update.
type wrapper struct{ client.Client }

func (w wrapper) Update(ctx context.Context, obj client.Object, opts ...client.UpdateOption) error {
	return w.Client.Update(ctx, obj, opts...) // want `^object Update$`
}

func updateThroughWrapper(ctx context.Context, w wrapper, cm *corev1.ConfigMap) error {
	return w.Update(ctx, cm) // want `^object Update$`
}

func updateStatus(ctx context.Context, c client.Client, cm *corev1.ConfigMap) error {
	return c.Status().Update(ctx, cm) // want `^subresource Update$`
}

func updateThroughStatusWriter(ctx context.Context, w client.StatusWriter, cm *corev1.ConfigMap) error {
	return w.Update(ctx, cm) // want `^subresource Update$`
}

func patchMergeFrom(ctx context.Context, c client.Client, cm *corev1.ConfigMap) error {
	return c.Patch(ctx, cm, client.MergeFrom(cm)) // want `^object Patch merge client.MergeFrom$`
}

func patchMergeFromWithOptions(ctx context.Context, c client.Client, cm *corev1.ConfigMap) error {
	return c.Patch(ctx, cm, client.MergeFromWithOptions(cm, client.MergeFromWithOptimisticLock{})) // want `^object Patch locked merge client.MergeFromWithOptions$`
}

func patchMergeFromWithOptimisticLockPointer(ctx context.Context, c client.Client, cm *corev1.ConfigMap) error {
	return c.Patch(ctx, cm, client.MergeFromWithOptions(cm, &client.MergeFromWithOptimisticLock{})) // want `^object Patch locked merge client.MergeFromWithOptions$`
}

func patchMergeFromWithoutOptions(ctx context.Context, c client.Client, cm *corev1.ConfigMap) error {
	return c.Patch(ctx, cm, client.MergeFromWithOptions(cm)) // want `^object Patch merge client.MergeFromWithOptions$`
}

func patchMerge(ctx context.Context, c client.Client, cm *corev1.ConfigMap) error {
	return c.Patch(ctx, cm, client.Merge) // want `^object Patch merge client.Merge$`
}

func patchStoredMergeFrom(ctx context.Context, c client.Client, cm *corev1.ConfigMap) error {
	patch := client.MergeFrom(cm)
	return c.Patch(ctx, cm, patch) // want `^object Patch merge client.MergeFrom$`
}

func patchDeclaredMergeFrom(ctx context.Context, c client.Client, cm *corev1.ConfigMap) error {
	var patch = client.MergeFrom(cm)
	return c.Patch(ctx, cm, patch) // want `^object Patch merge client.MergeFrom$`
}

func patchApply(ctx context.Context, c client.Client, cm *corev1.ConfigMap) error {
	return c.Patch(ctx, cm, client.Apply, client.ForceOwnership) // want `^object Patch apply client.Apply$`
}

func patchStatusApply(ctx context.Context, c client.Client, cm *corev1.ConfigMap) error {
	return c.SubResource("status").Patch(ctx, cm, client.Apply) // want `^subresource Patch apply client.Apply$`
}

func patchStrategicMergeFrom(ctx context.Context, c client.Client, cm *corev1.ConfigMap) error {
	return c.Patch(ctx, cm, client.StrategicMergeFrom(cm)) // want `^object Patch other$`
}

func patchRaw(ctx context.Context, c client.Client, cm *corev1.ConfigMap) error {
	return c.Patch(ctx, cm, client.RawPatch(types.MergePatchType, []byte(`{}`))) // want `^object Patch merge client.RawPatch\(types.MergePatchType\)$`
}

func patchRawJSON(ctx context.Context, c client.Client, cm *corev1.ConfigMap) error {
	return c.Patch(ctx, cm, client.RawPatch(types.JSONPatchType, []byte(`[]`))) // want `^object Patch other$`
}

func patchParameter(ctx context.Context, c client.Client, cm *corev1.ConfigMap, patch client.Patch) error {
	return c.Patch(ctx, cm, patch) // want `^object Patch other$`
}

func patchReassigned(ctx context.Context, c client.Client, cm *corev1.ConfigMap) error {
	patch := client.MergeFrom(cm)
	patch = client.Apply
	return c.Patch(ctx, cm, patch) // want `^object Patch other$`
}

func patchOfVariablesAssignedEachOther(ctx context.Context, c client.Client, cm *corev1.ConfigMap) error {
	var a, b client.Patch
	a = b
	b = a
	return c.Patch(ctx, cm, a) // want `^object Patch other$`
}

func createAndDelete(ctx context.Context, c client.Client, cm *corev1.ConfigMap) error {
	if err := c.Create(ctx, cm); err != nil {
		return err
	}
	return c.Delete(ctx, cm)
}

// store has Update and Patch methods that are not a client's.
type store struct{}

func (store) Update(ctx context.Context, obj client.Object) error                    { return nil }
func (store) Patch(ctx context.Context, obj client.Object, patch client.Patch) error { return nil }
func (store) UpdateAll(ctx context.Context, obj client.Object, opts ...client.UpdateOption) error {
	return nil
}

// queue's Update is variadic, with fewer parameters than a client's.
type queue struct{}

func (queue) Update(keys ...string) {}

func updateQueue(q queue) {
	q.Update("a", "b")
}

func writeToStore(ctx context.Context, s store, cm *corev1.ConfigMap) error {
	if err := s.UpdateAll(ctx, cm); err != nil {
		return err
	}
	if err := s.Patch(ctx, cm, client.Apply); err != nil {
		return err
	}
	return s.Update(ctx, cm) // want `^object Update$`
}

func updateFunctionValue(ctx context.Context, update func(context.Context, client.Object, ...client.UpdateOption) error, cm *corev1.ConfigMap) error {
	return update(ctx, cm)
}
