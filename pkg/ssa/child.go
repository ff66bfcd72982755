package ssa

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ApplyChild applies config, the configuration of an object owner controls (its child: the
// ConfigMap of a custom resource, say), as the Applier's manager, with owner as its controller:
// controllerutil's CreateOrUpdate with SetControllerReference, for Server-Side Apply, without
// ever adopting an object that was not created for owner. sent reports whether a write (a create
// or an apply) was sent.
//
// It reads the child through the Applier's client (a manager's client reads its cache), then:
//
//   - When there is none, it creates it: config, as an object of its Go type when the client's
//     scheme knows the kind, with owner's controller reference. A
//     create never lands on an object that exists (docs/ssa-semantics.md row 28), where an apply
//     would adopt one someone made a moment ago that the cache has not shown yet; such a create is
//     an *ObjectError wrapping ErrStale, and nothing is written: the next reconcile reads the
//     object. The create's Update entry is then made the manager's Apply entry (UpgradeManagers,
//     one managedFields patch guarded by the create's resourceVersion) and config is applied once,
//     so that the manager's applies own the child's fields as if an apply had made it: a field a
//     later configuration drops is removed, not kept by the create's entry. Three requests, once
//     per child. Should a write come between the create and the patch, the next call finds the
//     manager's Update entry on the child and folds it then.
//   - A child owner does not control is refused, and not written: an *ObjectError wrapping
//     ErrNotControlled when it has no controller, and an error that errors.Is finds as
//     ErrNotControlled and errors.As as a *controllerutil.AlreadyOwnedError when another object
//     controls it.
//   - Otherwise it applies config with owner's controller reference (SetControllerReference, with
//     its checks) and the child's UID, so the apply lands on that object or nowhere; as Apply does,
//     it sends nothing when the child as read shows the apply would change nothing. A child deleted
//     or replaced since the cache saw it is an *ObjectError wrapping ErrStale: its delete event
//     brings the reconcile that makes it again.
//
// Owner references in config other than a controller reference are kept; another object's
// controller reference in config is an error. opts are Apply's: pass client.ForceOwnership when
// the controller's content of its child must win over whoever changed it since (a kubectl edit,
// say); with client.DryRunAll the create is a dry run too, and nothing is written. The child's Go
// type comes from the client's scheme, for the read from the cache; a kind the scheme does not
// know is read as unstructured, which a manager's client reads from the API server unless its
// cache is told to hold unstructured objects.
func (a *Applier) ApplyChild(ctx context.Context, owner client.Object, config runtime.ApplyConfiguration, opts ...client.ApplyOption) (sent bool, err error) {
	desired, err := a.content(nil, config)
	if err != nil {
		return false, err
	}
	ref := ObjectRef{GroupVersionKind: desired.GroupVersionKind(), Namespace: desired.GetNamespace(), Name: desired.GetName()}
	controller, err := controllerReference(owner, ref, nil, a.client.Scheme())
	if err != nil {
		return false, err
	}
	if err := withController(desired, ref, controller); err != nil {
		return false, err
	}
	child := newObject(a.client.Scheme(), ref.GroupVersionKind)
	err = a.client.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, child)
	switch {
	case apierrors.IsNotFound(err):
		return a.createChild(ctx, ref, desired, opts)
	case err != nil:
		return false, err
	}
	if err := checkController(ref, child, controller, a.client.Scheme()); err != nil {
		return false, err
	}
	if !metav1.IsControlledBy(child, owner) {
		return false, notControlledError(ref, child, controller)
	}
	desired.SetUID(child.GetUID())
	if hasUpdateEntryOf(child, a.manager) && !isDryRun(opts) {
		// A create whose entry was never folded into the manager's Apply entry (a write came
		// between the create and its managedFields patch): fold it now.
		err = a.foldAfterApply(ctx, ref, desired, opts)
		sent = true
	} else {
		sent, err = a.Apply(ctx, child, client.ApplyConfigurationFromUnstructured(desired), opts...)
	}
	if errors.Is(err, ErrGone) || errors.Is(err, ErrReplaced) {
		return sent, &ObjectError{Object: ref, Reason: ErrStale, Err: err,
			Detail: "the child was deleted or replaced since the client's cache saw it, and nothing was applied; its delete event brings the reconcile that makes it again"}
	}
	return sent, err
}

// withController adds controller to desired's owner references, in place of one to the same
// object; another object's controller reference there is an error.
func withController(desired *unstructured.Unstructured, ref ObjectRef, controller metav1.OwnerReference) error {
	refs := []metav1.OwnerReference{controller}
	for _, r := range desired.GetOwnerReferences() {
		switch {
		case r.UID == controller.UID:
		case r.Controller != nil && *r.Controller:
			return fmt.Errorf("the configuration of %s names %s %s as its controller, and ApplyChild makes %s %s its controller: an object has one; leave the controller reference out of the configuration",
				ref, r.Kind, r.Name, controller.Kind, controller.Name)
		default:
			refs = append(refs, r)
		}
	}
	desired.SetOwnerReferences(refs)
	return nil
}

