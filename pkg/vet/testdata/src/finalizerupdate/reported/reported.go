// Package reported holds the finalizer writes FinalizerUpdate reports, one per function.
package reported

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
)

const finalizer = "example.com/cleanup"

func addFinalizerThenUpdate(ctx context.Context, c client.Client, cm *corev1.ConfigMap) error {
	controllerutil.AddFinalizer(cm, finalizer) // want `^controllerutil.AddFinalizer on cm, written with c.Update \(line 17\): Update records the finalizer under an Update field-manager entry, which an apply cannot release later \(ssa-semantics row 3, https://github.com/ssakit/ssakit/blob/main/docs/ssa-semantics.md#ownership-of-metadatafinalizers\); use ssa.Finalizer \(github.com/ssakit/ssakit/pkg/ssa\), which applies only this finalizer, with a field manager of its own, and migrate live objects with ssa.FinalizerOptions{TakeOverLegacy: true} or kubectl ssakit migrate$`
	return c.Update(ctx, cm)
}

func removeFinalizerThenUpdate(ctx context.Context, c client.Client, cm *corev1.ConfigMap) error {
	controllerutil.RemoveFinalizer(cm, finalizer) // want `^controllerutil.RemoveFinalizer on cm, written with c.Update \(line 22\)`
	return c.Update(ctx, cm)
}

func addFinalizerThenUpdateThroughWriter(ctx context.Context, w client.Writer, cm *corev1.ConfigMap) error {
	controllerutil.AddFinalizer(cm, finalizer) // want `written with w.Update`
	return w.Update(ctx, cm)
}

type embeddingReconciler struct {
	client.Client
}

func (r *embeddingReconciler) addFinalizerThenUpdateThroughEmbeddedClient(ctx context.Context, cm *corev1.ConfigMap) error {
	controllerutil.AddFinalizer(cm, finalizer) // want `written with r.Update`
	return r.Update(ctx, cm)
}

type fieldReconciler struct {
	client client.Client
}

func (r *fieldReconciler) addFinalizerThenUpdateThroughClientField(ctx context.Context, cm *corev1.ConfigMap) error {
	controllerutil.AddFinalizer(cm, finalizer) // want `written with r.client.Update`
	return r.client.Update(ctx, cm)
}

func addFinalizerThenUpdateOfUnstructured(ctx context.Context, c client.Client, u *unstructured.Unstructured) error {
	controllerutil.AddFinalizer(u, finalizer) // want `written with c.Update`
	return c.Update(ctx, u)
}

func addFinalizerConditionallyThenUpdate(ctx context.Context, c client.Client, cm *corev1.ConfigMap) error {
	if controllerutil.AddFinalizer(cm, finalizer) { // want `written with c.Update`
		return c.Update(ctx, cm)
	}
	return nil
}

func addFinalizerToValueThenUpdateItsAddress(ctx context.Context, c client.Client) error {
	var cm corev1.ConfigMap
	controllerutil.AddFinalizer(&cm, finalizer) // want `on cm, written with c.Update`
	return c.Update(ctx, &cm)
}

func addFinalizerThenPatchMergeFrom(ctx context.Context, c client.Client, cm *corev1.ConfigMap) error {
	before := cm.DeepCopyObject().(*corev1.ConfigMap)
	controllerutil.AddFinalizer(cm, finalizer) // want `^controllerutil.AddFinalizer on cm, written with c.Patch and client.MergeFrom \(line 69\): a merge patch replaces the whole finalizer list, so a finalizer another writer added or removed since the read is lost or comes back; use ssa.Finalizer`
	return c.Patch(ctx, cm, client.MergeFrom(before))
}

func removeFinalizerThenPatchMergeFromWithOptions(ctx context.Context, c client.Client, cm *corev1.ConfigMap) error {
	before := cm.DeepCopyObject().(*corev1.ConfigMap)
	controllerutil.RemoveFinalizer(cm, finalizer) // want `written with c.Patch and client.MergeFromWithOptions \(line 75\): a merge patch replaces the whole finalizer list`
	return c.Patch(ctx, cm, client.MergeFromWithOptions(before))
}

