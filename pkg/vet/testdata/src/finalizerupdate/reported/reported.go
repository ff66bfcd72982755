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
	controllerutil.AddFinalizer(cm, finalizer) // want `^controllerutil.AddFinalizer on cm, written with c.Update \(line 17\): Update sends the whole object and takes ownership of all of it; use ssa.Finalizer \(github.com/ssakit/ssakit/pkg/ssa\), which applies only this finalizer, with a field manager of its own$`
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
	controllerutil.RemoveFinalizer(cm, finalizer) // want `written with c.Patch and client.MergeFromWithOptions`
	return c.Patch(ctx, cm, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
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
		controllerutil.AddFinalizer(cm, finalizer) // want `^controllerutil.AddFinalizer on cm, written by controllerutil.CreateOrUpdate \(line 102\), which updates the whole object and takes ownership of all of it; use ssa.Finalizer`
		return nil
	})
	return err
}

func removeFinalizerInCreateOrPatch(ctx context.Context, c client.Client, cm *corev1.ConfigMap) error {
	_, err := controllerutil.CreateOrPatch(ctx, c, cm, func() error {
		controllerutil.RemoveFinalizer(cm, finalizer) // want `written by controllerutil.CreateOrPatch \(line 110\), whose merge patch replaces the whole finalizer list`
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
