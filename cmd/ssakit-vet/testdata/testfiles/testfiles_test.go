package testfiles

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
)

func TestFixture(t *testing.T) {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm", Finalizers: []string{"x"}}}
	c := fake.NewClientBuilder().WithObjects(cm).Build()
	controllerutil.AddFinalizer(cm, "example.com/cleanup")
	if err := c.Update(t.Context(), cm); err != nil {
		t.Fatal(err)
	}
}
