// Package reported holds the finalizer names FinalizerName reports, one case per function.
package reported

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/ssakit/ssakit/pkg/ssa"
)

// Widget is a custom resource.
type Widget struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
}

func (w *Widget) DeepCopyObject() runtime.Object { return w }

const cleanup = "cleanup"

func addFinalizerWithoutPathToCustomResource(w *Widget) {
	controllerutil.AddFinalizer(w, cleanup) // want `^finalizer name "cleanup" has no path: custom resources get a warning each time it is added \(metadata.finalizers: "cleanup": prefer a domain-qualified finalizer name to avoid accidental conflicts with other finalizer writers\) and built-in types refuse it; use a domain-qualified name such as example.com/cleanup, and ssa.FinalizerOptions.FormerNames to migrate live objects$`
}

func addFinalizerWithoutPathToBuiltinType(cm *corev1.ConfigMap) {
	controllerutil.AddFinalizer(cm, cleanup) // want `^finalizer name "cleanup" has no path: the API server refuses it on ConfigMap, a built-in type; use a domain-qualified name such as example.com/cleanup$`
}

func addFinalizerWithoutPathToObjectOfUnknownKind(obj client.Object) {
	controllerutil.AddFinalizer(obj, cleanup) // want `custom resources get a warning each time it is added .* and built-in types refuse it`
}

func addDottedFinalizerWithoutPath(w *Widget) {
	controllerutil.AddFinalizer(w, "cleanup.example.com") // want `finalizer name "cleanup.example.com" has no path: custom resources get a warning each time it is added \(metadata.finalizers: "cleanup.example.com": prefer a domain-qualified finalizer name including a path \(/\)`
}

// Removing or looking for a name the server refuses everywhere finds nothing: no object has it.
func removeFinalizerThatIsNotAQualifiedName(w *Widget) {
	controllerutil.RemoveFinalizer(w, "example.com/clean up") // want `^invalid finalizer name "example.com/clean up": name part must consist of alphanumeric characters.*; the API server refuses it on every kind: use a domain-qualified name such as example.com/cleanup$`
}

func addFinalizerNamedByConstantExpression(w *Widget) {
	controllerutil.AddFinalizer(w, cleanup+"-v2") // want `finalizer name "cleanup-v2" has no path`
}

func addFinalizerThatIsNotAQualifiedName(w *Widget) {
	controllerutil.AddFinalizer(w, "example.com/clean up") // want `^invalid finalizer name "example.com/clean up": name part must consist of alphanumeric characters.*; the API server refuses it on every kind: use a domain-qualified name such as example.com/cleanup$`
}

func addReservedFinalizer(w *Widget) {
	controllerutil.AddFinalizer(w, metav1.FinalizerOrphanDependents) // want `^invalid finalizer name "orphan": it is reserved for Kubernetes itself \(garbage collection and namespace deletion act on it\); use a domain-qualified name such as example.com/cleanup$`
}

func setReservedFinalizer(w *Widget) {
	w.SetFinalizers([]string{metav1.FinalizerDeleteDependents}) // want `invalid finalizer name "foregroundDeletion": it is reserved for Kubernetes itself`
}

func containsFinalizerThatIsNotAQualifiedName(w *Widget) bool {
	return controllerutil.ContainsFinalizer(w, "-cleanup") // want `invalid finalizer name "-cleanup"`
}

func newFinalizerWithoutPath(c client.Client) (*ssa.Finalizer, error) {
	return ssa.NewFinalizer(c, "widgets", cleanup, ssa.FinalizerOptions{}) // want `^ssa.NewFinalizer returns an error for this name: invalid finalizer name "cleanup": it has no path: built-in types refuse it and custom resources warn on it; use a domain-qualified name such as example.com/cleanup, or, for a name already on existing objects, declare it with FinalizerOptions.AllowUnqualifiedName and migrate to a qualified name \(FinalizerOptions.FormerNames\)$`
}