// createChild creates desired, which names no existing object in the client's view, and makes the
// create's Update entry the manager's Apply entry.
func (a *Applier) createChild(ctx context.Context, ref ObjectRef, desired *unstructured.Unstructured, opts []client.ApplyOption) (bool, error) {
	createOpts := []client.CreateOption{client.FieldOwner(a.manager)}
	if isDryRun(opts) {
		createOpts = append(createOpts, client.DryRunAll)
	}
	created, err := typedOrUnstructured(a.client.Scheme(), desired)
	if err != nil {
		return false, fmt.Errorf("creating %s: %w", ref, err)
	}
	err = a.client.Create(ctx, created, createOpts...)
	switch {
	case apierrors.IsAlreadyExists(err):
		return true, &ObjectError{Object: ref, Reason: ErrStale, Err: err,
			Detail: "the client showed no such object, but the create found one, made since the client's cache last saw it; nothing was written: read it again (the next reconcile does)"}
	case err != nil || isDryRun(opts):
		return true, err
	}
	desired.SetUID(created.GetUID())
	return true, a.fold(ctx, ref, created, desired)
}

// fold makes the manager's Update entry on obj, which has its managedFields whole (an answer of
// the API server), part of its Apply entry (UpgradeManagers), then applies desired once: the
// entry owned what the write set, containers included, where an apply owns the fields it sets,
// so after it the next call sends nothing. A write since obj was read is ErrStale, and the next
// call folds again.
func (a *Applier) fold(ctx context.Context, ref ObjectRef, obj client.Object, desired *unstructured.Unstructured) error {
	if _, err := UpgradeManagers(ctx, a.client, obj, a.manager, a.manager); err != nil {
		return fmt.Errorf("%s: %q's Update entry could not be made its Apply entry, so a field a later configuration drops would stay: %w", ref, a.manager, err)
	}
	if _, err := a.Apply(ctx, obj, client.ApplyConfigurationFromUnstructured(desired.DeepCopy())); err != nil {
		return fmt.Errorf("%s: applying it once its Update entry was folded: %w", ref, err)
	}
	return nil
}

// foldAfterApply applies desired, whatever the cached child shows, for an answer with
// managedFields whole, and folds the manager's Update entry there (fold).
func (a *Applier) foldAfterApply(ctx context.Context, ref ObjectRef, desired *unstructured.Unstructured, opts []client.ApplyOption) error {
	answer := desired.DeepCopy()
	applyOpts := append(append([]client.ApplyOption(nil), opts...), client.FieldOwner(a.manager))
	if err := a.client.Apply(ctx, client.ApplyConfigurationFromUnstructured(answer), applyOpts...); err != nil {
		return FromApplyError(ref, err)
	}
	return a.fold(ctx, ref, answer, desired)
}

// hasUpdateEntryOf reports whether obj's managedFields show an Update entry of manager on the
// main resource.
func hasUpdateEntryOf(obj client.Object, manager string) bool {
	for _, e := range obj.GetManagedFields() {
		if e.Manager == manager && e.Operation == metav1.ManagedFieldsOperationUpdate && e.Subresource == "" {
			return true
		}
	}
	return false
}

// notControlledError refuses child, which is not controlled by controller's object though no
// other object controls it either.
func notControlledError(ref ObjectRef, child client.Object, controller metav1.OwnerReference) error {
	why := "it has no controller"
	if current := metav1.GetControllerOf(child); current != nil {
		// Same kind and name, another UID: an earlier object of the owner's name, with which the
		// garbage collector deletes the child.
		why = fmt.Sprintf("it is controlled by an earlier %s %s (uid %s), and goes with it", current.Kind, current.Name, current.UID)
	}
	return &ObjectError{Object: ref, Reason: ErrNotControlled, Detail: fmt.Sprintf(
		"it exists but was not created for %s %s (%s), and ssakit does not adopt it: delete or rename it, or add the controller reference yourself if it is meant to be %s's",
		controller.Kind, controller.Name, why, controller.Name)}
}

// typedOrUnstructured returns desired as an object of its Go type when scheme knows the kind, as
// a manager's client handles it best, and desired itself otherwise.
func typedOrUnstructured(scheme *runtime.Scheme, desired *unstructured.Unstructured) (client.Object, error) {
	obj := newObject(scheme, desired.GroupVersionKind())
	if _, ok := obj.(*unstructured.Unstructured); ok {
		return desired.DeepCopy(), nil
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(desired.Object, obj); err != nil {
		return nil, err
	}
	obj.GetObjectKind().SetGroupVersionKind(desired.GroupVersionKind())
	return obj, nil
}

// newObject returns a new object of gvk: of its Go type when scheme knows it, unstructured
// otherwise.
func newObject(scheme *runtime.Scheme, gvk schema.GroupVersionKind) client.Object {
	var obj client.Object = &unstructured.Unstructured{}
	if typed, err := scheme.New(gvk); err == nil {
		if o, ok := typed.(client.Object); ok {
			obj = o
		}
	}
	// A scheme may answer with an unstructured object of no kind (controller-runtime's fake
	// client registers the unstructured kinds it meets).
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	return obj
}
