package ssa

import (
	"bytes"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	smdschema "sigs.k8s.io/structured-merge-diff/v6/schema"
	"sigs.k8s.io/structured-merge-diff/v6/typed"
	"sigs.k8s.io/structured-merge-diff/v6/value"
)

// This file is the fast path of MayChange: the same decision for the common steady state, without
// converting the live object to a typed value, merging, or parsing managedFields. mayChangeExactly
// (wouldchange.go) is the reference; the fast path answers only what it can prove the reference
// would answer, and says "unknown" for everything else, which sends the decision to the reference.

// verdict is the fast path's answer.
type verdict int

const (
	// unknown: the fast path cannot tell; ask mayChangeExactly.
	unknown verdict = iota
	// unchanged: the apply changes neither live's values nor the manager's entry.
	unchanged
	// changes: the apply may change something (a value differs, or the entry would be rewritten).
	changes
)

// kindType is the schema of one kind as a TypeConverter knows it.
type kindType struct {
	schema  *smdschema.Schema
	typeRef smdschema.TypeRef
}

// kindTypeOf asks types for the schema of gvk by converting an object that holds only its
// apiVersion and kind: TypeConverter offers no other way to reach the schema
// (typed.TypedValue.Schema and TypeRef of the answer). A converter that does not know the kind
// fails, as it fails on the whole configuration.
func kindTypeOf(types managedfields.TypeConverter, gvk schema.GroupVersionKind) (kindType, bool) {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": gvk.GroupVersion().String(), "kind": gvk.Kind}}
	tv, err := types.ObjectToTyped(u)
	if err != nil {
		return kindType{}, false
	}
	return kindType{schema: tv.Schema(), typeRef: tv.TypeRef()}, true
}

// decide is the fast path of MayChange for config (the configuration as a structured-merge-diff
// value: a map, read lazily) against live. It proves "unchanged" the way mayChangeExactly does,
// with the same upstream pieces on smaller inputs:
//
//   - the fields config sets, computed as typed.TypedValue.ToFieldSet computes them while walking
//     config with the kind's schema, must be those of manager's Apply entry. The entry is compared
//     as the bytes the API server stored: the server writes fieldpath.Set.ToJSON, which is
//     deterministic, so equal bytes are equal sets; other bytes are parsed (ParseOwnership) and
//     compared as sets.
//   - merging config into live (typed.TypedValue.Merge) must leave live as it is. The walk
//     follows the merge only where config has values: a scalar, an atomic map or an atomic list
//     replaces live's (compared whole with value.Equals, as the reference compares the merge's
//     result), a granular map merges key by key, and an associative list whose items have the
//     same keys in the same order as live's merges item by item in that order (the merge keeps
//     live's order for shared items). Fields config does not name are carried over unchanged by
//     the merge, so they are not read: live is seen through value.NewValueReflect (a typed object,
//     read field by field through its JSON names) or its unstructured content.
//
// It answers unknown whenever the shape is one it does not model: a null or an empty map or list
// in config (the merge keeps empty and null apart), an associative list of another length or
// order than live's (items owned by others), an item without its keys, duplicate items, a field
// the schema does not declare, or a value of the wrong kind. config is checked as the schema's
// validation (typed.AsTyped) checks it: an atomic value in one pass that also compares it, one
// that holds an associative list by typed.AsTyped and value.Equals themselves. Unlike the
// reference it does not validate the parts of live that config does not name: the merge carries
// them over as they are, so they cannot make the apply change anything.
func decide(kt kindType, live client.Object, config value.Value, manager, subresource, apiVersion string) verdict {
	w := newWalker()
	defer w.release()
	return w.decide(kt, live, config, manager, subresource, apiVersion)
}

// decide is decide with w's allocator and buffers.
func (w *walker) decide(kt kindType, live client.Object, config value.Value, manager, subresource, apiVersion string) (v verdict) {
	// value.NewValueReflect panics on Go kinds JSON cannot hold (channels, funcs, interfaces it
	// cannot convert): then the fast path cannot tell.
	defer func() {
		if recover() != nil {
			v = unknown
		}
	}()
	own, ok := applyEntries(live.GetManagedFields(), manager, subresource, apiVersion)
	if !ok {
		return changes
	}
	current, err := liveValue(live)
	if err != nil {
		return unknown
	}
	w.schema, w.set, w.sawName, w.sawNamespace = kt.schema, &fieldpath.Set{}, false, false
	if v := w.walk(kt.typeRef, config, current); v != unchanged {
		return v
	}
	if !w.sameFields(own) {
		return changes
	}
	return unchanged
}