func newFinalizerWithoutPathAndOtherOptions(c client.Client) (*ssa.Finalizer, error) {
	return ssa.NewFinalizer(c, "widgets", cleanup, ssa.FinalizerOptions{FieldOwner: "widgets", TakeOverLegacy: true}) // want `ssa.NewFinalizer returns an error for this name: invalid finalizer name "cleanup": it has no path`
}

func newFinalizerWithFinalizerOptionsThatDisallowUnqualifiedName(c client.Client) (*ssa.Finalizer, error) {
	return ssa.NewFinalizer(c, "widgets", cleanup, ssa.FinalizerOptions{AllowUnqualifiedName: false}) // want `ssa.NewFinalizer returns an error for this name`
}

func newFinalizerThatIsNotAQualifiedNameWithAllowUnqualifiedName(c client.Client) (*ssa.Finalizer, error) {
	return ssa.NewFinalizer(c, "widgets", "Clean Up", ssa.FinalizerOptions{AllowUnqualifiedName: true}) // want `ssa.NewFinalizer returns an error for this name: invalid finalizer name "Clean Up": name part must consist of alphanumeric characters`
}

// Options that cannot be read do not lift a refusal that holds whatever they say.
func newFinalizerReservedWithOptionsVariable(c client.Client, opts ssa.FinalizerOptions) (*ssa.Finalizer, error) {
	return ssa.NewFinalizer(c, "widgets", "kubernetes", opts) // want `invalid finalizer name "kubernetes": it is reserved for Kubernetes itself`
}

func objectMetaLiteralOfBuiltinType() *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
		Name:       "settings",
		Finalizers: []string{"example.com/cleanup", cleanup}, // want `finalizer name "cleanup" has no path: the API server refuses it on ConfigMap, a built-in type`
	}}
}

func objectMetaLiteralOfCustomResource() *Widget {
	return &Widget{ObjectMeta: metav1.ObjectMeta{
		Finalizers: []string{cleanup}, // want `finalizer name "cleanup" has no path: custom resources get a warning`
	}}
}

func objectMetaLiteralOnItsOwn() metav1.ObjectMeta {
	return metav1.ObjectMeta{Finalizers: []string{cleanup}} // want `finalizer name "cleanup" has no path: custom resources get a warning`
}

func setFinalizersOfBuiltinType(cm *corev1.ConfigMap) {
	cm.SetFinalizers([]string{cleanup}) // want `the API server refuses it on ConfigMap, a built-in type`
}

// The built-in type is the object's, not its ObjectMeta's.
func setFinalizersOfBuiltinTypesObjectMeta(pod *corev1.Pod) {
	pod.ObjectMeta.SetFinalizers([]string{"pod-fin"}) // want `^finalizer name "pod-fin" has no path: the API server refuses it on Pod, a built-in type`
}

func setFinalizersOfBuiltinTypesObjectMetaAddress(pod *corev1.Pod) {
	(&pod.ObjectMeta).SetFinalizers([]string{"pod-fin"}) // want `the API server refuses it on Pod, a built-in type`
}

func setFinalizersOfUnstructured(u *unstructured.Unstructured) {
	u.SetFinalizers([]string{cleanup}) // want `finalizer name "cleanup" has no path: custom resources get a warning`
}

func setFinalizersThroughInterface(obj client.Object) {
	obj.SetFinalizers([]string{metav1.FinalizerOrphanDependents}) // want `invalid finalizer name "orphan"`
}

func newFinalizerInContext(ctx context.Context, c client.Client, w *Widget) error {
	f, err := ssa.NewFinalizer(c, "widgets", "widgets-cleanup", ssa.FinalizerOptions{}) // want `ssa.NewFinalizer returns an error for this name`
	if err != nil {
		return err
	}
	_, err = f.Add(ctx, w)
	return err
}

func addFinalizerWithoutPathToTypeParameter[T client.Object](obj T) {
	controllerutil.AddFinalizer(obj, cleanup) // want `finalizer name "cleanup" has no path: custom resources get a warning`
}
