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

// Blame renders obj one owned field per line: the path, its value when it is a scalar, and every
// entry that owns it (`manager (Operation)` or `manager (Operation, subresource)`). Lines are
// sorted by path. It reads obj's managedFields, so it needs an object that still has them.
//
//	.data.key                                 "value"  user (Apply)
//	.metadata.finalizers[="example.com/fin"]           op/finalizer (Apply)
func Blame(obj runtime.Object) (string, error) {
	accessor, err := meta.Accessor(obj)
	if err != nil {
		return "", err
	}
	ownership, err := ParseOwnership(accessor.GetManagedFields())
	if err != nil {
		return "", err
	}
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return "", err
	}

	all := &fieldpath.Set{}
	for _, e := range ownership.Entries {
		all = all.Union(e.Fields)
	}
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	for _, path := range sortedPaths(all) {
		var owners []string
		for _, e := range ownership.Entries {
			if e.Fields.Has(path) {
				owners = append(owners, e.String())
			}
		}
		fmt.Fprintf(w, "%s\t%s\t%s\n", path, scalarAt(content, path), strings.Join(owners, ", "))
	}
	if err := w.Flush(); err != nil {
		return "", err
	}
	return b.String(), nil
}

// scalarAt returns the JSON rendering of the scalar at path in content, or "" when path leads to
// a map, a list, a set item or nothing.
func scalarAt(content map[string]any, path fieldpath.Path) string {
	var current any = content
	for _, pe := range path {
		switch {
		case pe.FieldName != nil:
			m, ok := current.(map[string]any)
			if !ok {
				return ""
			}
			current = m[*pe.FieldName]
		case pe.Key != nil:
			current = listItemWithKey(current, *pe.Key)
		case pe.Index != nil:
			list, ok := current.([]any)
			if !ok || *pe.Index >= len(list) {
				return ""
			}
			current = list[*pe.Index]
		default: // a set item: its value is in the path already
			return ""
		}
		if current == nil {
			return ""
		}
	}
	switch current.(type) {
	case map[string]any, []any:
		return ""
	}
	return value.ToString(value.NewValueInterface(current))
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
