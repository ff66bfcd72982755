package testcluster

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ApplyFinalizers applies finalizers, and nothing else, to the object of kind gvk that obj names,
// as manager, with obj's UID as a precondition: another controller's finalizer apply, or a user's
// kubectl apply --server-side of the finalizers, in a test's setup.
func (c *Cluster) ApplyFinalizers(t testing.TB, gvk schema.GroupVersionKind, obj client.Object, manager string, finalizers ...string) {
	t.Helper()
	config := &unstructured.Unstructured{}
	config.SetGroupVersionKind(gvk)
	config.SetNamespace(obj.GetNamespace())
	config.SetName(obj.GetName())
	config.SetUID(obj.GetUID())
	config.SetFinalizers(finalizers)
	if err := c.Client.Apply(t.Context(), client.ApplyConfigurationFromUnstructured(config), client.FieldOwner(manager)); err != nil {
		t.Fatalf("applying finalizers %v as %s: %v", finalizers, manager, err)
	}
}
