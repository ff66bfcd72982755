package plugin

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/ssakit/ssakit/internal/testcluster"
)

const (
	userManager   = "kubectl"
	legacyManager = "legacy-operator"
	cleanup       = "example.com/cleanup"
	oldName       = "widget-finalizer"
	// widgets is the Widget resource as a user types it.
	widgets = "widgets.test.ssakit.dev"
)

// userWidget is a Widget a user applied with a color, as kubectl apply --server-side does.
func userWidget(t *testing.T, namespace, name string) *unstructured.Unstructured {
	t.Helper()
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(testcluster.WidgetGVK)
	obj.SetNamespace(namespace)
	obj.SetName(name)
	if err := unstructured.SetNestedField(obj.Object, "green", "spec", "color"); err != nil {
		t.Fatal(err)
	}
	if err := cluster.Client.Apply(t.Context(), client.ApplyConfigurationFromUnstructured(obj), client.FieldOwner(userManager)); err != nil {
		t.Fatal(err)
	}
	return obj
}

// legacyFinalizer adds finalizer to the object the way most controllers were written: a fresh
// read, controllerutil.AddFinalizer, Update.
func legacyFinalizer(t *testing.T, obj client.Object, finalizer string) *testcluster.Widget {
	t.Helper()
	return legacyFinalizerAs(t, obj, finalizer, legacyManager)
}

// legacyFinalizerAs is legacyFinalizer with the Update sent as manager.
func legacyFinalizerAs(t *testing.T, obj client.Object, finalizer, manager string) *testcluster.Widget {
	t.Helper()
	w := &testcluster.Widget{}
	if err := cluster.Client.Get(t.Context(), client.ObjectKeyFromObject(obj), w); err != nil {
		t.Fatal(err)
	}
	controllerutil.AddFinalizer(w, finalizer)
	if err := cluster.Client.Update(t.Context(), w, client.FieldOwner(manager)); err != nil {
		t.Fatal(err)
	}
	return w
}

// live reads the object as the API server has it now.
func live(t *testing.T, key client.Object) *unstructured.Unstructured {
	t.Helper()
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(testcluster.WidgetGVK)
	if err := cluster.Client.Get(t.Context(), client.ObjectKeyFromObject(key), obj); err != nil {
		t.Fatal(err)
	}
	return obj
}

func key(namespace, name string) client.Object {
	return &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
}

func diff(t *testing.T, what string, want, got any, opts ...cmp.Option) {
	t.Helper()
	if d := cmp.Diff(want, got, opts...); d != "" {
		t.Errorf("%s (-want +got):\n%s", what, d)
	}
}

// table splits a printed table into rows of whitespace-separated words.
func table(out string) [][]string {
	var rows [][]string
	for line := range strings.Lines(out) {
		rows = append(rows, strings.Fields(line))
	}
	return rows
}

// decodeList decodes out, a kubectl List as -o json prints it, into items.
func decodeList(t *testing.T, out string, items any) {
	t.Helper()
	var l struct {
		APIVersion, Kind string
		Items            json.RawMessage
	}
	if err := json.Unmarshal([]byte(out), &l); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if l.APIVersion != "v1" || l.Kind != "List" {
		t.Fatalf("not a kubectl List (apiVersion %q, kind %q):\n%s", l.APIVersion, l.Kind, out)
	}
	if err := json.Unmarshal(l.Items, items); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
}
