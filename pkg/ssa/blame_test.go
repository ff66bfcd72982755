package ssa_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/jsonpath"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/ssakit/ssakit/pkg/ssa"
)

// FormatPath tells a key holding dots or slashes from nested fields, the way kubectl's JSONPath
// does, and keeps list items in structured-merge-diff's form.
func TestFormatPath_EscapesDotsInKeysAndKeepsItemsReadable(t *testing.T) {
	web := fieldpath.KeyByFields("name", "web.v1")
	for _, tc := range []struct {
		name string
		path fieldpath.Path
		want string
	}{
		{"plain", fieldpath.MakePathOrDie("spec", "replicas"), `.spec.replicas`},
		{"a key with a dot", fieldpath.MakePathOrDie("data", "app.yaml"), `.data.app\.yaml`},
		{"a key with a slash", fieldpath.MakePathOrDie("metadata", "labels", "team/owner"), `.metadata.labels.team/owner`},
		{"a key with dots and a slash", fieldpath.MakePathOrDie("metadata", "labels", "kubernetes.io/metadata.name"), `.metadata.labels.kubernetes\.io/metadata\.name`},
		{
			"a keyed item whose key has a dot, and a dotted key under it",
			fieldpath.MakePathOrDie("spec", "containers", web, "resources", "limits", "nvidia.com/gpu"),
			`.spec.containers[name="web.v1"].resources.limits.nvidia\.com/gpu`,
		},
		{"a set item with dots", ssa.FinalizerPath("example.com/cleanup"), `.metadata.finalizers[="example.com/cleanup"]`},
		{"an item by index", fieldpath.MakePathOrDie("spec", "args", 0), `.spec.args[0]`},
		{"every character kubectl's JSONPath ends a name at", fieldpath.MakePathOrDie("data", `a,b[c]{d}$e@f g\h`), `.data.a\,b\[c\]\{d\}\$e\@f\ g\\h`},
		{"a key that is kubectl's wildcard", fieldpath.MakePathOrDie("data", "*"), `.data.\*`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if d := cmp.Diff(tc.want, ssa.FormatPath(tc.path)); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

// kubectl get -o jsonpath='{PATH}' reads a FormatPath of fields back to the field: client-go's
// JSONPath, the parser kubectl uses, finds the value at the formatted path.
func TestFormatPath_KubectlJSONPathReadsAFieldPathBack(t *testing.T) {
	obj := map[string]any{"metadata": map[string]any{"labels": map[string]any{
		"kubernetes.io/metadata.name": "prod",
		"kubernetes":                  map[string]any{"io/metadata": map[string]any{"name": "nested"}},
		"team/owner":                  "ops",
		"a,b[c]{d}$e@f g":             "odd",
		"*":                           "star",
	}}}
	for key, want := range map[string]string{
		"kubernetes.io/metadata.name": "prod",
		"team/owner":                  "ops",
		"a,b[c]{d}$e@f g":             "odd",
		"*":                           "star",
	} {
		t.Run(key, func(t *testing.T) {
			path := ssa.FormatPath(fieldpath.MakePathOrDie("metadata", "labels", key))
			parser := jsonpath.New("path")
			if err := parser.Parse("{" + path + "}"); err != nil {
				t.Fatalf("kubectl's JSONPath does not parse %s: %v", path, err)
			}
			var got strings.Builder
			if err := parser.Execute(&got, obj); err != nil {
				t.Fatalf("kubectl's JSONPath finds nothing at %s: %v", path, err)
			}
			if d := cmp.Diff(want, got.String()); d != "" {
				t.Errorf("%s (-want +got):\n%s", path, d)
			}
		})
	}
}

// Blame prints a key holding dots and slashes as one field, which kubectl takes back.
func TestBlame_PrintsAKeyWithDotsAsOneField(t *testing.T) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name:   "prod",
		Labels: map[string]string{"kubernetes.io/metadata.name": "prod"},
		ManagedFields: []metav1.ManagedFieldsEntry{{
			Manager: "kube-apiserver", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "v1",
			FieldsType: "FieldsV1", FieldsV1: metav1.NewFieldsV1(`{"f:metadata":{"f:labels":{".":{},"f:kubernetes.io/metadata.name":{}}}}`),
		}},
	}}

	got, err := ssa.Blame(ns)

	if err != nil {
		t.Fatal(err)
	}
	want := `.metadata.labels                                        kube-apiserver (Update)
.metadata.labels.kubernetes\.io/metadata\.name  "prod"  kube-apiserver (Update)
`
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}
