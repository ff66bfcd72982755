package ssatest

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// terminatingConfigMap returns a client and, through it, a terminating ConfigMap held by one
// finalizer of each manager in finalizers.
func terminatingConfigMap(t *testing.T, finalizers map[string]string) (*markingClient, *corev1.ConfigMap) {
	t.Helper()
	c := NewClientBuilder(clientgoscheme.Scheme).Build().(*markingClient)
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "settings"}}
	if err := c.Create(t.Context(), cm); err != nil {
		t.Fatal(err)
	}
	for name, manager := range finalizers {
		if err := c.Apply(t.Context(), finalizerConfig(cm, name), client.FieldOwner(manager)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Delete(t.Context(), cm); err != nil {
		t.Fatal(err)
	}
	return c, cm
}

// finalizerConfig is the configuration of an apply to cm that lists finalizers.
func finalizerConfig(cm *corev1.ConfigMap, finalizers ...string) runtime.ApplyConfiguration {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("v1")
	u.SetKind("ConfigMap")
	u.SetNamespace(cm.Namespace)
	u.SetName(cm.Name)
	u.SetFinalizers(finalizers)
	return client.ApplyConfigurationFromUnstructured(u)
}

// racingClient runs before, once, when the first apply comes, then sends it on: another writer
// that gets in between the client's look at the object and the apply.
type racingClient struct {
	client.WithWatch
	before func()
}

func (r *racingClient) Apply(ctx context.Context, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
	if before := r.before; before != nil {
		r.before = nil
		before()
	}
	return r.WithWatch.Apply(ctx, obj, opts...)
}

// The client holds a release because the other finalizer keeps the object; that one goes while
// the held apply is on its way. The tracker then finds the merged object released and deletes it,
// as the API server would have, and the apply succeeds.
func TestHeldApply_DeletesTheObjectWhenItsOtherFinalizersWentOnTheWay(t *testing.T) {
	c, cm := terminatingConfigMap(t, map[string]string{"example.com/mine": "mine", "example.com/theirs": "theirs"})
	racing := &racingClient{WithWatch: c.WithWatch}
	racing.before = func() {
		if err := c.Apply(t.Context(), finalizerConfig(cm), client.FieldOwner("theirs")); err != nil {
			t.Errorf("the other release: %v", err)
		}
	}
	mine := &markingClient{WithWatch: racing, tracker: c.tracker}

	err := mine.Apply(t.Context(), finalizerConfig(cm), client.FieldOwner("mine"))

	if err != nil {
		t.Errorf("err = %v, want the apply to succeed", err)
	}
	if err := c.Get(t.Context(), client.ObjectKeyFromObject(cm), &corev1.ConfigMap{}); !apierrors.IsNotFound(err) {
		t.Errorf("err = %v, want the object gone", err)
	}
}

func TestTakeTerminatingMark_GivesTheConfigurationBackWhatItSent(t *testing.T) {
	deleted := metav1.Now()
	for _, tc := range []struct {
		name       string
		finalizers []string // nil: not listed
		deletion   bool     // the configuration sets deletionTimestamp itself
		want       map[string]any
	}{
		{name: "no finalizers listed", want: map[string]any{"name": "settings"}},
		{name: "an empty list", finalizers: []string{}, want: map[string]any{"name": "settings", "finalizers": []any{}}},
		{name: "a deletionTimestamp sent", deletion: true, want: map[string]any{"name": "settings", "deletionTimestamp": deleted.UTC().Format("2006-01-02T15:04:05Z")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			config := &unstructured.Unstructured{Object: map[string]any{"metadata": map[string]any{"name": "settings"}}}
			if tc.finalizers != nil {
				config.SetFinalizers(tc.finalizers)
			}
			if tc.deletion {
				config.SetDeletionTimestamp(&deleted)
			}
			fields, err := sentFields(config)
			if err != nil {
				t.Fatal(err)
			}
			// What the fake hands the tracker: the held finalizers, the stored deletionTimestamp.
			config.SetFinalizers([]string{"example.com/theirs"})
			config.SetDeletionTimestamp(&deleted)
			config.SetManagedFields([]metav1.ManagedFieldsEntry{{Manager: heldApplyManager, Operation: metav1.ManagedFieldsOperationApply, FieldsType: "FieldsV1", FieldsV1: fields}})

			held := takeTerminatingMark(config)

			if !held {
				t.Error("the mark of a held apply was not taken as held")
			}
			if d := cmp.Diff(tc.want, config.Object["metadata"]); d != "" {
				t.Errorf("metadata of the configuration (-want +got):\n%s", d)
			}
		})
	}
}
