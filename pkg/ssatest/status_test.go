package ssatest_test

import (
	"context"
	"encoding/json"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/ssakit/ssakit/pkg/ssatest"
)

// entry is what these tests compare of a managedFields entry.
type entry struct {
	Manager     string
	Operation   metav1.ManagedFieldsOperationType
	Subresource string
	Fields      string
}

// entries returns managedFields as entries, in their order.
func entries(managedFields []metav1.ManagedFieldsEntry) []entry {
	var got []entry
	for _, e := range managedFields {
		fields := ""
		if e.FieldsV1 != nil {
			fields = e.FieldsV1.String()
		}
		got = append(got, entry{Manager: e.Manager, Operation: e.Operation, Subresource: e.Subresource, Fields: fields})
	}
	return got
}

// entriesOf returns the entries of manager on obj.
func entriesOf(obj client.Object, manager string) []entry {
	var got []entry
	for _, e := range entries(obj.GetManagedFields()) {
		if e.Manager == manager {
			got = append(got, e)
		}
	}
	return got
}

// webService is a Service with a label and a port, as a test gives it to WithObjects.
func webService() *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "web", Labels: map[string]string{"app": "web"}},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}},
	}
}

// loadBalancerStatus is the configuration of a /status apply of webService.
func loadBalancerStatus() *corev1ac.ServiceApplyConfiguration {
	return corev1ac.Service("web", "demo").WithStatus(corev1ac.ServiceStatus().
		WithLoadBalancer(corev1ac.LoadBalancerStatus().WithIngress(corev1ac.LoadBalancerIngress().WithIP("192.0.2.1"))))
}

// statusEntry is the entry of a /status apply of loadBalancerStatus by manager.
func statusEntry(manager string) entry {
	return entry{
		Manager:     manager,
		Operation:   metav1.ManagedFieldsOperationApply,
		Subresource: "status",
		Fields:      `{"f:status":{"f:loadBalancer":{"f:ingress":{}}}}`,
	}
}

// applyFinalizer applies finalizer as manager to the main resource of svc.
func applyFinalizer(t *testing.T, c client.Client, svc *corev1.Service, finalizer, manager string) {
	t.Helper()
	config := &unstructured.Unstructured{}
	config.SetAPIVersion("v1")
	config.SetKind("Service")
	config.SetNamespace(svc.Namespace)
	config.SetName(svc.Name)
	config.SetFinalizers([]string{finalizer})
	if err := c.Apply(t.Context(), client.ApplyConfigurationFromUnstructured(config), client.FieldOwner(manager)); err != nil {
		t.Fatal(err)
	}
}

// get reads obj back from c.
func get[T client.Object](t *testing.T, c client.Client, obj T, into T) T {
	t.Helper()
	if err := c.Get(t.Context(), client.ObjectKeyFromObject(obj), into); err != nil {
		t.Fatal(err)
	}
	return into
}

// A test that intercepts applies of its own must not lose what NewClientBuilder set up: had the
// test's funcs replaced the layer that marks /status applies, as WithInterceptorFuncs replaces
// interceptor funcs on the fake's own builder, the status manager would own every field,
// finalizers included.
func TestStatusApply_IsRecordedUnderStatusWhenTheTestAlsoGivesInterceptorFuncs(t *testing.T) {
	svc := webService()
	var intercepted []string
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).WithObjects(svc).WithInterceptorFuncs(interceptor.Funcs{
		Apply: func(ctx context.Context, c client.WithWatch, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
			intercepted = append(intercepted, "Apply")
			return c.Apply(ctx, obj, opts...)
		},
		SubResourceApply: func(ctx context.Context, c client.Client, subresource string, obj runtime.ApplyConfiguration, opts ...client.SubResourceApplyOption) error {
			intercepted = append(intercepted, "SubResourceApply "+subresource)
			return c.SubResource(subresource).Apply(ctx, obj, opts...)
		},
	}).Build()
	applyFinalizer(t, c, svc, "example.com/web", "finalizer-owner")
	finalizerOwner := entriesOf(get(t, c, svc, &corev1.Service{}), "finalizer-owner")
	if len(finalizerOwner) != 1 || !strings.Contains(finalizerOwner[0].Fields, `"v:\"example.com/web\""`) {
		t.Fatalf("entries of the finalizer's manager = %+v, want one that owns example.com/web", finalizerOwner)
	}

	if err := c.Status().Apply(t.Context(), loadBalancerStatus(), client.FieldOwner("status-owner")); err != nil {
		t.Fatal(err)
	}

	got := get(t, c, svc, &corev1.Service{})
	if d := cmp.Diff([]entry{statusEntry("status-owner")}, entriesOf(got, "status-owner")); d != "" {
		t.Errorf("entries of the status manager (-want +got):\n%s", d)
	}
	if d := cmp.Diff(finalizerOwner, entriesOf(got, "finalizer-owner")); d != "" {
		t.Errorf("entries of the finalizer's manager, before and after the /status apply (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"Apply", "SubResourceApply status"}, intercepted); d != "" {
		t.Errorf("calls the test's interceptor funcs saw (-want +got):\n%s", d)
	}
}

