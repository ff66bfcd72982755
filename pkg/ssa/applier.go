package ssa

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	clientgoac "k8s.io/client-go/applyconfigurations"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ssakit/ssakit/internal/answer"
	"github.com/ssakit/ssakit/internal/typeconverters"
)

// Applier applies configurations as one field manager and sends only those that could change
// something: a controller's applies of its children on every reconcile cost no request once the
// children are as wanted (docs/ssa-semantics.md row 21), without a dry-run per object or a cache
// of request hashes. The decision is WouldChange's, from the object the caller already holds (an
// informer's copy): structured-merge-diff field sets and merge, with the manager's managedFields
// entry, so a field the manager owns and the new configuration drops is a change. Whenever it
// cannot tell (no managedFields entry of the manager's, one at another apiVersion, a kind the type
// converters do not know), it sends. It wraps controller-runtime's Client.Apply.
//
// It sends on every call, as a plain apply would, when the configuration sets what the server
// does not record as the manager's (creationTimestamp, status on a kind with a status
// subresource, an empty map), and when the manager is named "kubectl" (the server then also
// rewrites the kubectl.kubernetes.io/last-applied-configuration annotation, which it does not
// model).
type Applier struct {
	client  client.Client
	manager string
	types   managedfields.TypeConverter
	// kinds holds the schema of each kind decided on (schema.GroupVersionKind to kindType): the
	// converters' schemas do not change.
	kinds sync.Map
}

// ApplierOptions configure NewApplier. The zero value knows client-go's built-in types only.
type ApplierOptions struct {
	// TypeConverters know the schemas of the kinds applied, tried in order, then client-go's
	// built-in types (applyconfigurations.NewTypeConverter). For a custom resource give the
	// converter generated with its apply configurations (applyconfiguration.NewTypeConverter(scheme))
	// or ServerTypeConverter; without one, its applies are always sent.
	TypeConverters []managedfields.TypeConverter
}

// NewApplier returns an Applier that applies through c as manager.
func NewApplier(c client.Client, manager string, opts ApplierOptions) *Applier {
	types := append(slices.Clone(opts.TypeConverters), clientgoac.NewTypeConverter(c.Scheme()))
	return &Applier{client: c, manager: manager, types: typeconverters.First(types...)}
}

// FieldOwner returns the Applier's field manager.
func (a *Applier) FieldOwner() string { return a.manager }

// WouldChange reports whether applying config to live, as the Applier's manager, could change
// live's values or the manager's managedFields entry: MayChange, for an apply configuration
// (generated, or controller-runtime's ApplyConfigurationFromUnstructured). live is nil when the
// caller holds no copy of the object: then it could. config must name live: its kind, namespace
// and name; another object is an error, since comparing with it would prove nothing.
func (a *Applier) WouldChange(live client.Object, config runtime.ApplyConfiguration) (bool, error) {
	if a.provenUnchanged(live, config) {
		return false, nil
	}
	desired, err := a.content(live, config)
	if err != nil {
		return false, err
	}
	return a.wouldChange(live, desired), nil
}

// kubectlManager is the one field manager whose applies the server follows with a rewrite of the
// last-applied-configuration annotation (apimachinery's managedfields lastAppliedUpdater).
const kubectlManager = "kubectl"

// wouldChange is WouldChange for content that names live. A uid or resourceVersion in desired that
// is not live's is a precondition only the server can judge: then it sends.
func (a *Applier) wouldChange(live client.Object, desired *unstructured.Unstructured) bool {
	if isNil(live) || a.manager == kubectlManager {
		return true
	}
	if uid := desired.GetUID(); uid != "" && uid != live.GetUID() {
		return true
	}
	if rv := desired.GetResourceVersion(); rv != "" && rv != live.GetResourceVersion() {
		return true
	}
	return mayChange(a.types, live, desired, a.manager, "")
}

