package ssa

import (
	"bytes"

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
// order than live's (items owned by others), an item without its keys (defaults), duplicate items,
// a field the schema does not declare, or a value of the wrong kind. Atomic values are validated
// by typed.AsTyped; other values are checked as the schema's validation checks them. Unlike the
// reference it does not validate the parts of live that config does not name: the apply leaves
// them as they are.
func decide(kt kindType, live client.Object, config value.Value, manager, subresource, apiVersion string) (v verdict) {
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
	w := &walker{schema: kt.schema, set: &fieldpath.Set{}}
	if v := w.walk(kt.typeRef, config, current); v != unchanged {
		return v
	}
	if !sameFields(own, w.set) {
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

// sameFields reports whether own's fields are set.
func sameFields(own []metav1.ManagedFieldsEntry, set *fieldpath.Set) bool {
	if len(own) == 1 && own[0].FieldsV1 != nil {
		if encoded, err := set.ToJSON(); err == nil && bytes.Equal(encoded, own[0].FieldsV1.GetRawBytes()) {
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
	return owned.Equals(set)
}

// walker walks a configuration beside the live object, collecting the configuration's fields.
type walker struct {
	schema *smdschema.Schema
	path   fieldpath.Path
	set    *fieldpath.Set
}

// insert records the current path as one of the configuration's fields, unless the server never
// tracks it.
func (w *walker) insert() {
	if !untrackedFields.Has(w.path) {
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
		return w.walkMap(atom.Map, config.AsMap(), current)
	case config.IsList():
		if atom.List == nil {
			return unknown
		}
		if atom.List.ElementRelationship == smdschema.Atomic {
			return w.whole(tr, config, current)
		}
		return w.walkList(atom.List, config.AsList(), current)
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
	if _, err := typed.AsTyped(config, w.schema, tr); err != nil {
		return unknown
	}
	w.insert()
	return equal(config, current)
}

// equal is unchanged when current is config's value, as value.Equals compares them.
func equal(config, current value.Value) verdict {
	if current != nil && value.Equals(config, current) {
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
	currentMap := current.AsMap()
	root := len(w.path) == 0
	v := unchanged
	config.Iterate(func(key string, item value.Value) bool {
		// The reference gives live the configuration's apiVersion and kind before merging.
		if root && (key == "apiVersion" || key == "kind") {
			return true
		}
		tr, declared := t.ElementType, false
		if field, ok := t.FindField(key); ok {
			tr, declared = field.Type, true
		} else if tr == (smdschema.TypeRef{}) {
			v = unknown
			return false
		}
		currentItem, _ := currentMap.Get(key)
		w.path = append(w.path, fieldpath.PathElement{FieldName: &key})
		v = w.walk(tr, item, currentItem)
		// ToFieldSet also records a map's element itself, not only what it holds.
		if v == unchanged && !declared {
			w.insert()
		}
		w.path = w.path[:len(w.path)-1]
		return v == unchanged
	})
	return v
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
	currentList := current.AsList()
	if currentList.Length() != n {
		return unknown
	}
	for i := range n {
		item, currentItem := config.At(i), currentList.At(i)
		pe, ok := w.itemPathElement(t, item)
		if !ok {
			return unknown
		}
		if currentPE, ok := w.itemPathElement(t, currentItem); !ok || !pe.Equals(currentPE) {
			return unknown
		}
		w.path = append(w.path, pe)
		v := unknown
		if !w.set.Has(w.path) { // a duplicate item is the reference's to judge
			v = w.walk(t.ElementType, item, currentItem)
		}
		if v == unchanged {
			w.insert()
		}
		w.path = w.path[:len(w.path)-1]
		if v != unchanged {
			return v
		}
	}
	return unchanged
}

// itemPathElement names an item of an associative list as structured-merge-diff does
// (typed's listItemToPathElement): by its keys, a key the item leaves out by the default the
// schema gives it, or by its value in a set. ok is false for an item the reference could not name.
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
	m := item.AsMap()
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

// keyDefault is the default the schema gives the key field name of t's items, nil for none; ok is
// false when the items are not maps.
func (w *walker) keyDefault(t *smdschema.List, name string) (def any, ok bool) {
	atom, ok := w.schema.Resolve(t.ElementType)
	if !ok || atom.Map == nil {
		return nil, false
	}
	field, _ := atom.Map.FindField(name)
	return field.Default, true
}

// String names the verdict, for tests.
func (v verdict) String() string {
	return [...]string{unknown: "unknown", unchanged: "unchanged", changes: "changes"}[v]
}
