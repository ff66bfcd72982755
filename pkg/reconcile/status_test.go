package reconcile

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ssakit/ssakit/pkg/ssatest"
)

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

// A typed object cannot show an explicit observedGeneration of 0 (omitempty): sending one would
// make every status apply look like a change.
func TestCondition_LeavesOutAZeroObservedGeneration(t *testing.T) {
	got := Condition(nil, metav1.Condition{Type: "Ready", Status: metav1.ConditionTrue, Reason: "Synced"})

	if got.ObservedGeneration != nil {
		t.Errorf("observedGeneration = %d, want it left out", *got.ObservedGeneration)
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

func TestDeclaresObservedGeneration(t *testing.T) {
	for _, tc := range []struct {
		name string
		obj  client.Object
		want bool
	}{
		{"a Deployment, whose status has it", &appsv1.Deployment{}, true},
		{"a Service, whose status has none", &corev1.Service{}, false},
		{"a ConfigMap, which has no status", &corev1.ConfigMap{}, false},
		{"an unstructured object, whose schema is unknown", &unstructured.Unstructured{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := declaresObservedGeneration(tc.obj); got != tc.want {
				t.Errorf("declaresObservedGeneration(%T) = %v, want %v", tc.obj, got, tc.want)
			}
		})
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

// The condition was written by a process whose clock is ahead of this one's: a change takes the
// existing time rather than go back before it.
func TestCondition_NeverMovesLastTransitionTimeBackwards(t *testing.T) {
	ahead := metav1.NewTime(time.Now().Add(time.Hour).Truncate(time.Second))
	existing := []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue, LastTransitionTime: ahead}}

	got := Condition(existing, metav1.Condition{Type: "Ready", Status: metav1.ConditionFalse, Reason: "SourceMissing"})

	if got.LastTransitionTime.Before(&ahead) {
		t.Errorf("lastTransitionTime %v is before the existing %v", got.LastTransitionTime, ahead)
	}
}

// A typed object whose type the client's scheme does not know cannot be named in the
// configuration: the error says what to do about it, and nothing is sent.
func TestStatusApplier_ApplySaysToRegisterATypeTheSchemeDoesNotKnow(t *testing.T) {
	c := ssatest.NewClientBuilder(runtime.NewScheme()).Build()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "settings", UID: "1", ResourceVersion: "1"}}

	err := NewStatusApplier(c, "example", StatusApplierOptions{}).Apply(context.Background(), cm, map[string]any{"phase": "Ready"})

	if err == nil || !strings.Contains(err.Error(), "*v1.ConfigMap demo/settings") || !strings.Contains(err.Error(), "register its type in the client's scheme") {
		t.Errorf("err = %v, want one that names the object and says to register its type in the client's scheme", err)
	}
}
