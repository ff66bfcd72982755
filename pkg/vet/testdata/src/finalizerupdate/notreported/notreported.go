// Package notreported holds finalizer code FinalizerUpdate must not report, one case per
// function.
package notreported

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/ssakit/ssakit/pkg/ssa"
)

const finalizer = "example.com/cleanup"

func addFinalizerWithoutWrite(cm *corev1.ConfigMap) bool { // want addFinalizerWithoutWrite:"changesFinalizers\\[0\\]"
	return controllerutil.AddFinalizer(cm, finalizer)
}

func addFinalizerThenUpdateOfAnotherObject(ctx context.Context, c client.Client, cm, other *corev1.ConfigMap) error { // want addFinalizerThenUpdateOfAnotherObject:"changesFinalizers\\[2\\]"
	controllerutil.AddFinalizer(cm, finalizer)
	return c.Update(ctx, other)
}

func updateBeforeAddFinalizer(ctx context.Context, c client.Client, cm *corev1.ConfigMap) error {
	if err := c.Update(ctx, cm); err != nil {
		return err
	}
	controllerutil.AddFinalizer(cm, finalizer)
	return nil
}

// The server takes only the status from a status write.
func addFinalizerThenStatusUpdate(ctx context.Context, c client.Client, cm *corev1.ConfigMap) error { // want addFinalizerThenStatusUpdate:"changesFinalizers\\[2\\]"
	controllerutil.AddFinalizer(cm, finalizer)
	return c.Status().Update(ctx, cm)
}

func addFinalizerThenStatusPatchMergeFrom(ctx context.Context, c client.Client, cm *corev1.ConfigMap) error { // want addFinalizerThenStatusPatchMergeFrom:"changesFinalizers\\[2\\]"
	before := cm.DeepCopyObject().(*corev1.ConfigMap)
	controllerutil.AddFinalizer(cm, finalizer)
	return c.Status().Patch(ctx, cm, client.MergeFrom(before))
}

func addFinalizerThenPatchApply(ctx context.Context, c client.Client, cm *corev1.ConfigMap) error {
	controllerutil.AddFinalizer(cm, finalizer)
	return c.Patch(ctx, cm, client.Apply, client.FieldOwner("example"))
}

func addFinalizerThenJSONPatch(ctx context.Context, c client.Client, cm *corev1.ConfigMap) error {
	controllerutil.AddFinalizer(cm, finalizer)
	return c.Patch(ctx, cm, client.RawPatch(types.JSONPatchType, []byte(`[{"op":"add","path":"/metadata/finalizers/-","value":"example.com/cleanup"}]`)))
}

// A strategic merge patch merges metadata.finalizers item by item.
func addFinalizerThenStrategicMergePatch(ctx context.Context, c client.Client, cm *corev1.ConfigMap) error {
	before := cm.DeepCopyObject().(*corev1.ConfigMap)
	controllerutil.AddFinalizer(cm, finalizer)
	return c.Patch(ctx, cm, client.StrategicMergeFrom(before))
}

// A patch variable assigned twice could hold either patch.
func addFinalizerThenPatchOfReassignedVariable(ctx context.Context, c client.Client, cm *corev1.ConfigMap, raw []byte) error {
	patch := client.MergeFrom(cm.DeepCopyObject().(*corev1.ConfigMap))
	if raw != nil {
		patch = client.RawPatch(types.JSONPatchType, raw)
	}
	controllerutil.AddFinalizer(cm, finalizer)
	return c.Patch(ctx, cm, patch)
}

// The helper changes the finalizers for its caller to write, but this caller writes only the
// status.
func addFinalizerInHelper(cm *corev1.ConfigMap) { // want addFinalizerInHelper:"changesFinalizers\\[0\\]"
	controllerutil.AddFinalizer(cm, finalizer)
}

func statusUpdateAfterHelper(ctx context.Context, c client.Client, cm *corev1.ConfigMap) error { // want statusUpdateAfterHelper:"changesFinalizers\\[2\\]"
	addFinalizerInHelper(cm)
	return c.Status().Update(ctx, cm)
}

