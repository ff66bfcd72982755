package ssa

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/structured-merge-diff/v6/value"
)

// OwnedField is one field of an object and the managedFields entries that own it.
type OwnedField struct {
	Path fieldpath.Path
	// Value is the JSON rendering of the field's value when it is a scalar, "" otherwise (a map,
	// a list, or a set item, whose path shows the value already).
	Value string
	// Owners are the entries that own the field, in the order of metadata.managedFields.
	Owners []Entry
}

// OwnedFields returns every field obj's managedFields name, sorted by path, each with its value
// and owners: the data behind Blame, for tools that render it their own way (kubectl ssakit
// blame -o json). It needs an object that still has its managedFields.
func OwnedFields(obj runtime.Object) ([]OwnedField, error) {
	accessor, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	ownership, err := ParseOwnership(accessor.GetManagedFields())
	if err != nil {
		return nil, err
	}
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, err
	}
	all := &fieldpath.Set{}
	for _, e := range ownership.Entries {
		all = all.Union(e.Fields)
	}
	paths := sortedPaths(all)
	fields := make([]OwnedField, len(paths))
	for i, path := range paths {
		fields[i] = OwnedField{Path: path, Value: scalarAt(content, path)}
		for _, e := range ownership.Entries {
			if e.Fields.Has(path) {
				fields[i].Owners = append(fields[i].Owners, e)
			}
		}
	}
	return fields, nil
}

// Blame renders obj one owned field per line (OwnedFields): the path ([FormatPath]), its value
// when it is a scalar, and every entry that owns it (`manager (Operation)` or `manager
// (Operation, subresource)`). Lines are sorted by path. It reads obj's managedFields, so it needs
// an object that still has them.
//
//	.data.key                                 "value"  user (Apply)
//	.metadata.finalizers[="example.com/fin"]           op/finalizer (Apply)
//	.metadata.labels.app\.kubernetes\.io/name  "web"    user (Apply)
func Blame(obj runtime.Object) (string, error) {
	fields, err := OwnedFields(obj)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	for _, field := range fields {
		owners := make([]string, len(field.Owners))
		for i, e := range field.Owners {
			owners[i] = e.String()
		}
		fmt.Fprintf(w, "%s\t%s\t%s\n", FormatPath(field.Path), field.Value, strings.Join(owners, ", "))
	}
	if err := w.Flush(); err != nil {
		return "", err
	}
	return b.String(), nil
}

// FormatPath renders path so that a reader tells a key holding dots from nested fields, and
// kubectl takes it back: each field name as kubectl's JSONPath reads it
// (k8s.io/client-go/util/jsonpath, the parser behind kubectl get -o jsonpath), with a backslash
// before each character that parser ends a name at (`.`, `,`, `[`, `]`, `{`, `}`, `$`, `@`,
// blanks) and before a backslash; list items in structured-merge-diff's form
// (fieldpath.PathElement.String): `[name="web"]` for a keyed item, `[="value"]` for a set item,
// `[0]` for an index. A path of fields only is a JSONPath: kubectl get -o
// jsonpath='{.metadata.labels.kubernetes\.io/metadata\.name}' prints that label. Items stay in
// structured-merge-diff's form, which names them by key, because kubectl's JSONPath has none (it
// filters lists: `[?(@.name=="web")]`); and that parser drops every backslash, so a name holding
// one is unambiguous here but cannot be asked for. fieldpath.Path.String, which Blame used, prints
// `.metadata.labels.kubernetes.io/metadata.name`: three nested fields to a reader and to kubectl.
//
//	.metadata.labels.kubernetes\.io/metadata\.name
//	.spec.containers[name="web"].resources.limits.nvidia\.com/gpu
//	.metadata.finalizers[="example.com/cleanup"]
func FormatPath(path fieldpath.Path) string {
	var b strings.Builder
	for _, pe := range path {
		if pe.FieldName == nil {
			b.WriteString(pe.String())
			continue
		}
		b.WriteByte('.')
		if *pe.FieldName == "*" {
			b.WriteByte('\\') // a bare * is kubectl's wildcard
		}
		for _, r := range *pe.FieldName {
			if strings.ContainsRune(jsonPathSpecial, r) {
				b.WriteByte('\\')
			}
			b.WriteRune(r)
		}
	}
	return b.String()
}

// jsonPathSpecial holds the characters kubectl's JSONPath parser ends a field name at
// (isTerminator in k8s.io/client-go/util/jsonpath/parser.go), and its escape character.
const jsonPathSpecial = ".,[]{}$@ \t\r\n\\"

// scalarAt returns the JSON rendering of the scalar at path in content, or "" when path leads to
// a map, a list, a set item or nothing.
func scalarAt(content map[string]any, path fieldpath.Path) string {
	if len(path) > 0 && path[len(path)-1].Value != nil {
		return "" // the path shows the item already
	}
	v, ok := valueAt(content, path)
	if !ok || v == nil {
		return ""
	}
	switch v.(type) {
	case map[string]any, []any:
		return ""
	}
	return value.ToString(value.NewValueInterface(v))
}

// valueAt returns what path (as managedFields name it) leads to in unstructured content: a
// field's value, the item of a keyed list, the item at an index, or, for a set item, the item
// itself. ok is false when content has nothing there.
func valueAt(content map[string]any, path fieldpath.Path) (v any, ok bool) {
	var current any = content
	for _, pe := range path {
		switch {
		case pe.FieldName != nil:
			m, isMap := current.(map[string]any)
			if !isMap {
				return nil, false
			}
			if current, ok = m[*pe.FieldName]; !ok {
				return nil, false
			}
		case pe.Key != nil:
			if current = listItemWithKey(current, *pe.Key); current == nil {
				return nil, false
			}
		case pe.Index != nil:
			list, isList := current.([]any)
			if !isList || *pe.Index >= len(list) {
				return nil, false
			}
			current = list[*pe.Index]
		case pe.Value != nil:
			list, isList := current.([]any)
			if !isList {
				return nil, false
			}
			found := false
			for _, item := range list {
				if value.Equals(value.NewValueInterface(item), *pe.Value) {
					current, found = item, true
					break
				}
			}
			if !found {
				return nil, false
			}
		}
	}
	return current, true
}

func listItemWithKey(list any, key value.FieldList) any {
	items, ok := list.([]any)
	if !ok {
		return nil
	}
	for _, item := range items {
		fields, ok := item.(map[string]any)
		if !ok {
			continue
		}
		matches := true
		for _, k := range key {
			if !value.Equals(value.NewValueInterface(fields[k.Name]), k.Value) {
				matches = false
				break
			}
		}
		if matches {
			return item
		}
	}
	return nil
}
