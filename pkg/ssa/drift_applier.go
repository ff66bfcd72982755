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
	id, ok := identify(desired)
	if !ok || id.apiVersion == "" || id.kind == "" || id.name == "" {
		return false
	}
	gv, err := schema.ParseGroupVersion(id.apiVersion)
	if err != nil {
		return false
	}
	gvk := gv.WithKind(id.kind)
	liveRef, err := refOf(live, a.client.Scheme())
	if err != nil || liveRef.GroupVersionKind != gvk || live.GetNamespace() != id.namespace || live.GetName() != id.name ||
		(id.uid != "" && id.uid != string(live.GetUID())) || (id.resourceVersion != "" && id.resourceVersion != live.GetResourceVersion()) {
		return false
	}
	kt, ok := a.kindType(gvk)
	return ok && decide(kt, live, desired, a.manager, "", id.apiVersion) == unchanged
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
	apiVersion, kind, name, namespace, uid, resourceVersion string
}

// identify reads config's apiVersion, kind and metadata; ok is false when one is not a string.
func identify(config value.Value) (id objectID, ok bool) {
	if !config.IsMap() {
		return id, false
	}
	top := config.AsMap()
	ok = stringAt(top, "apiVersion", &id.apiVersion) && stringAt(top, "kind", &id.kind)
	metadata, found := top.Get("metadata")
	if !ok || !found || !metadata.IsMap() {
		return id, false
	}
	m := metadata.AsMap()
	ok = stringAt(m, "name", &id.name) && stringAt(m, "namespace", &id.namespace) &&
		stringAt(m, "uid", &id.uid) && stringAt(m, "resourceVersion", &id.resourceVersion)
	return id, ok
}

// stringAt sets *s to m's string at key, if any; false when the value there is not a string.
func stringAt(m value.Map, key string, s *string) bool {
	v, found := m.Get(key)
	if !found {
		return true
	}
	if !v.IsString() {
		return false
	}
	*s = v.AsString()
	return true
}
