package reconcile

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"
)

func TestFinalizerChanged_LetsThroughExactlyTheUpdatesThatDropAFinalizerFromALiveObject(t *testing.T) {
	const mine, mineToo, theirs = "example.com/cleanup", "example.com/dns", "other.example.com/keep"
	deleting := metav1.Now()
	cm := func(deletion *metav1.Time, finalizers ...string) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c", Finalizers: finalizers, DeletionTimestamp: deletion}}
	}
	p := FinalizerChanged([]string{mine, mineToo}, nil)
	for _, tc := range []struct {
		name     string
		old, new *corev1.ConfigMap
		want     bool
	}{
		{"a live object lost the finalizer", cm(nil, mine, theirs), cm(nil, theirs), true},
		{"a live object lost the second finalizer", cm(nil, mine, mineToo), cm(nil, mine), true},
		{"a live object lost every finalizer", cm(nil, mine, mineToo), cm(nil), true},
		{"the finalizer was removed from a terminating object", cm(&deleting, mine), cm(&deleting), false},
		{"the finalizer was added", cm(nil), cm(nil, mine), false},
		{"another controller's finalizer went", cm(nil, mine, theirs), cm(nil, mine), false},
		{"the finalizer was never there", cm(nil, theirs), cm(nil), false},
		{"nothing about finalizers changed", cm(nil, mine), cm(nil, mine), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := p.Update(event.UpdateEvent{ObjectOld: tc.old, ObjectNew: tc.new}); got != tc.want {
				t.Errorf("Update(%v -> %v) = %v, want %v", tc.old.Finalizers, tc.new.Finalizers, got, tc.want)
			}
		})
	}
}

// FinalizerChanged is meant to be combined with predicate.Or: it lets through nothing but the
// updates that change the finalizers, so that it adds no other event to what it is combined with.
func TestFinalizerChanged_LetsThroughNoCreateDeleteOrGenericEvent(t *testing.T) {
	obj := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c", Finalizers: []string{"cleanup-finalizer"}}}
	p := FinalizerChanged([]string{"example.com/cleanup"}, []string{"cleanup-finalizer"})

	got := []bool{
		p.Create(event.CreateEvent{Object: obj}),
		p.Delete(event.DeleteEvent{Object: obj}),
		p.Generic(event.GenericEvent{Object: obj}),
	}

	for i, kind := range []string{"create", "delete", "generic"} {
		if got[i] {
			t.Errorf("a %s event was let through", kind)
		}
	}
}

func TestFinalizerChanged_AlsoLetsThroughAFormerNameAppearingOnALiveObject(t *testing.T) {
	const mine, former, theirs = "example.com/cleanup", "cleanup-finalizer", "other.example.com/keep"
	deleting := metav1.Now()
	cm := func(deletion *metav1.Time, finalizers ...string) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c", Finalizers: finalizers, DeletionTimestamp: deletion}}
	}
	p := FinalizerChanged([]string{mine}, []string{former})
	for _, tc := range []struct {
		name     string
		old, new *corev1.ConfigMap
		want     bool
	}{
		{"the old release put the former name back", cm(nil, mine), cm(nil, mine, former), true},
		{"the former name appeared on an object without the finalizer", cm(nil), cm(nil, former), true},
		{"a live object lost the finalizer", cm(nil, mine, former), cm(nil, former), true},
		{"the former name was released", cm(nil, mine, former), cm(nil, mine), false},
		{"the former name stayed", cm(nil, mine, former), cm(nil, mine, former), false},
		{"another controller's finalizer appeared", cm(nil, mine), cm(nil, mine, theirs), false},
		{"the former name is on a terminating object", cm(&deleting, mine), cm(&deleting, mine, former), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := p.Update(event.UpdateEvent{ObjectOld: tc.old, ObjectNew: tc.new}); got != tc.want {
				t.Errorf("Update(%v -> %v) = %v, want %v", tc.old.Finalizers, tc.new.Finalizers, got, tc.want)
			}
		})
	}
}
