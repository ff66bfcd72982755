package ssa

import (
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/structured-merge-diff/v6/value"
)

// provenUnchanged is the fast path of WouldChange and Apply: true when decide proves, reading
// config in place (value.NewValueReflect on a generated apply configuration, the content of an
// unstructured one) instead of converting it to unstructured content, that the apply changes
// nothing. It makes every check content and wouldChange make, partly through the walk, which
// compares every value config sets with live's: config names live (its kind here; its name,
// namespace, and any uid or resourceVersion precondition as values the walk finds equal to
// live's), it has a name, and a namespace when live has one, and the manager is not kubectl.
// false sends the call down the full path, which reports the errors and decides every other case.
func (a *Applier) provenUnchanged(live client.Object, config runtime.ApplyConfiguration) (proven bool) {
	if config == nil || isNil(live) || a.manager == kubectlManager {
		return false
	}
	// value.NewValueReflect panics on Go kinds JSON cannot hold: then the full path decides.
	defer func() {
		if recover() != nil {
			proven = false
		}
	}()
	desired, err := configValue(config)
	if err != nil {
		return false
	}
	apiVersion, kind, ok := typeMetaOf(config, desired)
	if !ok {
		return false
	}
	gvk, ok := a.kindOf(live, apiVersion, kind)
	if !ok {
		return false
	}
	kt, ok := a.kindType(gvk)
	if !ok {
		return false
	}
	w := newWalker()
	defer w.release()
	return w.decide(kt, live, desired, a.manager, "", apiVersion) == unchanged &&
		w.sawName && (live.GetNamespace() == "" || w.sawNamespace)
}

// kindOf returns the kind apiVersion and kind name, when it is live's.
func (a *Applier) kindOf(live client.Object, apiVersion, kind string) (schema.GroupVersionKind, bool) {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return schema.GroupVersionKind{}, false
	}
	gvk := gv.WithKind(kind)
	liveRef, err := refOf(live, a.client.Scheme())
	return gvk, err == nil && liveRef.GroupVersionKind == gvk
}

// kindType is kindTypeOf for the Applier's converters, remembered per kind.
func (a *Applier) kindType(gvk schema.GroupVersionKind) (kindType, bool) {
	if kt, ok := a.kinds.Load(gvk); ok {
		return kt.(kindType), true
	}
	kt, ok := kindTypeOf(a.types, gvk)
	if ok {
		a.kinds.Store(gvk, kt)
	}
	return kt, ok
}

// configValue is config as a structured-merge-diff value, read in place.
func configValue(config runtime.ApplyConfiguration) (value.Value, error) {
	if u, ok := config.(runtime.Unstructured); ok {
		return value.NewValueInterface(u.UnstructuredContent()), nil
	}
	return value.NewValueReflect(config)
}

// typeMeta is what generated apply configurations say of their kind (controller-runtime's
// Client.Apply reads them the same way).
type typeMeta interface {
	GetAPIVersion() *string
	GetKind() *string
}

// typeMetaOf returns config's apiVersion and kind; ok is false when one is missing or not a
// string.
func typeMetaOf(config runtime.ApplyConfiguration, content value.Value) (apiVersion, kind string, ok bool) {
	if tm, isTypeMeta := config.(typeMeta); isTypeMeta {
		if v, k := tm.GetAPIVersion(), tm.GetKind(); v != nil && k != nil {
			return *v, *k, *v != "" && *k != ""
		}
		return "", "", false
	}
	if !content.IsMap() {
		return "", "", false
	}
	top := content.AsMap()
	apiVersion, ok = stringAt(top, "apiVersion")
	if !ok {
		return "", "", false
	}
	kind, ok = stringAt(top, "kind")
	return apiVersion, kind, ok && apiVersion != "" && kind != ""
}

// stringAt is m's string at key; ok is false when there is none.
func stringAt(m value.Map, key string) (s string, ok bool) {
	v, found := m.Get(key)
	if !found || !v.IsString() {
		return "", false
	}
	return v.AsString(), true
}
