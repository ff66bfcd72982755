package ssa

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
)

// SetControllerReference adds to config, the apply configuration of a child object, the owner
// reference that makes owner its controller, and returns config: controllerutil's
// SetControllerReference for Server-Side Apply, with the same checks. The reference is the one
// controllerutil builds: owner's apiVersion and kind (apiutil.GVKForObject with scheme), name and
// UID, Controller and BlockOwnerDeletion true. The garbage collector deletes the child with its
// owner through it, and controller-runtime's Owns maps the child's events to the owner through
// it.
//
// config is a generated apply configuration, client-go's (corev1ac.ConfigMap(name, namespace)) or
// controller-gen's; the reference is added to config itself, as its With methods do, so the call
// chains. live is the child as the controller holds it, from its cache, or nil when it has none
// yet; it must be config's object (same kind, namespace and name).
//
// Like controllerutil, it refuses, and adds nothing to config:
//
//   - a namespaced owner of a cluster-scoped child, or of a child in another namespace. Scopes are
//     read from namespaces, as controllerutil reads them (no RESTMapper is asked): an owner with a
//     namespace is namespaced, and a configuration without one is taken as cluster-scoped. The
//     garbage collector never deletes a cluster-scoped child for a namespaced owner, and treats an
//     owner in another namespace as gone, so it may delete the child.
//   - a child live shows controlled by another object: an error that errors.As finds as a
//     *controllerutil.AlreadyOwnedError, with live and the other controller's reference, and
//     errors.Is as ErrNotControlled. As in
//     controllerutil, another object is one of another API group, kind or name: a controller
//     reference to owner's group, kind and name is owner's, whatever its version or UID. So an owner
//     deleted and created again under its name controls its former child again: the apply replaces
//     the former reference when the same field manager applied it (the server keys owner
//     references by UID); when another writer did, the server refuses the apply, since an object
//     has one controller.
//
// It also refuses an owner without a UID, which was not read from the API server (controllerutil
// would build a reference the server refuses), and a live object that is not config's.
//
// An apply declares everything its field manager wants: put the reference in every apply of the
// child by that manager, since an apply that leaves it out removes it (unless another manager owns
// it too). A reference to owner already on live is fine, so building the configuration the same
// way on every reconcile gives the same apply, which an Applier does not send once the child is as
// wanted. Each call adds a reference to config: call it once per configuration. Where the
// OwnerReferencesPermissionEnforcement admission plugin is on, BlockOwnerDeletion needs permission
// to update owner's finalizers subresource, as with controllerutil.
func SetControllerReference[T interface {
	GetKind() *string
	GetName() *string
	GetNamespace() *string
	WithOwnerReferences(...*metav1ac.OwnerReferenceApplyConfiguration) T
}](owner client.Object, config T, live client.Object, scheme *runtime.Scheme) (T, error) {
	child := ObjectRef{
		GroupVersionKind: schema.GroupVersionKind{Kind: ptr.Deref(config.GetKind(), "")},
		Namespace:        ptr.Deref(config.GetNamespace(), ""),
		Name:             ptr.Deref(config.GetName(), ""),
	}
	ref, err := controllerReference(owner, child, live, scheme)
	if err != nil {
		return config, err
	}
	return config.WithOwnerReferences(metav1ac.OwnerReference().
		WithAPIVersion(ref.APIVersion).WithKind(ref.Kind).WithName(ref.Name).WithUID(ref.UID).
		WithController(*ref.Controller).WithBlockOwnerDeletion(*ref.BlockOwnerDeletion)), nil
}

