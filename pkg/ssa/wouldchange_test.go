package ssa_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/managedfields"
	clientgoac "k8s.io/client-go/applyconfigurations"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/structured-merge-diff/v6/typed"

	"github.com/ssakit/ssakit/pkg/ssa"
	"github.com/ssakit/ssakit/pkg/ssatest"
)

// thingSchema is a kind whose status has every shape the decision must tell apart: a scalar, an
// atomic map (as x-kubernetes-map-type: atomic or a LabelSelector make it), a granular map, a list
// keyed by type and a set. metadata is deduced: maps granular, lists atomic.
const thingSchema = `types:
- name: thing
  map:
    fields:
    - name: apiVersion
      type:
        scalar: string
    - name: kind
      type:
        scalar: string
    - name: metadata
      type:
        namedType: __untyped_deduced_
    - name: status
      type:
        namedType: thingStatus
- name: thingStatus
  map:
    fields:
    - name: phase
      type:
        scalar: string
    - name: selector
      type:
        map:
          elementType:
            scalar: string
          elementRelationship: atomic
    - name: labels
      type:
        map:
          elementType:
            scalar: string
    - name: conditions
      type:
        list:
          elementType:
            map:
              fields:
              - name: type
                type:
                  scalar: string
              - name: status
                type:
                  scalar: string
          elementRelationship: associative
          keys:
          - type
    - name: names
      type:
        list:
          elementType:
            scalar: string
          elementRelationship: associative
- name: __untyped_atomic_
  scalar: untyped
  list:
    elementType:
      namedType: __untyped_atomic_
    elementRelationship: atomic
  map:
    elementType:
      namedType: __untyped_atomic_
    elementRelationship: atomic
- name: __untyped_deduced_
  scalar: untyped
  list:
    elementType:
      namedType: __untyped_atomic_
    elementRelationship: atomic
  map:
    elementType:
      namedType: __untyped_deduced_
    elementRelationship: separable
`

// thingTypes is a TypeConverter that knows only the thing kind.
type thingTypes struct{ parser *typed.Parser }

func (c thingTypes) ObjectToTyped(obj runtime.Object, opts ...typed.ValidationOptions) (*typed.TypedValue, error) {
	return c.parser.Type("thing").FromUnstructured(obj.(*unstructured.Unstructured).Object, opts...)
}

func (c thingTypes) TypedToObject(*typed.TypedValue) (runtime.Object, error) { panic("not used") }

func newThingTypes(t *testing.T) managedfields.TypeConverter {
	t.Helper()
	parser, err := typed.NewParser(typed.YAMLObject(thingSchema))
	if err != nil {
		t.Fatal(err)
	}
	return thingTypes{parser}
}

// thing returns an object of the thing kind with status, and managedFields entries (manager,
// fields) on the status subresource.
func thing(status map[string]any, entries ...[2]string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"status": status}}
	u.SetAPIVersion("test/v1")
	u.SetKind("Thing")
	u.SetNamespace("demo")
	u.SetName("one")
	u.SetUID("7")
	u.SetResourceVersion("42")
	var managed []metav1.ManagedFieldsEntry
	for _, e := range entries {
		managed = append(managed, metav1.ManagedFieldsEntry{
			Manager: e[0], Operation: metav1.ManagedFieldsOperationApply, Subresource: "status",
			APIVersion: "test/v1", FieldsType: "FieldsV1", FieldsV1: metav1.NewFieldsV1(e[1]),
		})
	}
	u.SetManagedFields(managed)
	return u
}

// statusConfig is the apply configuration a status applier sends.
func statusConfig(status map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"status": status}}
	u.SetAPIVersion("test/v1")
	u.SetKind("Thing")
	u.SetNamespace("demo")
	u.SetName("one")
	u.SetUID("7")
	u.SetResourceVersion("42")
	return u
}

