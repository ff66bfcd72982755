package finalizer

import (
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/structured-merge-diff/v6/value"

	"github.com/ssakit/ssakit/internal/testcluster"
	"github.com/ssakit/ssakit/pkg/ssa"
)

// The converter sees the Widget's list types: conditions keyed by type and finalizers as a set,
// where the deduced converter would make both lists atomic.
func TestServerTypeConverter_KnowsTheCustomResourcesSchema(t *testing.T) {
	g := NewWithT(t)
	widget := &unstructured.Unstructured{Object: map[string]any{
		"metadata": map[string]any{
			"name": "typed", "namespace": "default",
			"finalizers": []any{"a.example.com/x"},
		},
		"status": map[string]any{"conditions": []any{map[string]any{
			"type": "Ready", "status": "True", "reason": "R", "message": "M",
			"lastTransitionTime": "2026-01-01T00:00:00Z",
		}}},
	}}
	widget.SetGroupVersionKind(testcluster.WidgetGVK)
	keyed := []fieldpath.Path{
		fieldpath.MakePathOrDie("status", "conditions", fieldpath.KeyByFields("type", "Ready")),
		fieldpath.MakePathOrDie("metadata", "finalizers", value.NewValueInterface("a.example.com/x")),
	}

	server := fieldSet(t, serverTypeConverter(t, testcluster.WidgetGVK.GroupVersion()), widget)
	deduced := fieldSet(t, managedfields.NewDeducedTypeConverter(), widget)

	for _, path := range keyed {
		g.Expect(server.Has(path)).To(BeTrue(), "the server's schema gives %s; got\n%s", path, server)
		// Guards the test itself: an all-atomic schema would not pass it.
		g.Expect(deduced.Has(path)).To(BeFalse(), "the deduced schema gives %s", path)
	}
}

// The core group lives under api/v1, not apis/<group>/<version>.
func TestServerTypeConverter_ReadsTheCoreGroup(t *testing.T) {
	configMap := &unstructured.Unstructured{Object: map[string]any{
		"metadata": map[string]any{"name": "typed", "namespace": "default", "finalizers": []any{"a.example.com/x"}},
	}}
	configMap.SetGroupVersionKind(schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"})
	set := fieldSet(t, serverTypeConverter(t, schema.GroupVersion{Version: "v1"}), configMap)
	path := fieldpath.MakePathOrDie("metadata", "finalizers", value.NewValueInterface("a.example.com/x"))
	NewWithT(t).Expect(set.Has(path)).To(BeTrue(), "want %s; got\n%s", path, set)
}

func TestServerTypeConverter_RefusesAGroupVersionTheServerDoesNotServe(t *testing.T) {
	for _, gv := range []schema.GroupVersion{
		{Group: "absent.ssakit.dev", Version: "v1"},
		{Group: testcluster.TestGroup, Version: "v2"},
	} {
		t.Run(gv.String(), func(t *testing.T) {
			g := NewWithT(t)
			// Refused even next to a served group-version; listed first so that the answer does
			// not depend on whether Widget's schema is published yet.
			_, err := ssa.ServerTypeConverter(cluster.Config, gv, testcluster.WidgetGVK.GroupVersion())
			g.Expect(err).To(MatchError(ContainSubstring(gv.String())))
			g.Expect(err).To(MatchError(ContainSubstring("CustomResourceDefinition")))
		})
	}
}

func TestServerTypeConverter_RefusesNoGroupVersion(t *testing.T) {
	_, err := ssa.ServerTypeConverter(cluster.Config)
	NewWithT(t).Expect(err).To(HaveOccurred())
}

// serverTypeConverter waits for the server to publish gv's schema: it does so shortly after the
// CRD is Established (about 300 ms after the control plane starts), so the first call can miss it.
func serverTypeConverter(t *testing.T, gv schema.GroupVersion) managedfields.TypeConverter {
	t.Helper()
	tc, err := cluster.ServerTypeConverter(gv)
	if err != nil {
		t.Fatalf("reading the schema of %s: %v", gv, err)
	}
	return tc
}

func fieldSet(t *testing.T, tc managedfields.TypeConverter, obj *unstructured.Unstructured) *fieldpath.Set {
	t.Helper()
	typed, err := tc.ObjectToTyped(obj)
	if err != nil {
		t.Fatalf("ObjectToTyped: %v", err)
	}
	set, err := typed.ToFieldSet()
	if err != nil {
		t.Fatalf("ToFieldSet: %v", err)
	}
	return set
}
