package ssa

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoac "k8s.io/client-go/applyconfigurations"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/structured-merge-diff/v6/value"
)

// driftCase is one generated decision: a configuration applied as manager to subresource, and the
// live object it is decided against, as the server would have left it after an earlier apply,
// then changed by the mutations named in steps.
type driftCase struct {
	seed        int
	steps       []string
	config      *unstructured.Unstructured
	live        *unstructured.Unstructured
	manager     string
	subresource string
}

const driftManager = "ctl"

// The differential test of the fast path: on generated ConfigMaps, Deployments and Deployment
// statuses, typed and unstructured, with values changed, fields added and removed, other managers'
// fields and items, reordered and duplicated items, null and empty values, values of the wrong
// kind, and the manager's entry missing, on /status, at another apiVersion or re-encoded, the fast
// path never proves "unchanged" where the reference (mayChangeExactly) says "may change". Each
// seed replays one case.
func TestDecide_NeverProvesUnchangedWhatTheReferenceWouldSend(t *testing.T) {
	types := clientgoac.NewTypeConverter(clientgoscheme.Scheme)
	applier := NewApplier(fake.NewClientBuilder().WithScheme(clientgoscheme.Scheme).Build(), driftManager, ApplierOptions{})
	answers := map[string]int{}
	for seed := range 4000 {
		c := generateDriftCase(seed)
		exact := mayChangeExactly(types, c.live, c.config, c.manager, c.subresource)
		kt, ok := kindTypeOf(types, c.config.GroupVersionKind())
		if !ok {
			t.Fatalf("seed %d: the converter does not know %s", seed, c.config.GroupVersionKind())
		}
		for _, view := range liveViews(t, c.live) {
			fast := decide(kt, view, value.NewValueInterface(c.config.Object), c.manager, c.subresource, c.config.GetAPIVersion())
			answers[fmt.Sprintf("reference sends %v, fast path %v", exact, fast)]++
			if fast == unchanged && exact {
				t.Fatalf("seed %d (%s), live %T: the fast path proved unchanged what the reference would send\n%s", seed, strings.Join(c.steps, ", "), view, c)
			}
			ac, ok := typedConfig(c.config)
			if !ok || c.subresource != "" {
				continue
			}
			for _, config := range []runtime.ApplyConfiguration{ac, client.ApplyConfigurationFromUnstructured(c.config)} {
				// The Applier's full path also refuses a configuration that does not name live.
				_, refused := applier.content(view, config)
				proven := applier.provenUnchanged(view, config)
				answers[fmt.Sprintf("reference sends %v, Applier proves unchanged %v", exact, proven)]++
				if proven && (exact || refused != nil) {
					t.Fatalf("seed %d (%s), live %T, configuration %T: the Applier proved unchanged what its full path would send or refuse\n%s", seed, strings.Join(c.steps, ", "), view, config, c)
				}
			}
		}
	}
	t.Logf("answers over every seed and view of live: %v", answers)
	// The generator must reach both answers, and the fast path must prove most unchanged cases
	// itself, or this test proves little.
	if answers["reference sends false, fast path unchanged"] < 1000 || answers["reference sends true, fast path changes"] < 1000 ||
		answers["reference sends false, fast path unknown"] > answers["reference sends false, fast path unchanged"]/2 ||
		answers["reference sends false, Applier proves unchanged true"] < 1000 {
		t.Errorf("the generated cases do not cover the decision: %v", answers)
	}
}

func (c driftCase) String() string {
	config, _ := json.Marshal(c.config.Object)
	live, _ := json.Marshal(c.live.Object)
	return fmt.Sprintf("manager %q on %q\nconfiguration: %s\nlive: %s", c.manager, c.subresource, config, live)
}