func TestWouldChange(t *testing.T) {
	types := newThingTypes(t)
	ready := map[string]any{"type": "Ready", "status": "True"}
	synced := map[string]any{"type": "Synced", "status": "True"}
	for _, tc := range []struct {
		name    string
		live    *unstructured.Unstructured
		desired map[string]any
		want    bool
	}{{
		name:    "the same values and fields",
		live:    thing(map[string]any{"phase": "Ready"}, [2]string{"ctl", `{"f:status":{"f:phase":{}}}`}),
		desired: map[string]any{"phase": "Ready"},
		want:    false,
	}, {
		name:    "a changed scalar",
		live:    thing(map[string]any{"phase": "Ready"}, [2]string{"ctl", `{"f:status":{"f:phase":{}}}`}),
		desired: map[string]any{"phase": "Pending"},
		want:    true,
	}, {
		name:    "a dropped owned field",
		live:    thing(map[string]any{"phase": "Ready", "labels": map[string]any{"a": "1"}}, [2]string{"ctl", `{"f:status":{"f:phase":{},"f:labels":{"f:a":{}}}}`}),
		desired: map[string]any{"phase": "Ready"},
		want:    true,
	}, {
		name:    "a key dropped from an atomic map",
		live:    thing(map[string]any{"selector": map[string]any{"a": "1", "b": "2"}}, [2]string{"ctl", `{"f:status":{"f:selector":{}}}`}),
		desired: map[string]any{"selector": map[string]any{"a": "1"}},
		want:    true,
	}, {
		name:    "an atomic map as it is",
		live:    thing(map[string]any{"selector": map[string]any{"a": "1", "b": "2"}}, [2]string{"ctl", `{"f:status":{"f:selector":{}}}`}),
		desired: map[string]any{"selector": map[string]any{"a": "1", "b": "2"}},
		want:    false,
	}, {
		name:    "a key dropped from a granular map",
		live:    thing(map[string]any{"labels": map[string]any{"a": "1", "b": "2"}}, [2]string{"ctl", `{"f:status":{"f:labels":{"f:a":{},"f:b":{}}}}`}),
		desired: map[string]any{"labels": map[string]any{"a": "1"}},
		want:    true,
	}, {
		name:    "a granular map whose other keys another manager owns",
		live:    thing(map[string]any{"labels": map[string]any{"a": "1", "b": "2"}}, [2]string{"ctl", `{"f:status":{"f:labels":{"f:a":{}}}}`}, [2]string{"other", `{"f:status":{"f:labels":{"f:b":{}}}}`}),
		desired: map[string]any{"labels": map[string]any{"a": "1"}},
		want:    false,
	}, {
		name: "a keyed list that another manager's item shares",
		live: thing(map[string]any{"conditions": []any{synced, ready}},
			[2]string{"ctl", `{"f:status":{"f:conditions":{"k:{\"type\":\"Ready\"}":{".":{},"f:type":{},"f:status":{}}}}}`},
			[2]string{"other", `{"f:status":{"f:conditions":{"k:{\"type\":\"Synced\"}":{".":{},"f:type":{},"f:status":{}}}}}`}),
		desired: map[string]any{"conditions": []any{ready}},
		want:    false,
	}, {
		name:    "a dropped keyed list item",
		live:    thing(map[string]any{"conditions": []any{ready, synced}}, [2]string{"ctl", `{"f:status":{"f:conditions":{"k:{\"type\":\"Ready\"}":{".":{},"f:type":{},"f:status":{}},"k:{\"type\":\"Synced\"}":{".":{},"f:type":{},"f:status":{}}}}}`}),
		desired: map[string]any{"conditions": []any{ready}},
		want:    true,
	}, {
		name:    "a new set item",
		live:    thing(map[string]any{"names": []any{"a"}}, [2]string{"ctl", `{"f:status":{"f:names":{"v:\"a\"":{}}}}`}),
		desired: map[string]any{"names": []any{"a", "b"}},
		want:    true,
	}, {
		name:    "a field another manager owns, not yet this one",
		live:    thing(map[string]any{"phase": "Ready"}, [2]string{"ctl", `{"f:status":{"f:labels":{}}}`}, [2]string{"other", `{"f:status":{"f:phase":{}}}`}),
		desired: map[string]any{"phase": "Ready"},
		want:    true,
	}, {
		name:    "no entry of the manager (a stripped cache)",
		live:    thing(map[string]any{"phase": "Ready"}),
		desired: map[string]any{"phase": "Ready"},
		want:    true,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ssa.MayChange([]managedfields.TypeConverter{types}, tc.live, statusConfig(tc.desired), "ctl", "status"); got != tc.want {
				t.Errorf("MayChange = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestMayChange_SendsForAKindTheConverterDoesNotKnow(t *testing.T) {
	live := thing(map[string]any{"phase": "Ready"}, [2]string{"ctl", `{"f:status":{"f:phase":{}}}`})
	builtIn := clientgoac.NewTypeConverter(clientgoscheme.Scheme)

	if !ssa.MayChange([]managedfields.TypeConverter{builtIn}, live, statusConfig(map[string]any{"phase": "Ready"}), "ctl", "status") {
		t.Error("a kind the converter does not know was decided unchanged")
	}
}

func TestMayChange_UsesTheFirstConverterThatKnowsTheKind(t *testing.T) {
	live := thing(map[string]any{"phase": "Ready"}, [2]string{"ctl", `{"f:status":{"f:phase":{}}}`})
	types := []managedfields.TypeConverter{clientgoac.NewTypeConverter(clientgoscheme.Scheme), newThingTypes(t)}

	if ssa.MayChange(types, live, statusConfig(map[string]any{"phase": "Ready"}), "ctl", "status") {
		t.Error("the second converter, which knows the kind, was not used")
	}
}

// BenchmarkMayChange is the steady-state status check of a reconcile: five conditions, a phase
// and an atomic map, unchanged, proven so without a request.
func BenchmarkMayChange(b *testing.B) {
	parser, err := typed.NewParser(typed.YAMLObject(thingSchema))
	if err != nil {
		b.Fatal(err)
	}
	types := []managedfields.TypeConverter{thingTypes{parser}}
	var conditions []any
	owned := `{"f:status":{"f:phase":{},"f:selector":{},"f:conditions":{`
	for i, kind := range []string{"Ready", "Synced", "Available", "Progressing", "Degraded"} {
		conditions = append(conditions, map[string]any{"type": kind, "status": "True"})
		if i > 0 {
			owned += ","
		}
		owned += `"k:{\"type\":\"` + kind + `\"}":{".":{},"f:type":{},"f:status":{}}`
	}
	owned += `}}}`
	status := map[string]any{"phase": "Ready", "selector": map[string]any{"app": "web"}, "conditions": conditions}
	live := thing(status, [2]string{"ctl", owned})
	config := statusConfig(status)
	if ssa.MayChange(types, live, config, "ctl", "status") {
		b.Fatal("an unchanged status was not proven unchanged")
	}
	b.ReportAllocs()
	for b.Loop() {
		ssa.MayChange(types, live, config, "ctl", "status")
	}
}

// benchChild is the child ConfigMap of test/bench's steady state as the controller's cache holds
// it (only the controller's managedFields entry is kept), with the configuration that applies it
// unchanged.
func benchChild() (*corev1.ConfigMap, *corev1ac.ConfigMapApplyConfiguration) {
	const manager, owner, uid = "bench-widgets", "w-0001", "6f1c3c8e-3b3e-4d1a-9b7e-0c1d2e3f4a5b"
	now := metav1.Now()
	live := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: "bench-x7k2p", Name: owner, UID: "0b7c2a4e-9d1f-4c3b-8a6e-5f4d3c2b1a09", ResourceVersion: "48213", CreationTimestamp: now,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "test.ssakit.dev/v1", Kind: "Widget", Name: owner, UID: uid, Controller: new(true)}},
			ManagedFields: []metav1.ManagedFieldsEntry{{
				Manager: manager, Operation: metav1.ManagedFieldsOperationApply, APIVersion: "v1", Time: &now, FieldsType: "FieldsV1",
				FieldsV1: metav1.NewFieldsV1(`{"f:data":{"f:color":{}},"f:metadata":{"f:ownerReferences":{"k:{\"uid\":\"` + uid + `\"}":{}}}}`),
			}},
		},
		Data: map[string]string{"color": "blue"},
	}
	config := corev1ac.ConfigMap(owner, "bench-x7k2p").
		WithOwnerReferences(metav1ac.OwnerReference().WithAPIVersion("test.ssakit.dev/v1").
			WithKind("Widget").WithName(owner).WithUID(uid).WithController(true)).
		WithData(map[string]string{"color": "blue"})
	return live, config
}

// BenchmarkMayChange_BenchChild is the drift applier's decision the bench's table "Cost of the
// local decision per object" measures: Applier.WouldChange on the steady state's child ConfigMap.
func BenchmarkMayChange_BenchChild(b *testing.B) {
	live, config := benchChild()
	applier := ssa.NewApplier(ssatest.NewClientBuilder(clientgoscheme.Scheme).Build(), "bench-widgets", ssa.ApplierOptions{})
	if changes, err := applier.WouldChange(live, config); err != nil || changes {
		b.Fatalf("WouldChange = %v, %v on the unchanged child; want false, nil", changes, err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_, _ = applier.WouldChange(live, config)
	}
}