// applyEntries returns manager's Apply entries on subresource; ok is false without one or when one
// was written at another apiVersion than apiVersion (mayChangeExactly's ownedFields).
func applyEntries(entries []metav1.ManagedFieldsEntry, manager, subresource, apiVersion string) ([]metav1.ManagedFieldsEntry, bool) {
	var own []metav1.ManagedFieldsEntry
	first := -1
	for i := range entries {
		if !identity(entries[i]).IsApplyOf(manager, subresource) {
			continue
		}
		if entries[i].APIVersion != apiVersion {
			return nil, false
		}
		if first < 0 {
			first = i
		} else {
			own = append(own, entries[i])
		}
	}
	if first < 0 {
		return nil, false
	}
	// One entry, the usual case, is read in place.
	return append(entries[first:first+1:first+1], own...), true
}

// liveValue is live as a structured-merge-diff value, without a copy.
func liveValue(live client.Object) (value.Value, error) {
	if u, ok := live.(runtime.Unstructured); ok {
		return value.NewValueInterface(u.UnstructuredContent()), nil
	}
	return value.NewValueReflect(live)
}

// sameFields reports whether own's fields are those of w's walk.
func (w *walker) sameFields(own []metav1.ManagedFieldsEntry) bool {
	if len(own) == 1 && own[0].FieldsV1 != nil {
		w.buf.Reset()
		if err := w.set.ToJSONStream(&w.buf); err == nil && bytes.Equal(w.buf.Bytes(), own[0].FieldsV1.GetRawBytes()) {
			return true
		}
	}
	ownership, err := ParseOwnership(own)
	if err != nil {
		return false
	}
	owned := fieldpath.NewSet()
	for _, e := range ownership.Entries {
		owned = owned.Union(e.Fields)
	}
	return owned.Equals(w.set)
}

// walker walks a configuration beside the live object, collecting the configuration's fields. Its
// values come from a structured-merge-diff freelist allocator and go back to it, except those the
// field set keeps (list items and their keys, from the heap); the field names of its paths are
// kept in names, which the set points into until the walker is released.
type walker struct {
	schema *smdschema.Schema
	path   fieldpath.Path
	set    *fieldpath.Set
	names  []string
	buf    bytes.Buffer
	a      value.Allocator
	frames []*frame
	depth  int
	// sawName and sawNamespace say whether the walk met metadata.name and metadata.namespace.
	sawName, sawNamespace bool
}

// walkers keep walkers, with their allocators and buffers, between decisions.
var walkers = sync.Pool{New: func() any { return &walker{a: value.NewFreelistAllocator()} }}

func newWalker() *walker {
	return walkers.Get().(*walker)
}

// release returns w to walkers; its field set and values are no longer used.
func (w *walker) release() {
	clear(w.path[:cap(w.path)])
	clear(w.names[:cap(w.names)])
	w.schema, w.set, w.path, w.names = nil, nil, w.path[:0], w.names[:0]
	// A walk a panic ended leaves frames pushed: start again from none.
	for _, f := range w.frames[:w.depth] {
		f.t, f.current = nil, nil
	}
	w.depth = 0
	walkers.Put(w)
}

// name returns a pointer to a copy of key that lives as long as the walk.
func (w *walker) name(key string) *string {
	// A full buffer is replaced; the paths already made keep pointing into the old one.
	w.names = append(w.names, key)
	return &w.names[len(w.names)-1]
}

// insert records the current path as one of the configuration's fields, unless the server never
// tracks it.
func (w *walker) insert() {
	// Every untracked field is a top-level field or one of metadata's.
	if len(w.path) > 2 || !untrackedFields.Has(w.path) {
		w.set.Insert(w.path)
	}
}

