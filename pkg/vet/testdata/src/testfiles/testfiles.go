// Package testfiles holds a finding of each analyzer in a test file, which -<analyzer>.tests=false
// leaves out, and the same finalizer write in the package's own code, which it keeps.
package testfiles

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
)

func addFinalizerThenUpdate(ctx context.Context, c client.Client, cm *corev1.ConfigMap) error {
	controllerutil.AddFinalizer(cm, "example.com/cleanup") // want `controllerutil.AddFinalizer on cm, written with c.Update`
	return c.Update(ctx, cm)
}
