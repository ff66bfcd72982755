// Package notreported holds finalizer names FinalizerName must not report, one case per
// function.
package notreported

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/ssakit/ssakit/pkg/ssa"
)

const cleanup = "example.com/cleanup"

func addDomainQualifiedFinalizer(cm *corev1.ConfigMap) {
	controllerutil.AddFinalizer(cm, cleanup)
	controllerutil.RemoveFinalizer(cm, "example.com/cleanup")
}

func newFinalizerWithDomainQualifiedName(c client.Client) (*ssa.Finalizer, error) {
	return ssa.NewFinalizer(c, "widgets", cleanup, ssa.FinalizerOptions{})
}

// AllowUnqualifiedName is the author's statement that the name is already on live objects.
func newFinalizerWithoutPathWithAllowUnqualifiedNameAndOtherOptions(c client.Client) (*ssa.Finalizer, error) {
	return ssa.NewFinalizer(c, "widgets", "cleanup", ssa.FinalizerOptions{FieldOwner: "widgets", AllowUnqualifiedName: true})
}

func newFinalizerWithoutPathWithAllowUnqualifiedName(c client.Client) (*ssa.Finalizer, error) {
	return ssa.NewFinalizer(c, "widgets", "cleanup", ssa.FinalizerOptions{AllowUnqualifiedName: true})
}

// Options that cannot be read may hold AllowUnqualifiedName.
func newFinalizerWithoutPathWithOptionsFromACall(c client.Client) (*ssa.Finalizer, error) {
	return ssa.NewFinalizer(c, "widgets", "cleanup", finalizerOptions())
}

func finalizerOptions() ssa.FinalizerOptions {
	return ssa.FinalizerOptions{AllowUnqualifiedName: true}
}

func newFinalizerWithoutPathWithOptionsVariable(c client.Client, opts ssa.FinalizerOptions) (*ssa.Finalizer, error) {
	return ssa.NewFinalizer(c, "widgets", "cleanup", opts)
}

func newFinalizerWithoutPathWithAllowUnqualifiedNameOfAVariable(c client.Client, allow bool) (*ssa.Finalizer, error) {
	return ssa.NewFinalizer(c, "widgets", "cleanup", ssa.FinalizerOptions{AllowUnqualifiedName: allow})
}

// Looking for Kubernetes' own finalizers is how a controller sees a foreground deletion.
func containsReservedFinalizer(cm *corev1.ConfigMap) bool {
	return controllerutil.ContainsFinalizer(cm, metav1.FinalizerDeleteDependents)
}

func addFinalizerNamedByVariable(cm *corev1.ConfigMap, name string) {
	controllerutil.AddFinalizer(cm, name)
}

func objectMetaLiteralWithFinalizersVariable(names []string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Finalizers: names}
}

func objectMetaLiteralWithQualifiedFinalizers() *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
		Name:       "cleanup",
		Labels:     map[string]string{"cleanup": "cleanup"},
		Finalizers: []string{cleanup},
	}}
}

// Only the finalizer name is checked: the controller name is not one.
func newFinalizerWithControllerNameWithoutPath(c client.Client) (*ssa.Finalizer, error) {
	return ssa.NewFinalizer(c, "cleanup", cleanup, ssa.FinalizerOptions{})
}

// Removing an old name, or looking for it, is the migration away from it: only adding one is
// reported.
func removeFinalizerWithoutPath(cm *corev1.ConfigMap, obj client.Object) {
	controllerutil.RemoveFinalizer(cm, "legacy-cleanup")
	controllerutil.RemoveFinalizer(obj, "legacy-cleanup")
}

func containsFinalizerWithoutPath(cm *corev1.ConfigMap, obj client.Object) bool {
	return controllerutil.ContainsFinalizer(cm, "legacy-cleanup") || controllerutil.ContainsFinalizer(obj, "legacy-cleanup")
}

// Kubernetes' own finalizers may be removed: orphaning dependents on purpose, say.
func removeReservedFinalizer(obj client.Object) {
	controllerutil.RemoveFinalizer(obj, metav1.FinalizerOrphanDependents)
}

// An unkeyed literal sets AllowUnqualifiedName by its position.
func newFinalizerWithoutPathWithUnkeyedOptions(c client.Client) (*ssa.Finalizer, error) {
	return ssa.NewFinalizer(c, "widgets", "cleanup", ssa.FinalizerOptions{"widgets", nil, true, false, nil, nil, nil})
}

func finalizerArgs(c client.Client) (client.Client, string, string, ssa.FinalizerOptions) {
	return c, "widgets", "cleanup", ssa.FinalizerOptions{}
}

// The arguments are one call's results, which go vet cannot read: nothing is reported, and the
// analyzer does not crash.
func newFinalizerFromACallsResults(c client.Client) (*ssa.Finalizer, error) {
	return ssa.NewFinalizer(finalizerArgs(c))
}