// walk decides for config, of type tr, merged into current (nil when live has no value there).
func (w *walker) walk(tr smdschema.TypeRef, config, current value.Value) verdict {
	if config == nil || config.IsNull() {
		return unknown
	}
	atom, ok := w.schema.Resolve(tr)
	if !ok {
		return unknown
	}
	switch {
	case config.IsMap():
		if atom.Map == nil {
			return unknown
		}
		if atom.Map.ElementRelationship == smdschema.Atomic {
			return w.whole(tr, config, current)
		}
		m := config.AsMapUsing(w.a)
		defer w.a.Free(m)
		return w.walkMap(atom.Map, m, current)
	case config.IsList():
		if atom.List == nil {
			return unknown
		}
		if atom.List.ElementRelationship == smdschema.Atomic {
			return w.whole(tr, config, current)
		}
		l := config.AsListUsing(w.a)
		defer w.a.Free(l)
		return w.walkList(atom.List, l, current)
	default:
		if atom.Scalar == nil || !validScalar(*atom.Scalar, config) {
			return unknown
		}
		w.insert()
		return equal(config, current)
	}
}

// whole decides for an atomic value, which the merge replaces whole.
func (w *walker) whole(tr smdschema.TypeRef, config, current value.Value) verdict {
	v := w.same(tr, config, current)
	if v == unknown {
		if _, err := typed.AsTyped(config, w.schema, tr); err != nil {
			return unknown
		}
		v = equal(config, current)
	}
	if v == unchanged {
		w.insert()
	}
	return v
}

// same compares config, an atomic value of type tr or a part of one, with current in one pass,
// checking config as typed.AsTyped would and comparing as value.Equals does. It answers unknown
// for a null and for an associative list, whose items validation names and checks for duplicates.
func (w *walker) same(tr smdschema.TypeRef, config, current value.Value) verdict {
	if config.IsNull() {
		return unknown
	}
	atom, ok := w.schema.Resolve(tr)
	if !ok {
		return unknown
	}
	switch {
	case config.IsMap():
		if atom.Map == nil {
			return unknown
		}
		return w.sameMap(atom.Map, config, current)
	case config.IsList():
		if atom.List == nil || atom.List.ElementRelationship == smdschema.Associative {
			return unknown
		}
		return w.sameList(atom.List, config, current)
	default:
		if atom.Scalar == nil || !validScalar(*atom.Scalar, config) {
			return unknown
		}
		return equal(config, current)
	}
}

// sameMap is same for a map: every key of config's, and no other, with the same value.
func (w *walker) sameMap(t *smdschema.Map, config, current value.Value) verdict {
	if current == nil || !current.IsMap() {
		return changes
	}
	configMap := config.AsMapUsing(w.a)
	defer w.a.Free(configMap)
	f := w.push(t, current)
	defer w.pop(f)
	configMap.IterateUsing(w.a, f.sameItem)
	if f.v == unchanged && f.current.Length() != f.n {
		return changes
	}
	return f.v
}

// sameItem is sameMap's step for one key of the configuration.
func (f *frame) sameItemStep(key string, item value.Value) bool {
	w := f.w
	tr, ok := fieldType(f.t, key)
	if !ok {
		f.v = unknown
		return false
	}
	f.n++
	currentItem, found := f.current.GetUsing(w.a, key)
	if !found {
		f.v = changes
		return false
	}
	f.v = w.same(tr, item, currentItem)
	w.a.Free(currentItem)
	return f.v == unchanged
}

// frame is the state of one map being walked (walkMap) or compared (sameMap). A walker keeps a
// stack of them, each with its steps bound once, so that iterating a map allocates no closure.
type frame struct {
	w       *walker
	t       *smdschema.Map
	current value.Map
	root    bool
	v       verdict
	n       int

	walkItem, sameItem func(string, value.Value) bool
}

// push starts a frame for the map t, live's value current.
func (w *walker) push(t *smdschema.Map, current value.Value) *frame {
	if w.depth == len(w.frames) {
		f := &frame{w: w}
		f.walkItem, f.sameItem = f.walkItemStep, f.sameItemStep
		w.frames = append(w.frames, f)
	}
	f := w.frames[w.depth]
	w.depth++
	f.t, f.current, f.root, f.v, f.n = t, current.AsMapUsing(w.a), false, unchanged, 0
	return f
}

// pop ends f, the innermost frame.
func (w *walker) pop(f *frame) {
	w.a.Free(f.current)
	f.t, f.current = nil, nil
	w.depth--
}

