// Package caller writes what package helper changed: the finding needs helper's fact.
package caller

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ssakit/ssakit/cmd/ssakit-vet/testdata/helper"
)

func ensure(ctx context.Context, c client.Client, cm *corev1.ConfigMap) error {
	if helper.EnsureFinalizer(cm) {
		return c.Update(ctx, cm)
	}
	return nil
}
