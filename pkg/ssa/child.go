package ssa

import (
	"context"
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
// ever adopting an object that was not created for owner. sent reports whether an apply was sent.
//
// It reads the child through the Applier's client (a manager's client reads its cache), then:
//
//   - When there is none, it creates it first: an empty object of config's kind, namespace and
//     name, with owner's controller reference only. A create never lands on an object that exists
//     (docs/ssa-semantics.md row 28), where an apply would adopt one someone made a moment ago that
//     the cache has not shown yet; such a create is an *ObjectError wrapping ErrStale, and nothing
//     is written: the next reconcile reads the object.
//   - A child owner does not control is refused, and not written: an *ObjectError wrapping
//     ErrNotControlled when it has no controller, and an error that errors.Is finds as
//     ErrNotControlled and errors.As as a *controllerutil.AlreadyOwnedError when another object
//     controls it.
//   - Otherwise it applies config with owner's controller reference (SetControllerReference, with
//     its checks) and the child's UID, so the apply lands on that object or nowhere; as Apply does,
//     it sends nothing when the child as read shows the apply would change nothing.
//
// opts are Apply's: pass client.ForceOwnership when the controller's content of its child must win
// over whoever changed it since (a kubectl edit, say). The child's Go type comes from the client's
// scheme; a kind the scheme does not know is read as unstructured, which a manager's client reads
// from the API server unless its cache is told to hold unstructured objects.
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
	child, err := a.childOf(ctx, ref, controller)
	if err != nil {
		return false, err
	}
	if err := checkController(ref, child, controller, a.client.Scheme()); err != nil {
		return false, err
	}
	if !metav1.IsControlledBy(child, owner) {
		return false, notControlledError(ref, child, controller)
	}
	desired.SetOwnerReferences([]metav1.OwnerReference{controller})
	desired.SetUID(child.GetUID())
	return a.Apply(ctx, child, client.ApplyConfigurationFromUnstructured(desired), opts...)
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

// childOf reads the child ref names through the Applier's client, and creates it, empty but for
// controller, when the client has none.
func (a *Applier) childOf(ctx context.Context, ref ObjectRef, controller metav1.OwnerReference) (client.Object, error) {
	child := newObject(a.client.Scheme(), ref.GroupVersionKind)
	key := client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}
	err := a.client.Get(ctx, key, child)
	if !apierrors.IsNotFound(err) {
		return child, err
	}
	child = newObject(a.client.Scheme(), ref.GroupVersionKind)
	child.SetNamespace(ref.Namespace)
	child.SetName(ref.Name)
	child.SetOwnerReferences([]metav1.OwnerReference{controller})
	err = a.client.Create(ctx, child, client.FieldOwner(a.manager))
	if apierrors.IsAlreadyExists(err) {
		return nil, &ObjectError{Object: ref, Reason: ErrStale, Err: err,
			Detail: "the client showed no such object, but the create found one, made since the client's cache last saw it; nothing was written: read it again (the next reconcile does)"}
	}
	return child, err
}

// newObject returns a new object of gvk: of its Go type when scheme knows it, unstructured
// otherwise.
func newObject(scheme *runtime.Scheme, gvk schema.GroupVersionKind) client.Object {
	if typed, err := scheme.New(gvk); err == nil {
		if obj, ok := typed.(client.Object); ok {
			return obj
		}
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	return u
}