// sameList is same for an atomic list: the same items in the same order.
func (w *walker) sameList(t *smdschema.List, config, current value.Value) verdict {
	if current == nil || !current.IsList() {
		return changes
	}
	configList, currentList := config.AsListUsing(w.a), current.AsListUsing(w.a)
	defer w.a.Free(configList)
	defer w.a.Free(currentList)
	n := configList.Length()
	if currentList.Length() != n {
		return changes
	}
	for i := range n {
		item, currentItem := configList.AtUsing(w.a, i), currentList.AtUsing(w.a, i)
		v := w.same(t.ElementType, item, currentItem)
		w.a.Free(item)
		w.a.Free(currentItem)
		if v != unchanged {
			return v
		}
	}
	return unchanged
}

// fieldType is the type of a map's key: a declared field's, else the map's elements'; ok is false
// for a field the schema does not declare.
func fieldType(t *smdschema.Map, key string) (tr smdschema.TypeRef, ok bool) {
	tr, _, ok = declaredType(t, key)
	return tr, ok
}

// declaredType is fieldType, and whether key is a declared field.
func declaredType(t *smdschema.Map, key string) (tr smdschema.TypeRef, declared, ok bool) {
	if field, found := t.FindField(key); found {
		return field.Type, true, true
	}
	return t.ElementType, false, t.ElementType != smdschema.TypeRef{}
}

// equal is unchanged when current is config's value, as value.Equals compares them.
func equal(config, current value.Value) verdict {
	if current != nil && value.EqualsUsing(value.HeapAllocator, config, current) {
		return unchanged
	}
	return changes
}

// validScalar reports whether v fits t, as structured-merge-diff's validation checks a scalar.
func validScalar(t smdschema.Scalar, v value.Value) bool {
	switch t {
	case smdschema.Numeric:
		return v.IsFloat() || v.IsInt()
	case smdschema.String:
		return v.IsString()
	case smdschema.Boolean:
		return v.IsBool()
	case smdschema.Untyped:
		return v.IsFloat() || v.IsInt() || v.IsString() || v.IsBool()
	}
	return false
}

// walkMap decides for a granular map or struct, which the merge merges key by key.
func (w *walker) walkMap(t *smdschema.Map, config value.Map, current value.Value) verdict {
	if config.Empty() {
		return unknown
	}
	if current == nil || !current.IsMap() {
		return changes
	}
	f := w.push(t, current)
	defer w.pop(f)
	f.root = len(w.path) == 0
	config.IterateUsing(w.a, f.walkItem)
	return f.v
}

// walkItem is walkMap's step for one key of the configuration.
func (f *frame) walkItemStep(key string, item value.Value) bool {
	w := f.w
	tr, declared, ok := declaredType(f.t, key)
	if !ok {
		f.v = unknown
		return false
	}
	// The reference gives live the configuration's apiVersion and kind before merging.
	if f.root && (key == "apiVersion" || key == "kind") {
		if !item.IsString() {
			f.v = unknown
		}
		return f.v == unchanged
	}
	if len(w.path) == 1 && w.path[0].FieldName != nil && *w.path[0].FieldName == "metadata" {
		w.sawName = w.sawName || key == "name"
		w.sawNamespace = w.sawNamespace || key == "namespace"
	}
	currentItem, _ := f.current.GetUsing(w.a, key)
	w.path = append(w.path, fieldpath.PathElement{FieldName: w.name(key)})
	f.v = w.walk(tr, item, currentItem)
	// ToFieldSet also records a map's element itself, not only what it holds.
	if f.v == unchanged && !declared {
		w.insert()
	}
	w.path = w.path[:len(w.path)-1]
	if currentItem != nil {
		w.a.Free(currentItem)
	}
	return f.v == unchanged
}

// walkList decides for an associative list, which the merge merges item by item.
func (w *walker) walkList(t *smdschema.List, config value.List, current value.Value) verdict {
	n := config.Length()
	if t.ElementRelationship != smdschema.Associative || n == 0 || untrackedFields.Has(w.path) {
		return unknown
	}
	if current == nil || !current.IsList() {
		return changes
	}
	currentList := current.AsListUsing(w.a)
	defer w.a.Free(currentList)
	if currentList.Length() != n {
		return unknown
	}
	for i := range n {
		// The field set keeps item (a set's value) and its keys: they come from the heap.
		item := config.At(i)
		currentItem := currentList.AtUsing(w.a, i)
		v := w.walkItem(t, item, currentItem)
		w.a.Free(currentItem)
		if v != unchanged {
			return v
		}
	}
	return unchanged
}

