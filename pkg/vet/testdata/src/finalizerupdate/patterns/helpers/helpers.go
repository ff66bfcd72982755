// Package helpers changes finalizers for callers in other packages to write: a fact carries
// that across packages.
package helpers

import (
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
)

// EnsureFinalizer adds the finalizer; its caller writes the object.
func EnsureFinalizer(cm *corev1.ConfigMap) bool { // want EnsureFinalizer:"changesFinalizers\\[0\\]"
	return controllerutil.AddFinalizer(cm, "example.com/cleanup")
}

// Name only reads the object.
func Name(cm *corev1.ConfigMap) string {
	return cm.Name
}