func TestStatusApply_TheTestsInterceptorSeesTheConfigurationAsSentAndCanFailIt(t *testing.T) {
	svc := webService()
	refused := errors.New("refused by the test")
	// call is what the interceptor is given.
	type call struct {
		Subresource string
		Config      map[string]any
		Options     client.ApplyOptions
		Body        map[string]any // the SubResourceBody option
	}
	var seen []call
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).WithObjects(svc).WithInterceptorFuncs(interceptor.Funcs{
		SubResourceApply: func(_ context.Context, _ client.Client, subresource string, obj runtime.ApplyConfiguration, opts ...client.SubResourceApplyOption) error {
			options := (&client.SubResourceApplyOptions{}).ApplyOpts(opts)
			got := call{Subresource: subresource, Config: asMap(t, obj), Options: options.ApplyOptions}
			if options.SubResourceBody != nil {
				got.Body = asMap(t, options.SubResourceBody)
			}
			seen = append(seen, got)
			return refused
		},
	}).Build()

	err := c.Status().Apply(t.Context(), loadBalancerStatus(), client.FieldOwner("status-owner"))

	if !errors.Is(err, refused) {
		t.Errorf("err = %v, want the interceptor's %v", err, refused)
	}
	want := []call{{
		Subresource: "status",
		Config:      asMap(t, loadBalancerStatus()),
		Options:     client.ApplyOptions{FieldManager: "status-owner"},
	}}
	if d := cmp.Diff(want, seen); d != "" {
		t.Errorf("calls the interceptor saw (-want +got):\n%s", d)
	}
	got := get(t, c, svc, &corev1.Service{})
	if d := cmp.Diff([]entry(nil), entriesOf(got, "status-owner")); d != "" {
		t.Errorf("entries of the status manager after a refused apply (-want +got):\n%s", d)
	}
	if d := cmp.Diff(corev1.ServiceStatus{}, got.Status); d != "" {
		t.Errorf("status after a refused apply (-want +got):\n%s", d)
	}
}

// asMap returns obj as JSON decodes it.
func asMap(t *testing.T, obj any) map[string]any {
	t.Helper()
	data, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestStatusApply_LeavesNoMarkInAnyAnswerOrStoredObject(t *testing.T) {
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).Build()
	if err := c.Create(t.Context(), webService(), client.FieldOwner("creator")); err != nil {
		t.Fatal(err)
	}
	config := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Service",
		"metadata": map[string]any{"namespace": "demo", "name": "web"},
		"status": map[string]any{"loadBalancer": map[string]any{
			"ingress": []any{map[string]any{"ip": "192.0.2.1"}},
		}},
	}}

	if err := c.Status().Apply(t.Context(), client.ApplyConfigurationFromUnstructured(config), client.FieldOwner("status-owner")); err != nil {
		t.Fatal(err)
	}

	want := []entry{
		{Manager: "creator", Operation: metav1.ManagedFieldsOperationUpdate,
			Fields: `{"f:metadata":{"f:labels":{".":{},"f:app":{}}},"f:spec":{"f:ports":{".":{},"k:{\"port\":80,\"protocol\":\"TCP\"}":{".":{},"f:port":{},"f:targetPort":{}}}}}`},
		statusEntry("status-owner"),
	}
	byManager := cmpopts.SortSlices(func(a, b entry) bool { return a.Manager < b.Manager })
	if d := cmp.Diff(want, entries(config.GetManagedFields()), byManager); d != "" {
		t.Errorf("managedFields of the answer (-want +got):\n%s", d)
	}
	got := get(t, c, config, &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Service"}})
	if d := cmp.Diff(want, entries(got.GetManagedFields()), byManager); d != "" {
		t.Errorf("managedFields of the stored object (-want +got):\n%s", d)
	}
	list := &corev1.ServiceList{}
	if err := c.List(t.Context(), list); err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 {
		t.Fatalf("listed %d Services, want 1", len(list.Items))
	}
	if d := cmp.Diff(want, entries(list.Items[0].ManagedFields), byManager); d != "" {
		t.Errorf("managedFields of the listed object (-want +got):\n%s", d)
	}
}

func TestMainResourceApply_IsNotRecordedAsAStatusApply(t *testing.T) {
	svc := webService()
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).WithObjects(svc).Build()
	// A /status apply first: nothing of it may stay for the next apply.
	if err := c.Status().Apply(t.Context(), loadBalancerStatus(), client.FieldOwner("status-owner")); err != nil {
		t.Fatal(err)
	}

	config := corev1ac.Service("web", "demo").WithLabels(map[string]string{"tier": "front"})
	if err := c.Apply(t.Context(), config, client.FieldOwner("labeler")); err != nil {
		t.Fatal(err)
	}

	// Recorded under the main resource, owning the label. The fake's main-resource apply also
	// owns the empty spec of the Go type and the stored status
	// (TestFake_AppliesTheZeroValuesOfTheKindsGoType, TestFake_MainResourceApplyOwnsTheStoredStatus);
	// a /status apply would own the status alone.
	want := []entry{{
		Manager: "labeler", Operation: metav1.ManagedFieldsOperationApply,
		Fields: `{"f:metadata":{"f:labels":{"f:tier":{}}},"f:spec":{},"f:status":{"f:loadBalancer":{"f:ingress":{}}}}`,
	}}
	got := get(t, c, svc, &corev1.Service{})
	if d := cmp.Diff(want, entriesOf(got, "labeler")); d != "" {
		t.Errorf("entries of the main-resource applier (-want +got):\n%s", d)
	}
	if d := cmp.Diff(map[string]string{"app": "web", "tier": "front"}, got.Labels); d != "" {
		t.Errorf("labels (-want +got):\n%s", d)
	}
}

