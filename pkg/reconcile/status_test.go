package reconcile

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