func addFinalizerToOwnerInCreateOrUpdateOfChild(ctx context.Context, c client.Client, owner, child *corev1.ConfigMap) error { // want addFinalizerToOwnerInCreateOrUpdateOfChild:"changesFinalizers\\[2\\]"
	_, err := controllerutil.CreateOrUpdate(ctx, c, child, func() error {
		controllerutil.AddFinalizer(owner, finalizer)
		return nil
	})
	return err
}

func containsFinalizerThenUpdate(ctx context.Context, c client.Client, cm *corev1.ConfigMap) error {
	if controllerutil.ContainsFinalizer(cm, finalizer) {
		return nil
	}
	return c.Update(ctx, cm)
}

func ssaFinalizerAdd(ctx context.Context, f *ssa.Finalizer, cm *corev1.ConfigMap) error {
	_, err := f.Add(ctx, cm)
	return err
}

// An Update method of a type that is neither a client nor shaped like one (no context): a
// cache. (A wrapper's Update(ctx, obj) is taken for a client's.)
type cache struct{}

func (cache) Update(obj client.Object) error { return nil }

func addFinalizerThenUpdateOfCache(ctx context.Context, c cache, cm *corev1.ConfigMap) error { // want addFinalizerThenUpdateOfCache:"changesFinalizers\\[2\\]"
	controllerutil.AddFinalizer(cm, finalizer)
	return c.Update(cm)
}

// The branch that removes the finalizer returns before the Update below can run.
func removeFinalizerInBranchThatReturnsBeforeUpdate(ctx context.Context, c client.Client, cm *corev1.ConfigMap, patch []byte) error {
	if cm.DeletionTimestamp != nil {
		controllerutil.RemoveFinalizer(cm, finalizer)
		return c.Patch(ctx, cm, client.RawPatch(types.JSONPatchType, patch))
	}
	cm.Data = map[string]string{"key": "value"}
	return c.Update(ctx, cm)
}

// The branch that removes the finalizer returns before the deferred Update is registered.
func removeFinalizerInBranchThatReturnsBeforeDeferredUpdate(ctx context.Context, c client.Client, cm *corev1.ConfigMap, patch []byte) error {
	if cm.DeletionTimestamp != nil {
		controllerutil.RemoveFinalizer(cm, finalizer)
		return c.Patch(ctx, cm, client.RawPatch(types.JSONPatchType, patch))
	}
	defer c.Update(ctx, cm)
	cm.Data = map[string]string{"key": "value"}
	return nil
}

// A defer in a closure runs when the closure returns: here, before the finalizer change.
func addFinalizerAfterClosureWithDeferredUpdate(ctx context.Context, c client.Client, cm *corev1.ConfigMap) error {
	func() {
		defer c.Update(ctx, cm)
	}()
	controllerutil.AddFinalizer(cm, finalizer)
	return nil
}

// A deferred status write takes nothing but the status.
func addFinalizerAfterDeferredStatusUpdate(ctx context.Context, c client.Client, cm *corev1.ConfigMap) error { // want addFinalizerAfterDeferredStatusUpdate:"changesFinalizers\\[2\\]"
	defer c.Status().Update(ctx, cm)
	controllerutil.AddFinalizer(cm, finalizer)
	return nil
}

// protection is a platform's finalizer this package removes before a delete but never adds: no
// apply of the package's own can release it, and removing it records nothing.
const protection = "platform.example.com/protection"

func removeForeignFinalizerThenUpdate(ctx context.Context, c client.Client, cm *corev1.ConfigMap) error {
	controllerutil.RemoveFinalizer(cm, protection)
	if err := c.Update(ctx, cm); err != nil {
		return err
	}
	return c.Delete(ctx, cm)
}

func removeForeignFinalizerThenPatchWithOptimisticLock(ctx context.Context, c client.Client, cm *corev1.ConfigMap) error {
	before := cm.DeepCopyObject().(*corev1.ConfigMap)
	controllerutil.RemoveFinalizer(cm, "platform.example.com/protection")
	return c.Patch(ctx, cm, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
}

func removeForeignFinalizerInCreateOrUpdate(ctx context.Context, c client.Client, cm *corev1.ConfigMap) error {
	_, err := controllerutil.CreateOrUpdate(ctx, c, cm, func() error {
		controllerutil.RemoveFinalizer(cm, protection)
		return nil
	})
	return err
}
