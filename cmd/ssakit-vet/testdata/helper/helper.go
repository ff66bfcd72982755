// Package helper adds a finalizer for its callers, in another package, to write.
package helper

import (
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
)

// EnsureFinalizer adds the finalizer; the caller writes the object.
func EnsureFinalizer(cm *corev1.ConfigMap) bool {
	return controllerutil.AddFinalizer(cm, "example.com/cleanup")
}
