package reconcile

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/managedfields"
	clientgoac "k8s.io/client-go/applyconfigurations"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/ssakit/ssakit/internal/answer"
	"github.com/ssakit/ssakit/pkg/ssa"
)

// StatusApplier applies status to the /status subresource with the controller's own field
// manager, through controller-runtime's SubResourceWriter.Apply, guarded by the resourceVersion
// and UID of the object it is given, and skipped when it would change nothing.
type StatusApplier struct {
	client     client.Client
	owner      client.FieldOwner
	controller string
	types      []managedfields.TypeConverter
	legacy     []string
	// recoveryForbidden is set once the API server refused a takeover from before-first-apply
	// because the applier's client may not patch the main resource: the applier then stops
	// trying, so a status-only controller neither fails nor sends a request per reconcile.
	recoveryForbidden atomic.Bool
	// written proves a copy older than the applier's own last write stale without a request.
	written lastWrites
}

// StatusApplierOptions configure a StatusApplier.
type StatusApplierOptions struct {
	// TypeConverters know the schemas of the objects whose status is applied, so that Apply can
	// prove locally that an apply would change nothing (ssa.MayChange). They are tried in order,
	// then client-go's built-in types (applyconfigurations.NewTypeConverter). For a custom
	// resource give the converter generated with its apply configurations
	// (applyconfiguration.NewTypeConverter(scheme)) or ssa.ServerTypeConverter; without one, its
	// status is applied on every call: always correct, one request each.
	TypeConverters []managedfields.TypeConverter
	// LegacyManagers are field managers that wrote the status before this applier did (the
	// controller's earlier name, or its Status().Update writer). The applier takes over from them
	// exactly the status fields it applies (it always does so from before-first-apply, the
	// server's owner of every field of an object whose managedFields were dropped): a conflict
	// with them is forced, as one with an Update writer always is, and after each Apply the fields
	// of the applier's own entry are removed from their status entries (ssa.TakeOverFields), so
	// that a field both wrote with the same value (shared, row 2) is the applier's alone and goes
	// when the applier stops applying it. Their other fields stay theirs.
	//
	// The takeover works from the server's answer to an apply. When the status is unchanged,
	// Apply sends that apply (a no-op for the server) only if the object given shows a legacy
	// entry sharing a field: with a cache that keeps only some managedFields
	// (ssa.KeepManagedFieldsOf), keep theirs too, or the takeover waits for the next status that
	// changes. Naming the applier's own manager takes over from its Update entry (a
	// Status().Update under the same name), never from its apply.
	LegacyManagers []string
}

// NewStatusApplier returns a StatusApplier whose field manager is the controller's name.
func NewStatusApplier(c client.Client, controller string, opts StatusApplierOptions) *StatusApplier {
	registerMetrics()
	types := append(slices.Clone(opts.TypeConverters), clientgoac.NewTypeConverter(c.Scheme()))
	return &StatusApplier{client: c, owner: client.FieldOwner(controller), controller: controller, types: types, legacy: slices.Clone(opts.LegacyManagers)}
}

