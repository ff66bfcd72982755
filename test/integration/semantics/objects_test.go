package semantics

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ssakit/ssakit/internal/testcluster"
)

const (
	userManager      = "user"
	finalizerManager = "op/finalizers"
	legacyManager    = "legacy-operator"
)

// kind is one of the resource kinds a row is checked on.
type kind struct {
	name   string
	gvk    schema.GroupVersionKind
	plural string
}

var (
	configMap = kind{name: "ConfigMap", gvk: corev1.SchemeGroupVersion.WithKind("ConfigMap"), plural: "configmaps"}
	widget    = kind{name: "Widget", gvk: testcluster.WidgetGVK, plural: "widgets"}
	gadget    = kind{name: "Gadget", gvk: testcluster.GadgetGVK, plural: "gadgets"}

	// bothKinds is a built-in type and a custom resource with a status subresource.
	bothKinds = []kind{configMap, widget}
)

// createAsUser creates an object of k owned by the user's manager: a ConfigMap with data, or a
// custom resource with spec.color set and spec.replicas left for the server to default.
func createAsUser(t *testing.T, k kind, namespace, name string) *unstructured.Unstructured {
	t.Helper()
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(k.gvk)
	obj.SetNamespace(namespace)
	obj.SetName(name)
	if k.gvk.Kind == "ConfigMap" {
		obj.Object["data"] = map[string]any{"key": "value"}
	} else {
		obj.Object["spec"] = map[string]any{"color": "blue"}
	}
	if err := cluster.Client.Create(t.Context(), obj, client.FieldOwner(userManager)); err != nil {
		t.Fatalf("creating %s %s/%s: %v", k.name, namespace, name, err)
	}
	return obj
}

// finalizerConfig is the apply configuration ssakit sends: identity, optionally the UID, and
// the finalizers the manager should own. With no finalizers the field is left out entirely.
func finalizerConfig(k kind, namespace, name string, uid types.UID, finalizers ...string) *unstructured.Unstructured {
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(k.gvk)
	obj.SetNamespace(namespace)
	obj.SetName(name)
	if uid != "" {
		obj.SetUID(uid)
	}
	if len(finalizers) > 0 {
		obj.SetFinalizers(finalizers)
	}
	return obj
}

// applyAs sends config as a Server-Side Apply by manager, without force.
func applyAs(ctx context.Context, c client.Client, manager string, config *unstructured.Unstructured) error {
	return c.Apply(ctx, client.ApplyConfigurationFromUnstructured(config), client.FieldOwner(manager))
}

func mustApply(t *testing.T, manager string, config *unstructured.Unstructured) {
	t.Helper()
	if err := applyAs(t.Context(), cluster.Client, manager, config); err != nil {
		t.Fatalf("apply by %s of %v: %v", manager, config.GetFinalizers(), err)
	}
}

// get reads the object live from the API server.
func get(t *testing.T, k kind, namespace, name string) *unstructured.Unstructured {
	t.Helper()
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(k.gvk)
	if err := cluster.Client.Get(t.Context(), client.ObjectKey{Namespace: namespace, Name: name}, obj); err != nil {
		t.Fatalf("getting %s %s/%s: %v", k.name, namespace, name, err)
	}
	return obj
}

func expectNotFound(t *testing.T, k kind, namespace, name string) {
	t.Helper()
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(k.gvk)
	err := cluster.Client.Get(t.Context(), client.ObjectKey{Namespace: namespace, Name: name}, obj)
	if !apierrors.IsNotFound(err) {
		t.Fatalf("getting %s %s/%s: want NotFound, got err=%v (object %v)", k.name, namespace, name, err, obj.Object)
	}
}

// entry returns the managedFields entry of manager for the main resource, or nil.
func entry(obj *unstructured.Unstructured, manager string) *metav1.ManagedFieldsEntry {
	for _, e := range obj.GetManagedFields() {
		if e.Manager == manager && e.Subresource == "" {
			return &e
		}
	}
	return nil
}

// fieldsOf decodes the FieldsV1 of manager's entry, so that two field sets compare as values.
func fieldsOf(t *testing.T, obj *unstructured.Unstructured, manager string) map[string]any {
	t.Helper()
	e := entry(obj, manager)
	if e == nil {
		t.Fatalf("no managedFields entry for %q in %v", manager, obj.GetManagedFields())
	}
	return decodeFields(t, e.FieldsV1.GetRawString())
}

func decodeFields(t *testing.T, raw string) map[string]any {
	t.Helper()
	var fields map[string]any
	if err := json.Unmarshal([]byte(raw), &fields); err != nil {
		t.Fatalf("decoding %s: %v", raw, err)
	}
	return fields
}

// statusError returns err as the API status the server answered with.
func statusError(t *testing.T, err error) metav1.Status {
	t.Helper()
	var statusErr apierrors.APIStatus
	if !errors.As(err, &statusErr) {
		t.Fatalf("want an API status error, got %T: %v", err, err)
	}
	return statusErr.Status()
}

func diff(t *testing.T, what string, want, got any, opts ...cmp.Option) {
	t.Helper()
	if d := cmp.Diff(want, got, opts...); d != "" {
		t.Errorf("%s (-want +got):\n%s", what, d)
	}
}

// resourcePath is the URL path of a namespaced object of kind k.
func resourcePath(k kind, namespace, name string) string {
	prefix := "/apis/" + k.gvk.GroupVersion().String()
	if k.gvk.Group == "" {
		prefix = "/api/" + k.gvk.Version
	}
	return prefix + "/namespaces/" + namespace + "/" + k.plural + "/" + name
}

// distinct drops repeated causes. Seen: kube-apiserver v1.36.3 lists the one cause of a 422 from
// an apply twice. The rows only rely on which causes there are, not on how often they repeat.
func distinct(causes []metav1.StatusCause) []metav1.StatusCause {
	var out []metav1.StatusCause
	for _, c := range causes {
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}