func TestClientBuilder_IndexesServeFieldSelectorsThroughInterceptorFuncs(t *testing.T) {
	byMode := func(obj client.Object) []string { return []string{obj.(*corev1.ConfigMap).Data["mode"]} }
	byName := func(obj client.Object) []string { return []string{obj.GetName()} }
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).
		WithObjects(configMap()).
		WithIndex(&corev1.ConfigMap{}, "data.mode", byMode).
		WithInterceptorFuncs(interceptor.Funcs{}).
		Build()
	// fake.AddIndex finds the fake client under the interceptor and ssatest's client by Unwrap.
	if err := fake.AddIndex(c, &corev1.ConfigMap{}, "metadata.name", byName); err != nil {
		t.Fatal(err)
	}

	var got []string
	for _, selector := range []client.MatchingFields{{"data.mode": "fast"}, {"metadata.name": "settings"}} {
		list := &corev1.ConfigMapList{}
		if err := c.List(t.Context(), list, selector); err != nil {
			t.Fatal(err)
		}
		for _, cm := range list.Items {
			got = append(got, cm.Name)
		}
	}
	if d := cmp.Diff([]string{"settings", "settings"}, got); d != "" {
		t.Errorf("ConfigMaps listed by each index (-want +got):\n%s", d)
	}
}

// The fake kit decides from what it is given: it looks at no call stack and no caller's name
// (controller-runtime's fake does, in its own code).
func TestPackage_InspectsNoCallStack(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	forbidden := map[string]bool{
		"runtime/debug":         true, // debug.Stack, debug.PrintStack
		"runtime.Caller":        true,
		"runtime.Callers":       true,
		"runtime.CallersFrames": true,
		"runtime.FuncForPC":     true,
		"runtime.Stack":         true,
	}
	var found []string
	fset := token.NewFileSet()
	for _, name := range files {
		file, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.ImportSpec:
				if path, _ := strconv.Unquote(n.Path.Value); forbidden[path] {
					found = append(found, fset.Position(n.Pos()).String()+": "+path)
				}
			case *ast.SelectorExpr:
				if pkg, ok := n.X.(*ast.Ident); ok && forbidden[pkg.Name+"."+n.Sel.Name] {
					found = append(found, fset.Position(n.Pos()).String()+": "+pkg.Name+"."+n.Sel.Name)
				}
			}
			return true
		})
	}
	if d := cmp.Diff([]string(nil), found); d != "" {
		t.Errorf("call-stack inspection in pkg/ssatest (-want +got):\n%s", d)
	}
}

// client.Apply as a Patch of /status (deprecated for Status().Apply, still in use) is a /status
// apply too: its manager owns only the status it sent, and the caller's object gets the answer.
func TestStatusApplyPatch_IsRecordedUnderStatus(t *testing.T) {
	svc := webService()
	c := ssatest.NewClientBuilder(nil).WithObjects(svc).WithStatusSubresource(svc).Build()
	applyFinalizer(t, c, svc, "example.com/x", "op/finalizer")
	patch := &unstructured.Unstructured{Object: map[string]any{"status": map[string]any{
		"loadBalancer": map[string]any{"ingress": []any{map[string]any{"ip": "192.0.2.1"}}},
	}}}
	patch.SetAPIVersion("v1")
	patch.SetKind("Service")
	patch.SetNamespace(svc.Namespace)
	patch.SetName(svc.Name)

	//nolint:staticcheck // the deprecated apply patch is what this test is about
	if err := c.Status().Patch(t.Context(), patch, client.Apply, client.FieldOwner("lb"), client.ForceOwnership); err != nil {
		t.Fatal(err)
	}

	if d := cmp.Diff([]entry{statusEntry("lb")}, entriesOf(get(t, c, svc, &corev1.Service{}), "lb")); d != "" {
		t.Errorf("entries of the status manager (-want +got):\n%s", d)
	}
	if patch.GetResourceVersion() == "" || len(patch.GetManagedFields()) == 0 {
		t.Errorf("the caller's object did not get the answer: resourceVersion %q, %d managedFields entries", patch.GetResourceVersion(), len(patch.GetManagedFields()))
	}
	for _, e := range patch.GetManagedFields() {
		if strings.HasPrefix(e.Manager, "ssatest.") {
			t.Errorf("the answer shows ssatest's mark: %+v", e)
		}
	}
}