// The optimistic lock puts resourceVersion in the patch: a concurrent change is a 409, not a lost
// finalizer. The merge patch still records the finalizer under an Update entry.
func removeFinalizerThenPatchMergeFromWithOptimisticLock(ctx context.Context, c client.Client, cm *corev1.ConfigMap) error {
	before := cm.DeepCopyObject().(*corev1.ConfigMap)
	controllerutil.RemoveFinalizer(cm, finalizer) // want `^controllerutil.RemoveFinalizer on cm, written with c.Patch and client.MergeFromWithOptions \(line 83\): a merge patch records the finalizer under an Update field-manager entry, which an apply cannot release later \(ssa-semantics row 3, https://github.com/ssakit/ssakit/blob/main/docs/ssa-semantics.md#ownership-of-metadatafinalizers\); use ssa.Finalizer`
	return c.Patch(ctx, cm, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
}

func addFinalizerThenPatchStoredMergeFromWithOptimisticLock(ctx context.Context, c client.Client, cm *corev1.ConfigMap) error {
	patch := client.MergeFromWithOptions(cm.DeepCopyObject().(*corev1.ConfigMap), client.MergeFromWithOptimisticLock{})
	controllerutil.AddFinalizer(cm, finalizer) // want `written with c.Patch and client.MergeFromWithOptions \(line 89\): a merge patch records the finalizer under an Update field-manager entry`
	return c.Patch(ctx, cm, patch)
}

func addFinalizerThenPatchStoredMergeFrom(ctx context.Context, c client.Client, cm *corev1.ConfigMap) error {
	patch := client.MergeFrom(cm.DeepCopyObject().(*corev1.ConfigMap))
	controllerutil.AddFinalizer(cm, finalizer) // want `written with c.Patch and client.MergeFrom`
	return c.Patch(ctx, cm, patch)
}

func addFinalizerThenPatchMerge(ctx context.Context, c client.Client, cm *corev1.ConfigMap) error {
	controllerutil.AddFinalizer(cm, finalizer) // want `written with c.Patch and client.Merge \(`
	return c.Patch(ctx, cm, client.Merge)
}

func addFinalizerThenUpdateInRetryClosure(ctx context.Context, c client.Client, cm *corev1.ConfigMap, retry func(func() error) error) error {
	controllerutil.AddFinalizer(cm, finalizer) // want `written with c.Update`
	return retry(func() error { return c.Update(ctx, cm) })
}

func addFinalizerAndUpdateInsideRetryClosure(ctx context.Context, c client.Client, cm *corev1.ConfigMap, retry func(func() error) error) error {
	return retry(func() error {
		controllerutil.AddFinalizer(cm, finalizer) // want `written with c.Update`
		return c.Update(ctx, cm)
	})
}

func addFinalizerInCreateOrUpdate(ctx context.Context, c client.Client, cm *corev1.ConfigMap) error {
	_, err := controllerutil.CreateOrUpdate(ctx, c, cm, func() error {
		controllerutil.AddFinalizer(cm, finalizer) // want `^controllerutil.AddFinalizer on cm, written by controllerutil.CreateOrUpdate \(line 116\), whose Update records the finalizer under an Update field-manager entry, which an apply cannot release later \(ssa-semantics row 3, https://github.com/ssakit/ssakit/blob/main/docs/ssa-semantics.md#ownership-of-metadatafinalizers\); use ssa.Finalizer`
		return nil
	})
	return err
}

func removeFinalizerInCreateOrPatch(ctx context.Context, c client.Client, cm *corev1.ConfigMap) error {
	_, err := controllerutil.CreateOrPatch(ctx, c, cm, func() error {
		controllerutil.RemoveFinalizer(cm, finalizer) // want `written by controllerutil.CreateOrPatch \(line 124\), whose merge patch replaces the whole finalizer list`
		return nil
	})
	return err
}

func addFinalizerThenUpdateOfTypeParameter[T client.Object](ctx context.Context, c client.Client, obj T) error {
	controllerutil.AddFinalizer(obj, finalizer) // want `controllerutil.AddFinalizer on obj, written with c.Update`
	return c.Update(ctx, obj)
}

func addFinalizerInLoopThenUpdateAfterIt(ctx context.Context, c client.Client, cms []*corev1.ConfigMap, cm *corev1.ConfigMap) error {
	for range cms {
		controllerutil.AddFinalizer(cm, finalizer) // want `written with c.Update`
	}
	return c.Update(ctx, cm)
}

// A deferred write runs at every return, after a finalizer change anywhere in the function.
func addFinalizerAfterDeferredUpdate(ctx context.Context, c client.Client, cm *corev1.ConfigMap) (err error) {
	defer func() { err = c.Update(ctx, cm) }()
	if cm.DeletionTimestamp == nil {
		controllerutil.AddFinalizer(cm, finalizer) // want `^controllerutil.AddFinalizer on cm, written with c.Update \(line 145, deferred\): Update records`
	}
	return nil
}

func removeFinalizerAfterDeferredUpdateCall(ctx context.Context, c client.Client, cm *corev1.ConfigMap) error {
	defer c.Update(ctx, cm)
	controllerutil.RemoveFinalizer(cm, finalizer) // want `written with c.Update \(line 153, deferred\)`
	return nil
}

func addFinalizerBeforeDeferredMergePatch(ctx context.Context, c client.Client, cm *corev1.ConfigMap) error {
	before := cm.DeepCopyObject().(*corev1.ConfigMap)
	controllerutil.AddFinalizer(cm, finalizer) // want `written with c.Patch and client.MergeFrom \(line 162, deferred\)`
	defer func() {
		_ = c.Patch(ctx, cm, client.MergeFrom(before))
	}()
	return nil
}

// A platform's finalizer, removed before a delete and never added here: ssa.Finalizer cannot
// release it, but a merge patch without a lock can still lose another writer's change.
func removeForeignFinalizerThenMergePatch(ctx context.Context, c client.Client, cm *corev1.ConfigMap) error {
	before := cm.DeepCopyObject().(*corev1.ConfigMap)
	controllerutil.RemoveFinalizer(cm, "platform.example.com/protection") // want `^controllerutil.RemoveFinalizer of "platform.example.com/protection", which this package never adds, on cm, written with c.Patch and client.MergeFrom \(line 172\): a merge patch replaces the whole finalizer list, so a finalizer another writer added or removed since the read is lost or comes back; remove it with Update, or a merge patch with client.MergeFromWithOptimisticLock, which fail with a conflict instead$`
	return c.Patch(ctx, cm, client.MergeFrom(before))
}