// Apply applies status to obj's /status subresource and replaces obj with the server's answer.
// status is the content of .status: a generated apply configuration of the status type (the usual
// case), or anything else whose JSON form is an object, such as a map. The configuration sent
// holds apiVersion, kind, name, namespace, obj's UID and resourceVersion, and status; never spec.
//
// The resourceVersion is the guard: on /status a custom resource ignores the UID, so an apply
// carrying only the UID of a deleted object writes the status of a same-named successor
// (docs/ssa-semantics.md row 27); with the resourceVersion the server refuses it with a 409. The price:
// when obj is stale, because anyone wrote the object since obj was read, Apply fails with an
// *ssa.ObjectError wrapping ssa.ErrStale and writes nothing. Return it from the reconcile: New's
// Reconciler retries it soon, without an error log (see StaleRetry), which a reconciler of its own
// does with StaleRetry.Handle. The retry must not wait for an event: when the write that made obj
// stale is the controller's own status write, as it usually is, the cache gets the newer obj but
// predicate.GenerationChangedPredicate lets no event of it through. A copy older than the answer
// to this applier's own last status write of the object (compared as integers, docs/ssa-semantics.md
// row 34) is refused the same way without a request: the 409 is certain. The UID stays in the
// configuration for built-in types, whose /status checks it and could otherwise create a deleted
// object (a Service does).
//
// Conflicts: a field the status sets that another writer owns with another value is taken over
// (force) only when every such writer wrote it with an Update or a patch: a legacy
// Status().Update, a `kubectl edit --subresource=status`. A field another controller applies is
// its own: Apply returns the *ssa.ConflictError and writes nothing, so two controllers that
// disagree get errors and backoff, not a write loop.
//
// When obj's Go type declares status.observedGeneration and status leaves it unset, it is set to
// obj's generation, unless obj's managedFields show another manager reporting it (a Deployment's
// controller, say) or the server answers that one does: then it is left to them. An unstructured
// or metadata-only obj gets no such default: set it in status where the schema has it.
//
// Nothing is sent when ssa.MayChange proves the apply would change nothing, from obj's values
// and the manager's managedFields entry: a steady-state reconcile costs no request (row 21).
func (a *StatusApplier) Apply(ctx context.Context, obj client.Object, status any) error {
	ref, err := refOf(obj, a.client.Scheme())
	if err != nil {
		return err
	}
	if obj.GetUID() == "" || obj.GetResourceVersion() == "" {
		return fmt.Errorf("status of %s: the object has no UID or resourceVersion; pass an object read from the API server, so that the apply cannot create or touch another object", ref)
	}
	desired, err := statusContent(status)
	if err != nil {
		return err
	}
	for _, key := range []string{"apiVersion", "kind", "metadata"} {
		if _, ok := desired[key]; ok {
			return fmt.Errorf("status of %s: the status given has %q: pass the content of .status (a %sStatus apply configuration, say), not the whole object", ref, key, ref.GroupVersionKind.Kind)
		}
	}
	defaulted := false
	if _, set := desired["observedGeneration"]; !set && declaresObservedGeneration(obj) && !a.reportedByOthers(obj) {
		desired["observedGeneration"] = obj.GetGeneration()
		defaulted = true
	}
	if !ssa.MayChange(a.types, obj, a.config(ref, obj, desired), string(a.owner), "status") && !a.sharedWithLegacy(obj) {
		return nil
	}
	if older, last := a.written.olderThanLastWrite(obj); older {
		return fmt.Errorf("status of %s: %w", ref, &ssa.ObjectError{Object: ref, Reason: ssa.ErrStale,
			Detail: fmt.Sprintf("the copy given (resourceVersion %s) is older than this applier's last status write (resourceVersion %s), and nothing was applied; apply again to a fresh read (a controller's next reconcile does)", obj.GetResourceVersion(), last)})
	}
	if err := a.apply(ctx, ref, obj, desired, defaulted); err != nil {
		return fmt.Errorf("status of %s: %w", ref, err)
	}
	a.written.record(obj)
	return a.takeOver(ctx, ref, obj)
}

// apply sends desired and settles the two conflicts it resolves itself: an observedGeneration
// the applier only defaulted (defaulted) yields to another manager that reports it, and fields
// owned only by Update writers or the applier's legacy managers are taken with force. Any other
// conflict is returned: those fields are another controller's.
func (a *StatusApplier) apply(ctx context.Context, ref ssa.ObjectRef, obj client.Object, desired map[string]any, defaulted bool) error {
	err := a.send(ctx, ref, obj, desired, false)
	conflict, ok := errors.AsType[*ssa.ConflictError](err)
	if !ok {
		return err
	}
	if defaulted && conflict.Has(observedGenerationPath) {
		// Another manager reports observedGeneration; the default yields to it.
		delete(desired, "observedGeneration")
		err = a.send(ctx, ref, obj, desired, false)
		if conflict, ok = errors.AsType[*ssa.ConflictError](err); !ok {
			return err
		}
	}
	if !conflict.OnlyByUpdates() && !a.onlyLegacy(conflict) {
		return err
	}
	return a.send(ctx, ref, obj, desired, true)
}

// onlyLegacy reports whether every manager in conflict is one of the applier's legacy managers.
func (a *StatusApplier) onlyLegacy(conflict *ssa.ConflictError) bool {
	if len(a.legacy) == 0 {
		return false
	}
	for _, c := range conflict.Conflicts {
		if !slices.Contains(a.legacy, c.Manager) {
			return false
		}
	}
	return true
}

// sharedWithLegacy reports whether obj's managedFields show a legacy manager's status entry
// sharing a field with the applier's own: then Apply sends, even an apply that changes nothing,
// so that the takeover works from the server's answer, never from obj, whose managedFields a
// cache may have trimmed.
func (a *StatusApplier) sharedWithLegacy(obj client.Object) bool {
	// This runs on every Apply that would send nothing: parse only the status entries of the
	// applier's and the managers it takes over from.
	var relevant []metav1.ManagedFieldsEntry
	for _, e := range obj.GetManagedFields() {
		if e.Subresource == "status" && (e.Manager == string(a.owner) || a.takesFrom(e.Manager, e.Operation)) {
			relevant = append(relevant, e)
		}
	}
	if len(relevant) < 2 {
		return false // nothing shared without both an entry of the applier's and a legacy one
	}
	ownership, err := ssa.ParseOwnership(relevant)
	if err != nil {
		return false
	}
	own := &fieldpath.Set{}
	for _, e := range ownership.Entries {
		if e.IsApplyOf(string(a.owner), "status") {
			own = own.Union(e.Fields)
		}
	}
	for _, e := range ownership.Entries {
		if !e.IsApplyOf(string(a.owner), "status") && e.Subresource == "status" && a.takesFrom(e.Manager, e.Operation) && !e.Fields.Intersection(own).Empty() {
			return true
		}
	}
	return false
}

