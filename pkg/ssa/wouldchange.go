package ssa

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/structured-merge-diff/v6/typed"
	"sigs.k8s.io/structured-merge-diff/v6/value"

	"github.com/ssakit/ssakit/internal/typeconverters"
)

// untrackedFields are the paths the API server never records in managedFields, whoever sets them
// (apimachinery's managedfields/internal/stripmeta.go): an apply that carries them, as every apply
// carries name and namespace, does not own them.
var untrackedFields = fieldpath.NewSet(
	fieldpath.MakePathOrDie("apiVersion"),
	fieldpath.MakePathOrDie("kind"),
	fieldpath.MakePathOrDie("metadata"),
	fieldpath.MakePathOrDie("metadata", "name"),
	fieldpath.MakePathOrDie("metadata", "namespace"),
	fieldpath.MakePathOrDie("metadata", "creationTimestamp"),
	fieldpath.MakePathOrDie("metadata", "selfLink"),
	fieldpath.MakePathOrDie("metadata", "uid"),
	fieldpath.MakePathOrDie("metadata", "clusterName"),
	fieldpath.MakePathOrDie("metadata", "generation"),
	fieldpath.MakePathOrDie("metadata", "managedFields"),
	fieldpath.MakePathOrDie("metadata", "resourceVersion"),
)

// MayChange reports whether applying config as manager, to subresource ("" for the main
// resource, "status" for /status), may change live: its values or manager's managedFields
// entry. It answers false only when it can prove the apply changes nothing (docs/ssa-semantics.md row
// 21), the way the API server decides, with structured-merge-diff and the schema types knows:
//
//   - the fields config sets (its typed.TypedValue.ToFieldSet, less the metadata the server never
//     tracks) are exactly the fields manager's Apply entry on subresource owns, so the apply
//     neither takes nor gives up a field; and
//   - merging config into live (typed.TypedValue.Merge) leaves live exactly as it is, list order
//     included (the server writes a reordered list), so no value changes: an atomic map or list is
//     compared whole, a list keyed by another manager's items only at the manager's items.
//
// It answers true, "send", whenever it cannot tell: live has no entry of manager's (a cache that
// strips managedFields) or one written at another apiVersion than config's (the apply would
// rewrite it), no converter in types knows the kind, or a value of config does not fit the schema
// (live is checked only where config names a field: elsewhere the apply leaves it as it is). The
// usual steady state is proven by walking config beside live, reading only the fields config
// names, without converting live whole, merging, or parsing the entry; every other case takes the
// full structured-merge-diff path above. For a
// custom resource pass the converter generated with its apply configurations
// (applyconfiguration.NewTypeConverter(scheme)) or ServerTypeConverter; for built-in types
// client-go's applyconfigurations.NewTypeConverter(scheme). Applier.WouldChange is this, for an
// Applier's manager and types, on the main resource. live
// is as the caller last saw it (from an informer cache, say); the answer is as fresh as live. A
// typed live object is seen through its Go type: a value the type cannot hold exactly (a
// sub-second timestamp, a quantity in a non-canonical form, written by someone else) looks as the
// type renders it; pass an unstructured object where that matters.
func MayChange(types []managedfields.TypeConverter, live client.Object, config *unstructured.Unstructured, manager, subresource string) bool {
	return mayChange(typeconverters.First(types...), live, config, manager, subresource)
}

// mayChange is MayChange with types combined: the fast path (decide) when it can tell, the
// reference (mayChangeExactly) otherwise.
func mayChange(types managedfields.TypeConverter, live client.Object, config *unstructured.Unstructured, manager, subresource string) bool {
	if kt, ok := kindTypeOf(types, config.GroupVersionKind()); ok {
		switch decide(kt, live, value.NewValueInterface(config.Object), manager, subresource, config.GetAPIVersion()) {
		case unchanged:
			return false
		case changes:
			return true
		case unknown:
		}
	}
	return mayChangeExactly(types, live, config, manager, subresource)
}

// mayChangeExactly is the reference decision: live and config converted whole to typed values,
// config's field set compared with the parsed entry, config merged into live and the result
// compared with live. The fast path (decide) proves unchanged only what this proves unchanged,
// except that it does not validate the parts of live that config does not name.
func mayChangeExactly(types managedfields.TypeConverter, live client.Object, config *unstructured.Unstructured, manager, subresource string) bool {
	owned, err := ownedFields(live.GetManagedFields(), manager, subresource, config.GetAPIVersion())
	if err != nil || owned == nil {
		return true
	}
	desired, err := types.ObjectToTyped(config)
	if err != nil {
		return true
	}
	desiredFields, err := desired.ToFieldSet()
	if err != nil || !desiredFields.Difference(untrackedFields).Equals(owned) {
		return true
	}
	current, err := typedLive(types, live, config)
	if err != nil {
		return true
	}
	merged, err := current.Merge(desired)
	if err != nil {
		return true
	}
	// value.Equals compares lists in order; typed Compare would not see a reordered keyed list.
	return !value.Equals(current.AsValue(), merged.AsValue())
}

// ownedFields returns the fields of manager's Apply entries on subresource, or nil without one or
// when one was written at another apiVersion than apiVersion: an apply at apiVersion rewrites the
// entry's apiVersion (and its field set, where the versions differ), a change.
func ownedFields(entries []metav1.ManagedFieldsEntry, manager, subresource, apiVersion string) (*fieldpath.Set, error) {
	var own []metav1.ManagedFieldsEntry
	for _, e := range entries {
		if identity(e).IsApplyOf(manager, subresource) {
			if e.APIVersion != apiVersion {
				return nil, nil
			}
			own = append(own, e)
		}
	}
	if len(own) == 0 {
		return nil, nil
	}
	ownership, err := ParseOwnership(own)
	if err != nil {
		return nil, err
	}
	set := fieldpath.NewSet()
	for _, e := range ownership.Entries {
		set = set.Union(e.Fields)
	}
	return set, nil
}

// typedLive converts live, whatever its Go type, through its unstructured form with config's
// kind: a typed object read by a client has an empty TypeMeta, which would otherwise differ from
// the apiVersion and kind every configuration carries.
func typedLive(types managedfields.TypeConverter, live client.Object, config *unstructured.Unstructured) (*typed.TypedValue, error) {
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(live)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{Object: content}
	u.SetGroupVersionKind(config.GroupVersionKind())
	// A live object may hold duplicates the schema forbids in new writes; the server keeps them.
	return types.ObjectToTyped(u, typed.AllowDuplicates)
}