// controllerReference returns owner's controller reference for child, after controllerutil's
// checks.
func controllerReference(owner client.Object, child ObjectRef, live client.Object, scheme *runtime.Scheme) (metav1.OwnerReference, error) {
	if isNil(owner) {
		return metav1.OwnerReference{}, fmt.Errorf("setting the controller reference of %s: the owner is nil", child)
	}
	if scheme == nil {
		return metav1.OwnerReference{}, fmt.Errorf("setting the controller reference of %s: the scheme is nil: pass the client's (Client.Scheme)", child)
	}
	gvk, err := apiutil.GVKForObject(owner, scheme)
	if err != nil {
		return metav1.OwnerReference{}, fmt.Errorf("setting the controller reference of %s: the owner's kind (a %T) is not in the scheme: %w", child, owner, err)
	}
	ownerRef := ObjectRef{GroupVersionKind: gvk, Namespace: owner.GetNamespace(), Name: owner.GetName()}
	if owner.GetUID() == "" {
		return metav1.OwnerReference{}, fmt.Errorf("setting the controller reference of %s: %s has no UID: pass the owner as read from the API server (from the client or the cache)", child, ownerRef)
	}
	if err := checkScopes(ownerRef, child); err != nil {
		return metav1.OwnerReference{}, err
	}
	ref := metav1.OwnerReference{
		APIVersion: gvk.GroupVersion().String(), Kind: gvk.Kind, Name: owner.GetName(), UID: owner.GetUID(),
		BlockOwnerDeletion: new(true), Controller: new(true),
	}
	if err := checkController(child, live, ref, scheme); err != nil {
		return metav1.OwnerReference{}, err
	}
	return ref, nil
}

// checkScopes is controllerutil's validateOwner: a namespaced owner's child is in its namespace.
func checkScopes(owner, child ObjectRef) error {
	switch {
	case owner.Namespace == "":
		return nil
	case child.Namespace == "":
		return fmt.Errorf("%s is cluster-scoped and cannot be owned by %s, which is namespaced: the garbage collector never deletes a cluster-scoped object for a namespaced owner; give it a cluster-scoped owner or none (or, for a namespaced %s, set the configuration's namespace)",
			child, owner, child.GroupVersionKind.Kind)
	case child.Namespace != owner.Namespace:
		return fmt.Errorf("%s cannot be owned by %s: owner references do not cross namespaces, and the garbage collector treats an owner in another namespace as gone and may delete the child; keep the child in its owner's namespace, or delete it with a finalizer of the owner's",
			child, owner)
	}
	return nil
}

// checkController refuses a live child controlled by another object than ref's, as controllerutil
// does.
func checkController(child ObjectRef, live client.Object, ref metav1.OwnerReference, scheme *runtime.Scheme) error {
	if isNil(live) {
		return nil
	}
	gvk, err := apiutil.GVKForObject(live, scheme)
	if err != nil {
		return fmt.Errorf("setting the controller reference of %s: the live object's kind (a %T) is not in the scheme: %w", child, live, err)
	}
	liveRef := ObjectRef{GroupVersionKind: gvk, Namespace: live.GetNamespace(), Name: live.GetName()}
	if (child.GroupVersionKind.Kind != "" && gvk.Kind != child.GroupVersionKind.Kind) || liveRef.Namespace != child.Namespace || liveRef.Name != child.Name {
		return fmt.Errorf("setting the controller reference of %s: the live object given is %s: pass the child's copy from the cache, or nil when there is none", child, liveRef)
	}
	current := metav1.GetControllerOf(live)
	if current == nil || referSameObject(*current, ref) {
		return nil
	}
	return &alreadyControlledError{owned: &controllerutil.AlreadyOwnedError{Object: live, Owner: *current}, child: child, owner: ref}
}

// referSameObject is controllerutil's: two references name the same object when they name the same
// API group, kind and name.
func referSameObject(a, b metav1.OwnerReference) bool {
	aGV, err := schema.ParseGroupVersion(a.APIVersion)
	if err != nil {
		return false
	}
	bGV, err := schema.ParseGroupVersion(b.APIVersion)
	if err != nil {
		return false
	}
	return aGV.Group == bGV.Group && a.Kind == b.Kind && a.Name == b.Name
}

// alreadyControlledError is controllerutil's AlreadyOwnedError, which errors.As finds through
// Unwrap, with a message that names both controllers and says what to do.
type alreadyControlledError struct {
	owned *controllerutil.AlreadyOwnedError
	child ObjectRef
	// owner is the reference that was refused.
	owner metav1.OwnerReference
}

// Error implements error.
func (e *alreadyControlledError) Error() string {
	current := e.owned.Owner.Kind + " " + e.owned.Owner.Name
	owner := e.owner.Kind + " " + e.owner.Name
	return fmt.Sprintf("%s is already controlled by %s, not by %s: an object has one controller; give %s's child another name, or remove the other controller reference from it (or delete it) first",
		e.child, current, owner, owner)
}

// Unwrap returns the *controllerutil.AlreadyOwnedError, and ErrNotControlled: the child is not
// owner's to write.
func (e *alreadyControlledError) Unwrap() []error { return []error{e.owned, ErrNotControlled} }
