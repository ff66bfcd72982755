package reconcile

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
)

func TestContains(t *testing.T) {
	live := map[string]any{
		"phase":              "Ready",
		"observedGeneration": int64(2),
		"conditions":         []any{map[string]any{"type": "Ready", "status": "True"}},
		"extra":              map[string]any{"a": "1", "b": "2"},
	}
	for _, tc := range []struct {
		name    string
		desired map[string]any
		want    bool
	}{
		{"equal values", map[string]any{"phase": "Ready", "observedGeneration": int64(2)}, true},
		{"a subset of a nested map", map[string]any{"extra": map[string]any{"a": "1"}}, true},
		{"a changed scalar", map[string]any{"phase": "Pending"}, false},
		{"a changed nested value", map[string]any{"extra": map[string]any{"a": "9"}}, false},
		{"a missing field", map[string]any{"message": "hi"}, false},
		{"lists compare whole", map[string]any{"conditions": []any{map[string]any{"type": "Ready"}}}, false},
		{"an equal list", map[string]any{"conditions": []any{map[string]any{"type": "Ready", "status": "True"}}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := contains(live, tc.desired); got != tc.want {
				t.Errorf("contains(live, %v) = %v, want %v", tc.desired, got, tc.want)
			}
		})
	}
}

func TestCondition_KeepsLastTransitionTimeWhileTheStatusHolds(t *testing.T) {
	then := metav1.NewTime(time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC))
	existing := []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue, LastTransitionTime: then, Reason: "Old"}}

	got := Condition(existing, metav1.Condition{Type: "Ready", Status: metav1.ConditionTrue, Reason: "New", Message: "still ready", ObservedGeneration: 3})

	if d := cmp.Diff(then, *got.LastTransitionTime); d != "" {
		t.Errorf("lastTransitionTime (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"New", "still ready"}, []string{*got.Reason, *got.Message}); d != "" {
		t.Errorf("reason and message (-want +got):\n%s", d)
	}
}

func TestCondition_MovesLastTransitionTimeWhenTheStatusChanges(t *testing.T) {
	then := metav1.NewTime(time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC))
	existing := []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue, LastTransitionTime: then}}
	before := time.Now().Truncate(time.Second)

	got := Condition(existing, metav1.Condition{Type: "Ready", Status: metav1.ConditionFalse, Reason: "SourceMissing"})

	if got.LastTransitionTime.Before(&metav1.Time{Time: before}) {
		t.Errorf("lastTransitionTime %v is before the change at %v", got.LastTransitionTime, before)
	}
	if got.LastTransitionTime.Nanosecond() != 0 {
		t.Errorf("lastTransitionTime %v is not whole seconds, as the server stores it", got.LastTransitionTime)
	}
}

func statusEntry(manager, fields string) metav1.ManagedFieldsEntry {
	return metav1.ManagedFieldsEntry{
		Manager: manager, Operation: metav1.ManagedFieldsOperationApply, Subresource: "status",
		APIVersion: "v1", FieldsType: "FieldsV1", FieldsV1: metav1.NewFieldsV1(fields),
	}
}

func TestUpToDate(t *testing.T) {
	a := &StatusApplier{owner: "ctl"}
	live := &corev1.ConfigMap{}
	for _, tc := range []struct {
		name    string
		owned   string
		live    map[string]any
		desired map[string]any
		want    bool
	}{{
		name:    "the same values and fields",
		owned:   `{"f:status":{"f:phase":{},"f:extra":{"f:a":{}}}}`,
		live:    map[string]any{"phase": "Ready", "extra": map[string]any{"a": "1"}},
		desired: map[string]any{"phase": "Ready", "extra": map[string]any{"a": "1"}},
		want:    true,
	}, {
		name:    "a dropped top-level field",
		owned:   `{"f:status":{"f:phase":{},"f:message":{}}}`,
		live:    map[string]any{"phase": "Ready", "message": "hi"},
		desired: map[string]any{"phase": "Ready"},
	}, {
		name:    "a dropped nested field",
		owned:   `{"f:status":{"f:extra":{"f:a":{},"f:b":{}}}}`,
		live:    map[string]any{"extra": map[string]any{"a": "1", "b": "2"}},
		desired: map[string]any{"extra": map[string]any{"a": "1"}},
	}, {
		name:    "a dropped keyed list item",
		owned:   `{"f:status":{"f:conditions":{"k:{\"type\":\"Ready\"}":{".":{},"f:type":{}},"k:{\"type\":\"Synced\"}":{".":{},"f:type":{}}}}}`,
		live:    map[string]any{"conditions": []any{map[string]any{"type": "Ready"}, map[string]any{"type": "Synced"}}},
		desired: map[string]any{"conditions": []any{map[string]any{"type": "Ready"}}},
	}, {
		name:    "a changed value",
		owned:   `{"f:status":{"f:phase":{}}}`,
		live:    map[string]any{"phase": "Ready"},
		desired: map[string]any{"phase": "Pending"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			obj := &unstructured.Unstructured{Object: map[string]any{"status": tc.live}}
			obj.SetManagedFields([]metav1.ManagedFieldsEntry{statusEntry("ctl", tc.owned)})

			got, err := a.upToDate(obj, tc.desired)

			if err != nil || got != tc.want {
				t.Errorf("upToDate = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
	if got, _ := a.upToDate(live, map[string]any{}); got {
		t.Error("an object without managedFields cannot be known to be up to date")
	}
}

func TestStatusContent_AcceptsMapsAndApplyConfigurations(t *testing.T) {
	for _, tc := range []struct {
		in   any
		want map[string]any
	}{
		{map[string]any{"replicas": 3, "names": []string{"a"}}, map[string]any{"replicas": int64(3), "names": []any{"a"}}},
		{nil, map[string]any{}},
		{metav1ac.Condition().WithType("Ready").WithObservedGeneration(2), map[string]any{"type": "Ready", "observedGeneration": int64(2)}},
	} {
		got, err := statusContent(tc.in)
		if err != nil {
			t.Errorf("statusContent(%#v): %v", tc.in, err)
			continue
		}
		if d := cmp.Diff(tc.want, got); d != "" {
			t.Errorf("statusContent(%#v) (-want +got):\n%s", tc.in, d)
		}
	}
	if _, err := statusContent([]string{"not", "an", "object"}); err == nil {
		t.Error("a list is not a status")
	}
}
