package finalizer

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ssakit/ssakit/internal/testcluster"
	"github.com/ssakit/ssakit/pkg/ssa"
)

const (
	userManager   = "user"
	legacyManager = "legacy-operator"
	controller    = "widgets"
	cleanup       = "example.com/cleanup"
)

// finalizerManager is the default manager of the cleanup Finalizer declared for controller.
var finalizerManager = ssa.FinalizerFieldOwner(controller, cleanup)

// flavour is one way of holding an object in Go: the Finalizer must behave the same for each.
type flavour struct {
	name string
	gvk  schema.GroupVersionKind
	// userObject is the object a user creates: content, labels and annotations, and for the
	// Widget a spec.replicas left for the server to default.
	userObject func(namespace, name string) client.Object
	// empty is an object of the flavour's Go type to read into.
	empty func() client.Object
}

var (
	typedConfigMap = flavour{
		name: "typed ConfigMap",
		gvk:  corev1.SchemeGroupVersion.WithKind("ConfigMap"),
		userObject: func(namespace, name string) client.Object {
			return &corev1.ConfigMap{ObjectMeta: userMeta(namespace, name), Data: map[string]string{"key": "value"}}
		},
		empty: func() client.Object { return &corev1.ConfigMap{} },
	}
	typedWidget = flavour{
		name: "typed Widget",
		gvk:  testcluster.WidgetGVK,
		userObject: func(namespace, name string) client.Object {
			return &testcluster.Widget{ObjectMeta: userMeta(namespace, name), Spec: testcluster.WidgetSpec{Color: "blue"}}
		},
		empty: func() client.Object { return &testcluster.Widget{} },
	}
	unstructuredWidget = flavour{
		name: "unstructured Widget",
		gvk:  testcluster.WidgetGVK,
		userObject: func(namespace, name string) client.Object {
			u := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{"color": "blue"}}}
			u.SetGroupVersionKind(testcluster.WidgetGVK)
			meta := userMeta(namespace, name)
			u.SetNamespace(meta.Namespace)
			u.SetName(meta.Name)
			u.SetLabels(meta.Labels)
			u.SetAnnotations(meta.Annotations)
			return u
		},
		empty: func() client.Object {
			u := &unstructured.Unstructured{}
			u.SetGroupVersionKind(testcluster.WidgetGVK)
			return u
		},
	}
	flavours = []flavour{typedConfigMap, typedWidget, unstructuredWidget}
)

func userMeta(namespace, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: map[string]string{"app": "demo"}, Annotations: map[string]string{"note": "kept"}}
}

// create creates the flavour's user object and returns it as the server answered.
func (f flavour) create(t *testing.T, namespace, name string) client.Object {
	t.Helper()
	obj := f.userObject(namespace, name)
	if err := cluster.Client.Create(t.Context(), obj, client.FieldOwner(userManager)); err != nil {
		t.Fatalf("creating %s %s/%s: %v", f.name, namespace, name, err)
	}
	return obj
}

// get reads the object live, in the flavour's Go type.
func (f flavour) get(t *testing.T, key client.Object) client.Object {
	t.Helper()
	obj := f.empty()
	if err := cluster.Client.Get(t.Context(), client.ObjectKeyFromObject(key), obj); err != nil {
		t.Fatalf("getting %s: %v", client.ObjectKeyFromObject(key), err)
	}
	return obj
}

// live reads the object as unstructured, for comparisons that must not depend on a Go type.
func live(t *testing.T, gvk schema.GroupVersionKind, key client.Object) *unstructured.Unstructured {
	t.Helper()
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(gvk)
	if err := cluster.Client.Get(t.Context(), client.ObjectKeyFromObject(key), obj); err != nil {
		t.Fatalf("getting %s: %v", client.ObjectKeyFromObject(key), err)
	}
	return obj
}

// newFinalizer declares name for controller on c.
func newFinalizer(t *testing.T, c client.Client, name string, opts ssa.FinalizerOptions) *ssa.Finalizer {
	t.Helper()
	f, err := ssa.NewFinalizer(c, controller, name, opts)
	if err != nil {
		t.Fatalf("NewFinalizer(%q): %v", name, err)
	}
	return f
}

// addByUpdate adds finalizer to obj with a plain Update by manager, as a legacy controller does.
func addByUpdate(ctx context.Context, t *testing.T, obj client.Object, manager, finalizer string) {
	t.Helper()
	obj.SetFinalizers(append(obj.GetFinalizers(), finalizer))
	if err := cluster.Client.Update(ctx, obj, client.FieldOwner(manager)); err != nil {
		t.Fatalf("update adding %s as %s: %v", finalizer, manager, err)
	}
}

// entryFields returns the fields of manager's entry on the main resource, or "" without one.
func entryFields(obj client.Object, manager string) string {
	for _, e := range obj.GetManagedFields() {
		if e.Manager == manager && e.Subresource == "" {
			return e.FieldsV1.GetRawString()
		}
	}
	return ""
}

func diff(t *testing.T, what string, want, got any, opts ...cmp.Option) {
	t.Helper()
	if d := cmp.Diff(want, got, opts...); d != "" {
		t.Errorf("%s (-want +got):\n%s", what, d)
	}
}

// newFinalizerFor declares name for another controller on c.
func newFinalizerFor(t *testing.T, c client.Client, controller, name string, opts ssa.FinalizerOptions) *ssa.Finalizer {
	t.Helper()
	f, err := ssa.NewFinalizer(c, controller, name, opts)
	if err != nil {
		t.Fatalf("NewFinalizer(%q, %q): %v", controller, name, err)
	}
	return f
}
