package testfiles

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
)

// A fixture for a fake client: a name without a path, and a typed object applied whole.
var fixture = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm", Finalizers: []string{"x"}}}

func TestFixture(t *testing.T) {
	var c client.Client
	controllerutil.AddFinalizer(fixture, "example.com/cleanup")
	_ = c.Update(context.Background(), fixture)
	_ = c.Patch(context.Background(), fixture, client.Apply)
}
