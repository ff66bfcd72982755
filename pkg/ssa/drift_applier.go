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
// nothing. It makes every check content and wouldChange make (config names live, no uid or
// resourceVersion precondition other than live's, not the kubectl manager); false sends the call
// down the full path, which reports the errors and decides every other case.
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
	w := newWalker()
	defer w.release()
	id, ok := w.identify(desired)
	if !ok || id.apiVersion == "" || id.kind == "" || id.name == "" {
		return false
	}
	gvk, ok := a.names(live, id)
	if !ok {
		return false
	}
	kt, ok := a.kindType(gvk)
	return ok && w.decide(kt, live, desired, a.manager, "", id.apiVersion) == unchanged
}

// names reports whether id names live, as content checks it, and returns its kind. A uid or
// resourceVersion in the configuration that is not live's is a value the walk finds different.
func (a *Applier) names(live client.Object, id objectID) (schema.GroupVersionKind, bool) {
	gv, err := schema.ParseGroupVersion(id.apiVersion)
	if err != nil {
		return schema.GroupVersionKind{}, false
	}
	gvk := gv.WithKind(id.kind)
	liveRef, err := refOf(live, a.client.Scheme())
	return gvk, err == nil && liveRef.GroupVersionKind == gvk && live.GetNamespace() == id.namespace && live.GetName() == id.name
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

// objectID is what a configuration says of the object it applies to.
type objectID struct {
	apiVersion, kind, name, namespace string
}

// identify reads config's apiVersion, kind, name and namespace; ok is false when one is not a
// string.
func (w *walker) identify(config value.Value) (id objectID, ok bool) {
	if !config.IsMap() {
		return id, false
	}
	top := config.AsMapUsing(w.a)
	defer w.a.Free(top)
	ok = w.stringAt(top, "apiVersion", &id.apiVersion) && w.stringAt(top, "kind", &id.kind)
	metadata, found := top.GetUsing(w.a, "metadata")
	if !ok || !found || !metadata.IsMap() {
		return id, false
	}
	defer w.a.Free(metadata)
	m := metadata.AsMapUsing(w.a)
	defer w.a.Free(m)
	ok = w.stringAt(m, "name", &id.name) && w.stringAt(m, "namespace", &id.namespace)
	return id, ok
}

// stringAt sets *s to m's string at key, if any; false when the value there is not a string.
func (w *walker) stringAt(m value.Map, key string, s *string) bool {
	v, found := m.GetUsing(w.a, key)
	if !found {
		return true
	}
	defer w.a.Free(v)
	if !v.IsString() {
		return false
	}
	*s = v.AsString()
	return true
}
