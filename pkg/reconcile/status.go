package reconcile

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ssakit/ssakit/pkg/ssa"
)

// StatusApplier applies status to the /status subresource with the controller's own field
// manager, through controller-runtime's SubResourceWriter.Apply.
type StatusApplier struct {
	client     client.Client
	owner      client.FieldOwner
	controller string
}

// NewStatusApplier returns a StatusApplier whose field manager is the controller's name.
func NewStatusApplier(c client.Client, controller string) *StatusApplier {
	registerMetrics()
	return &StatusApplier{client: c, owner: client.FieldOwner(controller), controller: controller}
}

// Apply applies status to obj's /status subresource. status is the content of .status: a
// generated apply configuration of the status type (the usual case), or anything else whose JSON
// form is an object, such as a map. The configuration
// sent holds apiVersion, kind, name, namespace, obj's UID (so a deleted or replaced object is
// never touched; SSA-SEMANTICS rows 9 and 10) and status, with status.observedGeneration set to
// obj's generation unless status sets it (so the status schema needs that field, as Kubernetes
// API conventions have it). It never holds spec.
//
// Nothing is sent when obj's status already holds every applied value and the manager owns no
// status field that status leaves out: a steady-state reconcile costs no request (row 21). The
// answer is written into obj.
func (a *StatusApplier) Apply(ctx context.Context, obj client.Object, status any) error {
	if obj.GetUID() == "" {
		return fmt.Errorf("status of %s/%s: the object has no UID; pass an object read from the API server, so that the apply cannot create or touch another object", obj.GetNamespace(), obj.GetName())
	}
	desired, err := statusContent(status)
	if err != nil {
		return err
	}
	if _, set := desired["observedGeneration"]; !set {
		desired["observedGeneration"] = obj.GetGeneration()
	}
	if upToDate, err := a.upToDate(obj, desired); err != nil || upToDate {
		return err
	}
	ref, err := ssa.RefOf(obj, a.client.Scheme())
	if err != nil {
		return fmt.Errorf("applying status: %w", err)
	}

	config := &unstructured.Unstructured{Object: map[string]any{"status": desired}}
	config.SetGroupVersionKind(ref.GroupVersionKind)
	config.SetNamespace(obj.GetNamespace())
	config.SetName(obj.GetName())
	config.SetUID(obj.GetUID())
	applyRequests.WithLabelValues(a.controller, "status").Inc()
	if err := a.client.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(config), a.owner); err != nil {
		return ssa.FromApplyError(ref, err)
	}
	if u, ok := obj.(*unstructured.Unstructured); ok {
		u.Object = config.Object
		return nil
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(config.Object, obj); err != nil {
		return fmt.Errorf("status of %s was applied, but the answer could not be read into %T: %w", ref, obj, err)
	}
	return nil
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

// upToDate reports whether applying desired would change nothing: every desired value is already
// in obj's status, and every status field the manager's entry owns is still in desired (an apply
// would remove one that is not). Without managedFields (a stripped cache) it cannot tell, and
// says no.
func (a *StatusApplier) upToDate(obj client.Object, desired map[string]any) (bool, error) {
	var own []metav1.ManagedFieldsEntry
	for _, e := range obj.GetManagedFields() {
		if e.Manager == string(a.owner) && e.Subresource == "status" && e.Operation == metav1.ManagedFieldsOperationApply {
			own = append(own, e)
		}
	}
	if len(own) == 0 {
		return false, nil
	}
	ownership, err := ssa.ParseOwnership(own)
	if err != nil {
		return false, err
	}
	dropped := false
	for _, e := range ownership.Entries {
		// structured-merge-diff's Set.All does not stop early: visit every path, never break.
		for path := range e.Fields.All() {
			if len(path) < 2 || path[0].FieldName == nil || *path[0].FieldName != "status" {
				continue
			}
			if _, kept := ssa.ValueAt(desired, path[1:]); !kept {
				dropped = true
			}
		}
	}
	if dropped {
		return false, nil
	}
	live, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return false, err
	}
	liveStatus, _ := live["status"].(map[string]any)
	return contains(liveStatus, desired), nil
}

// contains reports whether every value in want is in got: maps are compared key by key, anything
// else (lists included) as a whole.
func contains(got, want any) bool {
	wantMap, ok := want.(map[string]any)
	if !ok {
		return reflect.DeepEqual(got, want)
	}
	gotMap, ok := got.(map[string]any)
	if !ok {
		return false
	}
	for k, v := range wantMap {
		if !contains(gotMap[k], v) {
			return false
		}
	}
	return true
}

// Condition returns the apply configuration of cond, keeping the lastTransitionTime of the
// condition of the same type in existing when its status is unchanged, and using now (to the
// second, as the API server stores it) otherwise. cond.LastTransitionTime is ignored. It relies on
// apimachinery's meta.FindStatusCondition.
func Condition(existing []metav1.Condition, cond metav1.Condition) *metav1ac.ConditionApplyConfiguration {
	transition := metav1.NewTime(time.Now().Truncate(time.Second))
	if old := meta.FindStatusCondition(existing, cond.Type); old != nil && old.Status == cond.Status {
		transition = old.LastTransitionTime
	}
	return metav1ac.Condition().
		WithType(cond.Type).
		WithStatus(cond.Status).
		WithReason(cond.Reason).
		WithMessage(cond.Message).
		WithObservedGeneration(cond.ObservedGeneration).
		WithLastTransitionTime(transition)
}