// liveViews returns live as the decision may receive it: unstructured, and typed.
func liveViews(t *testing.T, live *unstructured.Unstructured) []client.Object {
	t.Helper()
	obj, err := clientgoscheme.Scheme.New(live.GroupVersionKind())
	if err != nil {
		t.Fatal(err)
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(live.Object, obj); err != nil {
		// A value of the wrong kind has no typed view.
		return []client.Object{live}
	}
	typed := obj.(client.Object)
	// A typed object read through a client has no apiVersion and kind.
	typed.GetObjectKind().SetGroupVersionKind(schema.GroupVersionKind{})
	return []client.Object{live, typed}
}

// typedConfig is config as its generated apply configuration, when it has one.
func typedConfig(config *unstructured.Unstructured) (runtime.ApplyConfiguration, bool) {
	var ac runtime.ApplyConfiguration
	switch config.GetKind() {
	case "ConfigMap":
		ac = &corev1ac.ConfigMapApplyConfiguration{}
	case "Deployment":
		ac = &appsv1ac.DeploymentApplyConfiguration{}
	}
	raw, err := json.Marshal(config.Object)
	if err != nil || ac == nil || json.Unmarshal(raw, ac) != nil {
		return nil, false
	}
	// Decoding drops what the generated type cannot hold (a null, an empty map): only a
	// configuration that survives whole is the same configuration.
	back, err := runtime.DefaultUnstructuredConverter.ToUnstructured(ac)
	if err != nil {
		return nil, false
	}
	again, _ := json.Marshal(back)
	if string(again) != string(raw) {
		return nil, false
	}
	return ac, true
}

// generateDriftCase builds the case of seed.
func generateDriftCase(seed int) driftCase {
	r := rand.New(rand.NewPCG(uint64(seed), 7))
	c := driftCase{seed: seed, manager: driftManager}
	switch r.IntN(3) {
	case 0:
		c.config = configMapConfig(r)
	case 1:
		c.config = deploymentConfig(r)
	default:
		c.config = deploymentStatusConfig(r)
		c.subresource = "status"
	}
	c.live = settled(c.config, c.subresource)
	for range r.IntN(3) {
		mutate(r, &c)
	}
	return c
}

func pick[T any](r *rand.Rand, items ...T) T { return items[r.IntN(len(items))] }

func header(apiVersion, kind string) map[string]any {
	return map[string]any{"apiVersion": apiVersion, "kind": kind, "metadata": map[string]any{"name": "one", "namespace": "demo"}}
}

func configMapConfig(r *rand.Rand) *unstructured.Unstructured {
	u := header("v1", "ConfigMap")
	data := map[string]any{}
	for i := range 1 + r.IntN(3) {
		data[fmt.Sprintf("k%d", i)] = pick(r, "blue", "green", "")
	}
	u["data"] = data
	meta := u["metadata"].(map[string]any)
	if r.IntN(2) == 0 {
		meta["labels"] = map[string]any{"app": pick(r, "web", "db")}
	}
	if r.IntN(2) == 0 {
		meta["annotations"] = map[string]any{"example.com/note": pick(r, "a", "b")}
	}
	if r.IntN(2) == 0 {
		var refs []any
		for i := range 1 + r.IntN(2) {
			ref := map[string]any{"apiVersion": "test.ssakit.dev/v1", "kind": "Widget", "name": fmt.Sprintf("w%d", i), "uid": fmt.Sprintf("uid-%d", i)}
			if i == 0 {
				ref["controller"] = true
			}
			refs = append(refs, ref)
		}
		meta["ownerReferences"] = refs
	}
	return &unstructured.Unstructured{Object: u}
}

func container(r *rand.Rand, name string) map[string]any {
	c := map[string]any{"name": name, "image": pick(r, "nginx:1", "nginx:2")}
	if r.IntN(2) == 0 {
		c["ports"] = []any{map[string]any{"containerPort": int64(8080), "name": "http"}}
	}
	if r.IntN(2) == 0 {
		var env []any
		for i := range 1 + r.IntN(3) {
			env = append(env, map[string]any{"name": fmt.Sprintf("E%d", i), "value": pick(r, "1", "2")})
		}
		c["env"] = env
	}
	return c
}

func deploymentConfig(r *rand.Rand) *unstructured.Unstructured {
	u := header("apps/v1", "Deployment")
	labels := map[string]any{"app": "web"}
	var containers []any
	for i := range 1 + r.IntN(2) {
		containers = append(containers, container(r, fmt.Sprintf("c%d", i)))
	}
	spec := map[string]any{
		"selector": map[string]any{"matchLabels": labels},
		"template": map[string]any{"metadata": map[string]any{"labels": labels}, "spec": map[string]any{"containers": containers}},
	}
	if r.IntN(2) == 0 {
		spec["replicas"] = int64(1 + r.IntN(3))
	}
	u["spec"] = spec
	return &unstructured.Unstructured{Object: u}
}

func deploymentStatusConfig(r *rand.Rand) *unstructured.Unstructured {
	u := header("apps/v1", "Deployment")
	var conditions []any
	for _, kind := range []string{"Available", "Progressing", "ReplicaFailure"}[:1+r.IntN(3)] {
		conditions = append(conditions, map[string]any{"type": kind, "status": pick(r, "True", "False"), "reason": "R"})
	}
	u["status"] = map[string]any{"observedGeneration": int64(1 + r.IntN(2)), "conditions": conditions}
	return &unstructured.Unstructured{Object: u}
}

// settled is the live object after config was applied as driftManager: config's values, the
// server's defaults and metadata, another manager's fields, and the manager's entry holding
// exactly the configuration's fields.
func settled(config *unstructured.Unstructured, subresource string) *unstructured.Unstructured {
	live := config.DeepCopy()
	if live.GetKind() == "Deployment" {
		d := &appsv1.Deployment{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(live.Object, d); err != nil {
			panic(err)
		}
		clientgoscheme.Scheme.Default(d)
		content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(d)
		if err != nil {
			panic(err)
		}
		live.Object = content
		live.SetGroupVersionKind(config.GroupVersionKind())
	}
	live.SetUID("uid-live")
	live.SetResourceVersion("42")
	live.SetCreationTimestamp(metav1.Unix(1700000000, 0))
	labels := live.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels["other"] = "x"
	live.SetLabels(labels)
	live.SetManagedFields([]metav1.ManagedFieldsEntry{
		{Manager: "other", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: config.GetAPIVersion(), FieldsType: "FieldsV1",
			FieldsV1: metav1.NewFieldsV1(`{"f:metadata":{"f:labels":{".":{},"f:other":{}}}}`)},
		{Manager: driftManager, Operation: metav1.ManagedFieldsOperationApply, Subresource: subresource, APIVersion: config.GetAPIVersion(),
			FieldsType: "FieldsV1", FieldsV1: metav1.NewFieldsV1(must(fieldsOf(config)))},
	})
	return live
}

// fieldsOf is the FieldsV1 the server records for an apply of config; ok is false when the
// server would refuse config.
func fieldsOf(config *unstructured.Unstructured) (fields string, ok bool) {
	tv, err := clientgoac.NewTypeConverter(clientgoscheme.Scheme).ObjectToTyped(config)
	if err != nil {
		return "", false
	}
	set, err := tv.ToFieldSet()
	if err != nil {
		return "", false
	}
	raw, err := set.Difference(untrackedFields).ToJSON()
	return string(raw), err == nil
}

func must(fields string, ok bool) string {
	if !ok {
		panic("a generated configuration the server would refuse")
	}
	return fields
}

// mutations change a case after the apply that settled it.
var mutations = map[string]func(r *rand.Rand, c *driftCase) bool{
	"a configuration value changed": func(r *rand.Rand, c *driftCase) bool { return changeLeaf(r, c.config.Object) },
	"a live value changed":          func(r *rand.Rand, c *driftCase) bool { return changeLeaf(r, c.live.Object) },
	"a field added to the configuration": func(r *rand.Rand, c *driftCase) bool {
		return addField(r, c.config.Object)
	},
	"a field removed from the configuration": func(r *rand.Rand, c *driftCase) bool {
		return removeField(r, c.config.Object)
	},
	"the same field added to both, unowned": func(r *rand.Rand, c *driftCase) bool {
		key := fmt.Sprintf("n%d", r.IntN(3))
		return setLabel(c.config.Object, key) && setLabel(c.live.Object, key)
	},
	"the same field added to live, owned by another manager": func(_ *rand.Rand, c *driftCase) bool {
		return setLabel(c.live.Object, "theirs")
	},
	"a field added to an atomic value in live": func(_ *rand.Rand, c *driftCase) bool {
		if refs, ok := c.live.Object["metadata"].(map[string]any)["ownerReferences"].([]any); ok {
			refs[0].(map[string]any)["blockOwnerDeletion"] = true
			return true
		}
		// Live stays one the schema holds: the fast path does not validate what the
		// configuration does not name (see decide).
		return c.live.GetKind() == "Deployment" && unstructured.SetNestedField(c.live.Object, "extra", "spec", "selector", "matchLabels", "extra") == nil
	},
	"a key of an atomic value renamed in live": func(_ *rand.Rand, c *driftCase) bool {
		if refs, ok := c.live.Object["metadata"].(map[string]any)["ownerReferences"].([]any); ok {
			ref := refs[0].(map[string]any)
			delete(ref, "kind")
			ref["blockOwnerDeletion"] = true
			return true
		}
		labels, ok := at(c.live.Object, []string{"spec", "selector", "matchLabels"})
		if !ok {
			return false
		}
		m := labels.(map[string]any)
		m["tier"] = m["app"]
		delete(m, "app")
		return true
	},
	"a uid or resourceVersion precondition in the configuration": func(r *rand.Rand, c *driftCase) bool {
		field, live := pick(r, "uid", "resourceVersion"), map[string]string{"uid": string(c.live.GetUID()), "resourceVersion": c.live.GetResourceVersion()}
		return unstructured.SetNestedField(c.config.Object, pick(r, live[field], "other"), "metadata", field) == nil
	},
	"the configuration's name or namespace removed": func(r *rand.Rand, c *driftCase) bool {
		unstructured.RemoveNestedField(c.config.Object, "metadata", pick(r, "name", "namespace"))
		return true
	},
	"a list reordered in live":              func(r *rand.Rand, c *driftCase) bool { return editList(r, c.live.Object, reverse) },
	"a list reordered in the configuration": func(r *rand.Rand, c *driftCase) bool { return editList(r, c.config.Object, reverse) },
	"an item duplicated in the configuration": func(r *rand.Rand, c *driftCase) bool {
		return editList(r, c.config.Object, func(l []any) []any { return append(l, l[0]) })
	},
	"an item duplicated in both": func(r *rand.Rand, c *driftCase) bool {
		seed := r.Uint64()
		dup := func(l []any) []any { return append(l, l[0]) }
		return editList(rand.New(rand.NewPCG(seed, 0)), c.config.Object, dup) && editList(rand.New(rand.NewPCG(seed, 0)), c.live.Object, dup)
	},
	"a port's defaulted protocol changed in live": func(_ *rand.Rand, c *driftCase) bool {
		port, ok := at(c.live.Object, []string{"spec", "template", "spec", "containers", "0", "ports", "0"})
		if !ok {
			return false
		}
		port.(map[string]any)["protocol"] = "UDP"
		return true
	},
	"another manager's item added to live": func(r *rand.Rand, c *driftCase) bool {
		return editList(r, c.live.Object, func(l []any) []any { return append(l, otherItem(l[0])) })
	},
	"an item dropped from live": func(r *rand.Rand, c *driftCase) bool {
		return editList(r, c.live.Object, func(l []any) []any { return l[1:] })
	},
	"a null in the configuration": func(r *rand.Rand, c *driftCase) bool { return replaceLeaf(r, c.config.Object, nil) },
	"an empty map in the configuration": func(_ *rand.Rand, c *driftCase) bool {
		return unstructured.SetNestedField(c.config.Object, map[string]any{}, "metadata", "annotations") == nil
	},
	"a number where the schema wants a string": func(r *rand.Rand, c *driftCase) bool {
		return replaceLeaf(r, c.config.Object, int64(3)) && replaceLeaf(r, c.live.Object, int64(3))
	},
	"the manager's entry removed": func(_ *rand.Rand, c *driftCase) bool {
		return editEntry(c.live, func([]metav1.ManagedFieldsEntry, metav1.ManagedFieldsEntry) []metav1.ManagedFieldsEntry { return nil })
	},
	"the manager's entry on another subresource": func(_ *rand.Rand, c *driftCase) bool {
		return editEntry(c.live, func(kept []metav1.ManagedFieldsEntry, own metav1.ManagedFieldsEntry) []metav1.ManagedFieldsEntry {
			own.Subresource = map[string]string{"": "status", "status": ""}[own.Subresource]
			return append(kept, own)
		})
	},
	"the manager's entry at another apiVersion": func(_ *rand.Rand, c *driftCase) bool {
		return editEntry(c.live, func(kept []metav1.ManagedFieldsEntry, own metav1.ManagedFieldsEntry) []metav1.ManagedFieldsEntry {
			own.APIVersion += "beta1"
			return append(kept, own)
		})
	},
	"the manager's entry re-encoded": func(_ *rand.Rand, c *driftCase) bool {
		return editEntry(c.live, func(kept []metav1.ManagedFieldsEntry, own metav1.ManagedFieldsEntry) []metav1.ManagedFieldsEntry {
			own.FieldsV1 = metav1.NewFieldsV1(strings.Replace(string(own.FieldsV1.GetRawBytes()), `":{`, `": {`, 1))
			return append(kept, own)
		})
	},
	"the manager's fields split over two entries": func(_ *rand.Rand, c *driftCase) bool {
		return editEntry(c.live, func(kept []metav1.ManagedFieldsEntry, own metav1.ManagedFieldsEntry) []metav1.ManagedFieldsEntry {
			empty := own
			empty.FieldsV1 = metav1.NewFieldsV1(`{}`)
			return append(kept, own, empty)
		})
	},
	"the manager's entry owning one field less": func(_ *rand.Rand, c *driftCase) bool {
		return editEntry(c.live, func(kept []metav1.ManagedFieldsEntry, own metav1.ManagedFieldsEntry) []metav1.ManagedFieldsEntry {
			smaller := c.config.DeepCopy()
			if removeField(rand.New(rand.NewPCG(uint64(c.seed), 1)), smaller.Object) {
				if fields, ok := fieldsOf(smaller); ok {
					own.FieldsV1 = metav1.NewFieldsV1(fields)
				}
			}
			return append(kept, own)
		})
	},
}

func mutate(r *rand.Rand, c *driftCase) {
	names := slices.Sorted(func(yield func(string) bool) {
		for name := range mutations {
			if !yield(name) {
				return
			}
		}
	})
	name := names[r.IntN(len(names))]
	if mutations[name](r, c) {
		c.steps = append(c.steps, name)
	}
}

// leaves are the paths of the scalars under obj's data, metadata labels and annotations, spec and
// status, lists entered at their first item.
func leaves(obj map[string]any) [][]string {
	var out [][]string
	var walk func(path []string, v any)
	walk = func(path []string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for _, k := range slices.Sorted(func(yield func(string) bool) {
				for k := range v {
					if !yield(k) {
						return
					}
				}
			}) {
				walk(append(slices.Clip(path), k), v[k])
			}
		case []any:
			if len(v) > 0 {
				walk(append(slices.Clip(path), "0"), v[0])
			}
		default:
			out = append(out, path)
		}
	}
	for _, top := range [][]string{{"data"}, {"metadata", "labels"}, {"metadata", "annotations"}, {"spec"}, {"status"}} {
		if v, ok := at(obj, top); ok {
			walk(top, v)
		}
	}
	return out
}

// at reads path in obj; "0" enters a list's first item.
func at(obj any, path []string) (any, bool) {
	for _, p := range path {
		switch o := obj.(type) {
		case map[string]any:
			v, ok := o[p]
			if !ok {
				return nil, false
			}
			obj = v
		case []any:
			if len(o) == 0 {
				return nil, false
			}
			obj = o[0]
		default:
			return nil, false
		}
	}
	return obj, true
}

// setAt writes v at path in obj, whose parent must exist.
func setAt(obj map[string]any, path []string, v any) bool {
	parent, ok := at(obj, path[:len(path)-1])
	if !ok {
		return false
	}
	m, ok := parent.(map[string]any)
	if !ok {
		return false
	}
	m[path[len(path)-1]] = v
	return true
}

func changeLeaf(r *rand.Rand, obj map[string]any) bool {
	ls := leaves(obj)
	if len(ls) == 0 {
		return false
	}
	path := ls[r.IntN(len(ls))]
	old, _ := at(obj, path)
	switch old := old.(type) {
	case string:
		return setAt(obj, path, old+"-changed")
	case int64:
		return setAt(obj, path, old+1)
	case bool:
		return setAt(obj, path, !old)
	}
	return false
}

func replaceLeaf(r *rand.Rand, obj map[string]any, v any) bool {
	ls := leaves(obj)
	if len(ls) == 0 {
		return false
	}
	return setAt(obj, ls[r.IntN(len(ls))], v)
}

func addField(r *rand.Rand, obj map[string]any) bool {
	switch r.IntN(3) {
	case 0:
		return setLabel(obj, "added")
	case 1:
		if _, ok := obj["data"]; ok {
			return unstructured.SetNestedField(obj, "v", "data", "added") == nil
		}
	}
	return editList(r, obj, func(l []any) []any { return append(l, otherItem(l[0])) })
}

func removeField(r *rand.Rand, obj map[string]any) bool {
	ls := leaves(obj)
	if len(ls) == 0 {
		return false
	}
	path := ls[r.IntN(len(ls))]
	parent, ok := at(obj, path[:len(path)-1])
	if m, isMap := parent.(map[string]any); ok && isMap && len(m) > 1 {
		delete(m, path[len(path)-1])
		return true
	}
	return false
}

func setLabel(obj map[string]any, key string) bool {
	return unstructured.SetNestedField(obj, "set", "metadata", "labels", key) == nil
}

func reverse(l []any) []any {
	if len(l) < 2 {
		return l
	}
	slices.Reverse(l)
	return l
}

// otherItem is an item like item under another key.
func otherItem(item any) any {
	m, ok := item.(map[string]any)
	if !ok {
		return item
	}
	other := runtime.DeepCopyJSONValue(m).(map[string]any)
	for _, key := range []string{"name", "type", "uid", "containerPort"} {
		switch v := other[key].(type) {
		case string:
			other[key] = v + "-other"
		case int64:
			other[key] = v + 1
		}
	}
	return other
}

// editList replaces one of obj's non-empty lists (picked by r) with edit's answer.
func editList(r *rand.Rand, obj map[string]any, edit func([]any) []any) bool {
	var lists [][]string
	var walk func(path []string, v any)
	walk = func(path []string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for _, k := range slices.Sorted(func(yield func(string) bool) {
				for k := range v {
					if !yield(k) {
						return
					}
				}
			}) {
				walk(append(slices.Clip(path), k), v[k])
			}
		case []any:
			if len(v) > 0 {
				lists = append(lists, path)
				walk(append(slices.Clip(path), "0"), v[0])
			}
		}
	}
	walk(nil, obj)
	lists = slices.DeleteFunc(lists, func(p []string) bool { return p[0] == "metadata" && p[1] == "managedFields" })
	if len(lists) == 0 {
		return false
	}
	path := lists[r.IntN(len(lists))]
	l, _ := at(obj, path)
	return setAtList(obj, path, edit(slices.Clone(l.([]any))))
}

// setAtList is setAt where the path may run through lists' first items.
func setAtList(obj map[string]any, path []string, v any) bool {
	parent, ok := at(obj, path[:len(path)-1])
	if !ok {
		return false
	}
	if m, ok := parent.(map[string]any); ok {
		m[path[len(path)-1]] = v
		return true
	}
	return false
}

// editEntry replaces the manager's entries of live with edit's answer, given the other entries.
func editEntry(live *unstructured.Unstructured, edit func(kept []metav1.ManagedFieldsEntry, own metav1.ManagedFieldsEntry) []metav1.ManagedFieldsEntry) bool {
	var kept []metav1.ManagedFieldsEntry
	var own *metav1.ManagedFieldsEntry
	for _, e := range live.GetManagedFields() {
		if e.Manager == driftManager && own == nil {
			own = &e
			continue
		}
		kept = append(kept, e)
	}
	if own == nil {
		return false
	}
	live.SetManagedFields(edit(kept, *own))
	return true
}