// walkItem decides for an item of an associative list against live's item at the same index.
func (w *walker) walkItem(t *smdschema.List, item, currentItem value.Value) verdict {
	pe, ok := w.itemPathElement(t, item)
	if !ok || !w.hasKey(t, pe, currentItem) {
		return unknown
	}
	w.path = append(w.path, pe)
	defer func() { w.path = w.path[:len(w.path)-1] }()
	if w.set.Has(w.path) { // a duplicate item is the reference's to judge
		return unknown
	}
	v := w.walk(t.ElementType, item, currentItem)
	if v == unchanged {
		w.insert()
	}
	return v
}

// itemPathElement names an item of an associative list as structured-merge-diff does
// (typed's listItemToPathElement): by its keys, a key the item leaves out by the default the
// schema gives it, or by its value in a set. ok is false for an item the reference could not name
// and for a key that is not a scalar.
func (w *walker) itemPathElement(t *smdschema.List, item value.Value) (fieldpath.PathElement, bool) {
	if len(t.Keys) == 0 {
		if item.IsMap() || item.IsList() || item.IsNull() {
			return fieldpath.PathElement{}, false
		}
		return fieldpath.PathElement{Value: &item}, true
	}
	if !item.IsMap() {
		return fieldpath.PathElement{}, false
	}
	m := item.AsMapUsing(w.a)
	defer w.a.Free(m)
	keys := make(value.FieldList, 0, len(t.Keys))
	for _, name := range t.Keys {
		key, ok := m.Get(name)
		if !ok {
			def, ok := w.keyDefault(t, name)
			if !ok {
				return fieldpath.PathElement{}, false
			}
			if def == nil {
				continue
			}
			key = value.NewValueInterface(def)
		}
		if key.IsNull() || key.IsMap() || key.IsList() {
			return fieldpath.PathElement{}, false
		}
		keys = append(keys, value.Field{Name: name, Value: key})
	}
	if len(keys) == 0 {
		return fieldpath.PathElement{}, false
	}
	keys.Sort()
	return fieldpath.PathElement{Key: &keys}, true
}

// hasKey reports whether live's item, currentItem, has the name pe gives the configuration's item:
// itemPathElement(currentItem) equals pe, checked without building it.
func (w *walker) hasKey(t *smdschema.List, pe fieldpath.PathElement, currentItem value.Value) bool {
	if pe.Value != nil {
		return !currentItem.IsMap() && !currentItem.IsList() && !currentItem.IsNull() && value.Equals(*pe.Value, currentItem)
	}
	if !currentItem.IsMap() {
		return false
	}
	m := currentItem.AsMapUsing(w.a)
	defer w.a.Free(m)
	for _, name := range t.Keys {
		want, named := fieldOf(*pe.Key, name)
		got, found := m.GetUsing(w.a, name)
		if !found {
			// The reference names an item without the key by the key's default.
			def, ok := w.keyDefault(t, name)
			if !ok {
				return false
			}
			if def == nil {
				if named {
					return false
				}
				continue
			}
			got = value.NewValueInterface(def)
		}
		same := named && value.Equals(want, got)
		w.a.Free(got)
		if !same {
			return false
		}
	}
	return true
}

// fieldOf is the value of name in keys.
func fieldOf(keys value.FieldList, name string) (value.Value, bool) {
	for _, f := range keys {
		if f.Name == name {
			return f.Value, true
		}
	}
	return nil, false
}

// keyDefault is the default the schema gives the key field name of t's items, nil for none; ok is
// false when the items are not maps.
func (w *walker) keyDefault(t *smdschema.List, name string) (def any, ok bool) {
	atom, ok := w.schema.Resolve(t.ElementType)
	if !ok || atom.Map == nil {
		return nil, false
	}
	field, _ := atom.FindField(name)
	return field.Default, true
}

// String names the verdict, for tests.
func (v verdict) String() string {
	return [...]string{unknown: "unknown", unchanged: "unchanged", changes: "changes"}[v]
}