// Apply applies config as the Applier's manager unless WouldChange proves, from live, that it
// would change nothing; sent says whether a request went out. After a request, live (when not
// nil) is replaced whole by the server's answer; otherwise it is left as it was. opts are
// Client.Apply's (client.ForceOwnership, say); the field owner is always the Applier's. With
// client.DryRunAll the request is sent whenever it could change something and live is left as it
// was: the answer shows what was not stored.
//
// Skipping trusts live: it is as fresh as the caller's cache. An apply that was skipped because
// live was stale would have changed nothing on that copy; when the controller watches the kind
// applied, as it does its children, the event that brings the newer copy brings another
// reconcile, whose Apply then sends. A uid or resourceVersion in config is a precondition of the
// request: when it is not live's, only the server can judge it, and the request is sent.
func (a *Applier) Apply(ctx context.Context, live client.Object, config runtime.ApplyConfiguration, opts ...client.ApplyOption) (sent bool, err error) {
	if a.provenUnchanged(live, config) {
		return false, nil
	}
	desired, err := a.content(live, config)
	if err != nil {
		return false, err
	}
	if !a.wouldChange(live, desired) {
		return false, nil
	}
	ref := ObjectRef{GroupVersionKind: desired.GroupVersionKind(), Namespace: desired.GetNamespace(), Name: desired.GetName(), UID: desired.GetUID()}
	applyOpts := append(append([]client.ApplyOption(nil), opts...), client.FieldOwner(a.manager))
	if err := a.client.Apply(ctx, client.ApplyConfigurationFromUnstructured(desired), applyOpts...); err != nil {
		return true, FromApplyError(ref, err)
	}
	if isNil(live) || isDryRun(opts) {
		return true, nil
	}
	// Client.Apply wrote the server's answer into desired.
	if err := answer.Into(live, desired); err != nil {
		return true, fmt.Errorf("%s was applied, but the answer could not be read into %T (which was left as it was): %w", ref, live, err)
	}
	return true, nil
}

// content returns config as unstructured content, after checking that it names live.
func (a *Applier) content(live client.Object, config runtime.ApplyConfiguration) (*unstructured.Unstructured, error) {
	if config == nil {
		return nil, fmt.Errorf("applying as %s: the apply configuration is nil", a.manager)
	}
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(config)
	if err != nil {
		return nil, fmt.Errorf("applying %T as %s: %w", config, a.manager, err)
	}
	desired := &unstructured.Unstructured{Object: content}
	if desired.GetKind() == "" || desired.GetAPIVersion() == "" || desired.GetName() == "" {
		return nil, fmt.Errorf("applying %T as %s: the configuration needs apiVersion, kind and name; build it with its generated constructor (corev1ac.ConfigMap(name, namespace), say)", config, a.manager)
	}
	if isNil(live) {
		return desired, nil
	}
	liveRef, err := refOf(live, a.client.Scheme())
	if err != nil {
		return nil, err
	}
	if live.GetNamespace() != "" && desired.GetNamespace() == "" {
		return nil, fmt.Errorf("applying %s %s as %s: the configuration has no namespace, but the live object given is in %s: set the configuration's namespace",
			desired.GetKind(), desired.GetName(), a.manager, live.GetNamespace())
	}
	if liveRef.GroupVersionKind != desired.GroupVersionKind() || live.GetNamespace() != desired.GetNamespace() || live.GetName() != desired.GetName() {
		return nil, fmt.Errorf("applying as %s: the configuration is for %s, but the live object given is %s: pass the copy of the object the configuration applies to, read at the configuration's apiVersion, or nil",
			a.manager, describe(desired.GroupVersionKind(), desired.GetNamespace(), desired.GetName()), describe(liveRef.GroupVersionKind, live.GetNamespace(), live.GetName()))
	}
	return desired, nil
}

// describe names an object with its apiVersion: "ConfigMap team-a/settings (v1)".
func describe(gvk schema.GroupVersionKind, namespace, name string) string {
	ref := ObjectRef{GroupVersionKind: gvk, Namespace: namespace, Name: name}
	return ref.String() + " (" + gvk.GroupVersion().String() + ")"
}

// isNil reports whether obj is nil, or a nil pointer in an interface.
func isNil(obj client.Object) bool {
	if obj == nil {
		return true
	}
	v := reflect.ValueOf(obj)
	return v.Kind() == reflect.Pointer && v.IsNil()
}

// isDryRun reports whether opts make the apply a dry run.
func isDryRun(opts []client.ApplyOption) bool {
	applyOpts := &client.ApplyOptions{}
	applyOpts.ApplyOptions(opts)
	return len(applyOpts.DryRun) > 0
}