// beforeFirstApply is the Update entry the server gives every existing field at the first apply to
// an object whose managedFields were dropped (docs/ssa-semantics.md row 24, kubernetes#136919). It
// names no writer: the applier always takes its own fields back from it, or a status field it
// stopped reporting would stay for good. Only an Update entry of that name is taken for the
// server's: an Apply entry is someone's declared intent. (Any client may name its Update
// "before-first-apply"; it then gives up its claim on the applier's fields.)
const beforeFirstApply = "before-first-apply"

// takesFrom reports whether the applier takes its status fields over from an entry of manager with
// operation.
func (a *StatusApplier) takesFrom(manager string, operation metav1.ManagedFieldsOperationType) bool {
	if slices.Contains(a.legacy, manager) {
		return true
	}
	return manager == beforeFirstApply && operation == metav1.ManagedFieldsOperationUpdate && !a.recoveryForbidden.Load()
}

// takeOver removes the applier's status fields from the status entries of the legacy managers and
// of before-first-apply on obj, the server's answer to the apply just sent.
//
// The managedFields patch goes to the main resource (on /status the server ignores it), so the
// recovery from dropped managedFields needs patch on the main resource, which a controller that
// adds finalizers has anyway. Without it, the applier says so once in the log and stops trying:
// nothing is lost but that recovery. A takeover from the legacy managers
// (StatusApplierOptions.LegacyManagers) was asked for, and its failure is an error.
func (a *StatusApplier) takeOver(ctx context.Context, ref ssa.ObjectRef, obj client.Object) error {
	entries := obj.GetManagedFields()
	statusEntryOf := func(e metav1.ManagedFieldsEntry) bool {
		return e.Subresource == "status" && a.takesFrom(e.Manager, e.Operation)
	}
	switch {
	case len(entries) == 0 && len(a.legacy) == 0:
		// The answer left managedFields out (row 32): no takeover was asked for, and none can
		// be seen to be needed.
		return nil
	case len(entries) > 0 && !slices.ContainsFunc(entries, statusEntryOf):
		return nil // the usual answer: parse nothing
	}
	from := slices.Clone(a.legacy)
	if slices.ContainsFunc(entries, func(e metav1.ManagedFieldsEntry) bool { return e.Manager == beforeFirstApply && statusEntryOf(e) }) {
		from = append(from, beforeFirstApply)
	}
	_, err := ssa.TakeOverFields(ctx, a.client, obj, string(a.owner), "status", from...)
	if apierrors.IsForbidden(err) && len(a.legacy) == 0 {
		a.recoveryForbidden.Store(true)
		log.FromContext(ctx).Info("Status fields stay shared with before-first-apply: taking them back needs patch on the main resource, which this client may not do; not trying again",
			"reason", err.Error())
		return nil
	}
	if err != nil {
		return fmt.Errorf("status of %s was applied, but taking its fields over from %v failed: %w", ref, from, err)
	}
	return nil
}

// observedGenerationPath is status.observedGeneration as the server names it in a conflict.
const observedGenerationPath = ".status.observedGeneration"

// reportedByOthers reports whether obj's managedFields show a manager other than the applier's
// owning status.observedGeneration. It runs on every Apply, so an entry is parsed only when its
// raw fields mention observedGeneration at all.
func (a *StatusApplier) reportedByOthers(obj client.Object) bool {
	path := fieldpath.MakePathOrDie("status", "observedGeneration")
	for _, e := range obj.GetManagedFields() {
		if e.Manager == string(a.owner) || e.FieldsV1 == nil || !bytes.Contains(e.FieldsV1.GetRawBytes(), []byte(`"f:observedGeneration"`)) {
			continue
		}
		if e.Manager == beforeFirstApply && e.Operation == metav1.ManagedFieldsOperationUpdate {
			continue // reports nothing: it is where the applier's own field went when managedFields were dropped
		}
		ownership, err := ssa.ParseOwnership([]metav1.ManagedFieldsEntry{e})
		if err == nil && ownership.Entries[0].Fields.Has(path) {
			return true
		}
	}
	return false
}

// refOf names obj for the errors of Apply, with its kind from obj itself (unstructured) or from
// scheme (typed objects), as controller-runtime's client finds it.
func refOf(obj client.Object, scheme *runtime.Scheme) (ssa.ObjectRef, error) {
	gvk, err := apiutil.GVKForObject(obj, scheme)
	if err != nil {
		return ssa.ObjectRef{}, fmt.Errorf("applying status: cannot tell the kind of %T %s/%s: %w; register its type in the client's scheme",
			obj, obj.GetNamespace(), obj.GetName(), err)
	}
	return ssa.ObjectRef{GroupVersionKind: gvk, Namespace: obj.GetNamespace(), Name: obj.GetName(), UID: obj.GetUID()}, nil
}

