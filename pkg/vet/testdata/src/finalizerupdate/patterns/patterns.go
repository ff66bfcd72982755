// Package patterns holds the finalizer changes real controllers make without controllerutil,
// and the writes they use, reported and not.
package patterns

import (
	"context"
	"encoding/json"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"finalizerupdate/patterns/helpers"
)

const finalizer = "example.com/cleanup"

func setFinalizersAppendThenUpdate(ctx context.Context, c client.Client, cm *corev1.ConfigMap) error {
	cm.SetFinalizers(append(cm.GetFinalizers(), finalizer)) // want `^cm.SetFinalizers on cm, written with c.Update \(line 25\): Update records`
	return c.Update(ctx, cm)
}

func setFinalizersDeleteFuncThenUpdate(ctx context.Context, c client.Client, u *unstructured.Unstructured) error {
	u.SetFinalizers(slices.DeleteFunc(u.GetFinalizers(), func(f string) bool { return f == finalizer })) // want `^u.SetFinalizers on u, written with c.Update`
	return c.Update(ctx, u)
}

func setFinalizersEmptyThenUpdate(ctx context.Context, c client.Client, cm *corev1.ConfigMap) error {
	cm.SetFinalizers([]string{}) // want `^cm.SetFinalizers\(\[\]string{}\) on cm \(which removes every finalizer, other controllers' too\), written with c.Update`
	return c.Update(ctx, cm)
}

func assignFinalizersThenUpdate(ctx context.Context, c client.Client, cm *corev1.ConfigMap) error {
	cm.Finalizers = slices.DeleteFunc(cm.Finalizers, func(f string) bool { return f == finalizer }) // want `^assignment to cm.Finalizers, written with c.Update`
	return c.Update(ctx, cm)
}

func assignObjectMetaFinalizersThenUpdate(ctx context.Context, c client.Client) error {
	var cm corev1.ConfigMap
	cm.ObjectMeta.Finalizers = append(cm.ObjectMeta.Finalizers, finalizer) // want `^assignment to cm.ObjectMeta.Finalizers, written with c.Update`
	return c.Update(ctx, &cm)
}

// A JSON merge patch replaces the whole list, however it was built.
func addFinalizerThenRawMergePatch(ctx context.Context, c client.Client, cm *corev1.ConfigMap) error {
	controllerutil.AddFinalizer(cm, finalizer) // want `^controllerutil.AddFinalizer on cm, written with c.Patch and client.RawPatch\(types.MergePatchType\) \(line 53\): a merge patch replaces the whole finalizer list`
	data, _ := json.Marshal(map[string]any{"metadata": map[string]any{"finalizers": cm.Finalizers}})
	return c.Patch(ctx, cm, client.RawPatch(types.MergePatchType, data))
}

type reconciler struct {
	client.Client
	configMaps typedcorev1.ConfigMapInterface
	store      store
}

// reconcile changes the finalizers of the copy its caller writes.
func (r *reconciler) reconcile(ctx context.Context, cm *corev1.ConfigMap) error { // want reconcile:"changesFinalizers\\[1\\]"
	if cm.DeletionTimestamp != nil {
		controllerutil.RemoveFinalizer(cm, finalizer)
		return nil
	}
	controllerutil.AddFinalizer(cm, finalizer)
	return nil
}

// ensure passes its object on to reconcile: the fact follows.
func (r *reconciler) ensure(ctx context.Context, cm *corev1.ConfigMap) error { // want ensure:"changesFinalizers\\[1\\]"
	return r.reconcile(ctx, cm)
}

func (r *reconciler) helperThenRawMergePatch(ctx context.Context, cm *corev1.ConfigMap) error {
	cmCopy := cm.DeepCopyObject().(*corev1.ConfigMap)
	if err := r.reconcile(ctx, cmCopy); err != nil { // want `^r.reconcile changes the finalizers of cmCopy, written with r.Patch and client.RawPatch\(types.MergePatchType\) \(line 83\)`
		return err
	}
	data, _ := json.Marshal(cmCopy.Finalizers)
	return r.Patch(ctx, cmCopy, client.RawPatch(types.MergePatchType, data))
}

func (r *reconciler) helperOfHelperThenUpdate(ctx context.Context, cm *corev1.ConfigMap) error {
	_ = r.ensure(ctx, cm) // want `^r.ensure changes the finalizers of cm, written with r.Update`
	return r.Update(ctx, cm)
}

func helperInOtherPackageThenUpdate(ctx context.Context, c client.Client, cm *corev1.ConfigMap) error {
	helpers.EnsureFinalizer(cm) // want `^helpers.EnsureFinalizer changes the finalizers of cm, written with c.Update`
	return c.Update(ctx, cm)
}

func addFinalizerThenTypedClientsetUpdate(ctx context.Context, r *reconciler, cm *corev1.ConfigMap) error {
	controllerutil.AddFinalizer(cm, finalizer) // want `^controllerutil.AddFinalizer on cm, written with r.configMaps.Update \(line 98\): Update records`
	_, err := r.configMaps.Update(ctx, cm, metav1.UpdateOptions{})
	return err
}