// config is the apply configuration of desired status for obj.
func (a *StatusApplier) config(ref ssa.ObjectRef, obj client.Object, desired map[string]any) *unstructured.Unstructured {
	config := &unstructured.Unstructured{Object: map[string]any{"status": desired}}
	config.SetGroupVersionKind(ref.GroupVersionKind)
	config.SetNamespace(obj.GetNamespace())
	config.SetName(obj.GetName())
	config.SetUID(obj.GetUID())
	config.SetResourceVersion(obj.GetResourceVersion())
	return config
}

// send applies a fresh configuration of desired (docs/ssa-semantics.md row 22) and replaces obj with the
// server's answer.
func (a *StatusApplier) send(ctx context.Context, ref ssa.ObjectRef, obj client.Object, desired map[string]any, force bool) error {
	config := a.config(ref, obj, desired)
	opts := []client.SubResourceApplyOption{a.owner}
	if force {
		opts = append(opts, client.ForceOwnership)
	}
	applyRequests.WithLabelValues(a.controller, "status").Inc()
	err := a.client.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(config), opts...)
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("the API server found no such object, or its kind has no status subresource: %w", err)
	}
	if err != nil {
		return ssa.FromApplyError(ref, err)
	}
	if err := answer.Into(obj, config); err != nil {
		return fmt.Errorf("the status was applied, but the answer could not be read into %T (which was left as it was): %w", obj, err)
	}
	return nil
}

// declaresObservedGeneration reports whether obj's Go type has a status field with an
// observedGeneration field, by their JSON names.
func declaresObservedGeneration(obj client.Object) bool {
	t := reflect.TypeOf(obj)
	if t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		return false
	}
	status, ok := jsonField(t.Elem(), "status")
	if !ok {
		return false
	}
	if status.Kind() == reflect.Pointer {
		status = status.Elem()
	}
	if status.Kind() != reflect.Struct {
		return false
	}
	_, ok = jsonField(status, "observedGeneration")
	return ok
}

// jsonField returns the type of the field of struct t that encoding/json names name.
func jsonField(t reflect.Type, name string) (reflect.Type, bool) {
	for f := range t.Fields() {
		tagName, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if tagName == name || (tagName == "" && f.Name == name) {
			return f.Type, true
		}
	}
	return nil, false
}

// statusContent turns an apply configuration or a map into unstructured content, through its
// JSON form, whose numbers apimachinery's json package decodes as int64 where they are whole, as
// the object's own content has them.
func statusContent(status any) (map[string]any, error) {
	raw, err := json.Marshal(status)
	if err != nil {
		return nil, fmt.Errorf("status %T cannot be applied: %w", status, err)
	}
	var content map[string]any
	if err := utiljson.Unmarshal(raw, &content); err != nil {
		return nil, fmt.Errorf("status %T cannot be applied: it is not a JSON object: %w", status, err)
	}
	if content == nil {
		content = map[string]any{}
	}
	return content, nil
}

// Condition returns the apply configuration of cond, keeping the lastTransitionTime of the
// condition of the same type in existing when its status is unchanged, and using now (to the
// second, as the API server stores it) otherwise. cond.LastTransitionTime is ignored; a zero
// ObservedGeneration is left out. It relies on apimachinery's meta.FindStatusCondition.
//
// The time never moves backwards from the one in existing, even when this process's clock is
// behind the one that wrote it: a change then takes existing's time. existing must come from the
// object whose status is applied: a list from a staler copy can show an older transition than the
// live one. StatusApplier.Apply refuses such a copy (its resourceVersion guard, ssa.ErrStale), so
// a condition computed from a stale list never reaches the server through it.
func Condition(existing []metav1.Condition, cond metav1.Condition) *metav1ac.ConditionApplyConfiguration {
	transition := metav1.NewTime(time.Now().Truncate(time.Second))
	if old := meta.FindStatusCondition(existing, cond.Type); old != nil && (old.Status == cond.Status || transition.Before(&old.LastTransitionTime)) {
		transition = old.LastTransitionTime
	}
	ac := metav1ac.Condition().
		WithType(cond.Type).
		WithStatus(cond.Status).
		WithReason(cond.Reason).
		WithMessage(cond.Message).
		WithLastTransitionTime(transition)
	// A typed object cannot show an explicit 0 (omitempty): sending one would look like a
	// change on every reconcile.
	if cond.ObservedGeneration != 0 {
		ac.WithObservedGeneration(cond.ObservedGeneration)
	}
	return ac
}