// kubectl-flyte's delete --force: every finalizer cleared and written with a typed clientset's
// Update. The Update adds no finalizer to its entry: the hazard is the other controllers' cleanup.
func clearFinalizersThenTypedClientsetUpdate(ctx context.Context, r *reconciler, cm *corev1.ConfigMap) error {
	cm.SetFinalizers([]string{}) // want `^cm.SetFinalizers\(\[\]string{}\) on cm \(which removes every finalizer, other controllers' too\), written with r.configMaps.Update \(line \d+\): the controllers whose finalizers it removes never run their cleanup; remove only this controller's own finalizer, with ssa.Finalizer`
	_, err := r.configMaps.Update(ctx, cm, metav1.UpdateOptions{})
	return err
}

// store wraps a clientset, as flytepropeller's does.
type store interface {
	Update(ctx context.Context, cm *corev1.ConfigMap) (*corev1.ConfigMap, error)
}

func (r *reconciler) helperThenStoreUpdate(ctx context.Context, cm *corev1.ConfigMap) error {
	_ = r.reconcile(ctx, cm) // want `^r.reconcile changes the finalizers of cm, written with r.store.Update`
	_, err := r.store.Update(ctx, cm)
	return err
}

func assignNilFinalizersThenUpdate(ctx context.Context, c client.Client, cm *corev1.ConfigMap) error {
	cm.Finalizers = nil // want `^assignment to cm.Finalizers \(which removes every finalizer, other controllers' too\), written with c.Update`
	return c.Update(ctx, cm)
}

// The package appends this name, so its removal is the package's own finalizer's.
const appended = "example.com/appended"

func addAppendedFinalizerThenUpdate(ctx context.Context, c client.Client, cm *corev1.ConfigMap) error {
	cm.Finalizers = append(cm.Finalizers, appended) // want `^assignment to cm.Finalizers, written with c.Update`
	return c.Update(ctx, cm)
}

func removeAppendedFinalizerThenUpdate(ctx context.Context, c client.Client, cm *corev1.ConfigMap) error {
	controllerutil.RemoveFinalizer(cm, appended) // want `^controllerutil.RemoveFinalizer on cm, written with c.Update.*use ssa.Finalizer`
	return c.Update(ctx, cm)
}

// Numaflow's shape: the helper changes a copy, and the caller writes the copy's finalizers into
// a merge patch of the object it read, or updates a deep copy of the copy.
func (r *reconciler) helperOnCopyThenRawMergePatchOfOriginal(ctx context.Context, cm *corev1.ConfigMap) error {
	cmCopy := cm.DeepCopyObject().(*corev1.ConfigMap)
	_ = r.reconcile(ctx, cmCopy) // want `^r.reconcile changes the finalizers of cmCopy, written with r.Patch and client.RawPatch\(types.MergePatchType\)`
	patch := map[string]any{"metadata": map[string]any{"finalizers": cmCopy.Finalizers}}
	data, _ := json.Marshal(patch)
	return r.Patch(ctx, cm, client.RawPatch(types.MergePatchType, data))
}

func (r *reconciler) helperOnCopyThenUpdateOfItsDeepCopy(ctx context.Context, cm *corev1.ConfigMap) error {
	cmCopy := cm.DeepCopyObject().(*corev1.ConfigMap)
	_ = r.reconcile(ctx, cmCopy) // want `^r.reconcile changes the finalizers of cmCopy, written with r.Update`
	return r.Update(ctx, cmCopy.DeepCopyObject().(*corev1.ConfigMap))
}

// flytepropeller's shape: a helper sets the finalizer on an interface, a mutating function
// returns the changed copy, and its caller writes that through a store.
func setFinalizerIfEmpty(meta metav1.Object, finalizer string) { // want setFinalizerIfEmpty:"changesFinalizers\\[0\\]"
	if !slices.Contains(meta.GetFinalizers(), finalizer) {
		meta.SetFinalizers(append(meta.GetFinalizers(), finalizer))
	}
}

func (r *reconciler) tryMutate(ctx context.Context, original *corev1.ConfigMap) (*corev1.ConfigMap, error) { // want tryMutate:"changesFinalizers\\[\\] returns\\[0\\]"
	mutable := original.DeepCopyObject().(*corev1.ConfigMap)
	setFinalizerIfEmpty(mutable, finalizer)
	return mutable, nil
}

func (r *reconciler) handle(ctx context.Context, cm *corev1.ConfigMap) error {
	mutated, err := r.tryMutate(ctx, cm) // want `^r.tryMutate returns mutated with changed finalizers, written with r.store.Update`
	if err != nil {
		return err
	}
	_, err = r.store.Update(ctx, mutated)
	return err
}

// A helper that writes only the status still leaves the finalizers to its caller.
func (r *reconciler) reconcileWithStatus(ctx context.Context, cm *corev1.ConfigMap) error { // want reconcileWithStatus:"changesFinalizers\\[1\\]"
	controllerutil.AddFinalizer(cm, finalizer)
	return r.Status().Update(ctx, cm)
}

func (r *reconciler) helperWithStatusThenUpdate(ctx context.Context, cm *corev1.ConfigMap) error {
	if err := r.reconcileWithStatus(ctx, cm); err != nil { // want `^r.reconcileWithStatus changes the finalizers of cm, written with r.Update`
		return err
	}
	return r.Update(ctx, cm)
}
