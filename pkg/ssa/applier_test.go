package ssa_test

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/ssakit/ssakit/pkg/ssa"
	"github.com/ssakit/ssakit/pkg/ssatest"
)

const copier = "copier"

// countingApplier returns an Applier as copier over a client that counts apply requests and
// sends none.
func countingApplier(t *testing.T) (*ssa.Applier, *int) {
	t.Helper()
	return countingApplierAs(t, copier)
}

// countingApplierAs is countingApplier with another field manager.
func countingApplierAs(t *testing.T, manager string) (*ssa.Applier, *int) {
	t.Helper()
	applies := new(int)
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).WithInterceptorFuncs(interceptor.Funcs{
		Apply: func(context.Context, client.WithWatch, runtime.ApplyConfiguration, ...client.ApplyOption) error {
			*applies++
			return nil
		},
	}).Build()
	return ssa.NewApplier(c, manager, ssa.ApplierOptions{}), applies
}

// copyOf is a live ConfigMap with data, whose managedFields say copier applied ownedFields.
func copyOf(data map[string]string, ownedFields string) *corev1.ConfigMap {
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "settings", UID: "uid-1", ResourceVersion: "7"},
		Data:       data,
	}
	if ownedFields != "" {
		cm.ManagedFields = []metav1.ManagedFieldsEntry{
			{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "v1", FieldsType: "FieldsV1",
				FieldsV1: metav1.NewFieldsV1(`{"f:metadata":{"f:annotations":{"f:note":{}}}}`)},
			{Manager: copier, Operation: metav1.ManagedFieldsOperationApply, APIVersion: "v1", FieldsType: "FieldsV1",
				FieldsV1: metav1.NewFieldsV1(ownedFields)},
		}
	}
	return cm
}

const ownsA = `{"f:data":{"f:a":{}}}`

// atAPIVersion sets the apiVersion of cm's entries, as if written through another version.
func atAPIVersion(cm *corev1.ConfigMap, apiVersion string) *corev1.ConfigMap {
	for i := range cm.ManagedFields {
		cm.ManagedFields[i].APIVersion = apiVersion
	}
	return cm
}

func configWith(data map[string]string) *corev1ac.ConfigMapApplyConfiguration {
	return corev1ac.ConfigMap("settings", "team-a").WithData(data)
}

func TestApplier_SendsNothingWhenTheManagerOwnsExactlyTheSameValues(t *testing.T) {
	a, applies := countingApplier(t)

	sent, err := a.Apply(context.Background(), copyOf(map[string]string{"a": "1"}, ownsA), configWith(map[string]string{"a": "1"}))

	if sent || err != nil || *applies != 0 {
		t.Errorf("Apply = %v, %v with %d requests; want no request", sent, err, *applies)
	}
}

func TestApplier_Sends(t *testing.T) {
	for _, tc := range []struct {
		name   string
		live   client.Object
		config *corev1ac.ConfigMapApplyConfiguration
	}{
		{"when a value differs", copyOf(map[string]string{"a": "2"}, ownsA), configWith(map[string]string{"a": "1"})},
		{"when the configuration drops a field the manager owns",
			copyOf(map[string]string{"a": "1", "b": "2"}, `{"f:data":{"f:a":{},"f:b":{}}}`), configWith(map[string]string{"a": "1"})},
		{"when the configuration sets a field the manager does not own, with the value live has",
			copyOf(map[string]string{"a": "1", "b": "2"}, ownsA), configWith(map[string]string{"a": "1", "b": "2"})},
		{"when live has no entry of the manager's (a cache that strips managedFields)",
			copyOf(map[string]string{"a": "1"}, ""), configWith(map[string]string{"a": "1"})},
		{"when the caller holds no copy", nil, configWith(map[string]string{"a": "1"})},
		{"when the configuration's resourceVersion is not live's (a precondition only the server can judge)",
			copyOf(map[string]string{"a": "1"}, ownsA), configWith(map[string]string{"a": "1"}).WithResourceVersion("6")},
		{"when the configuration's uid is not live's",
			copyOf(map[string]string{"a": "1"}, ownsA), configWith(map[string]string{"a": "1"}).WithUID("uid-0")},
		{"when the manager's entry is at another apiVersion (the apply rewrites it)",
			atAPIVersion(copyOf(map[string]string{"a": "1"}, ownsA), "v0"), configWith(map[string]string{"a": "1"})},
		{"when the caller's nil copy is a typed nil pointer", (*corev1.ConfigMap)(nil), configWith(map[string]string{"a": "1"})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, applies := countingApplier(t)

			sent, err := a.Apply(context.Background(), tc.live, tc.config)

			if !sent || err != nil || *applies != 1 {
				t.Errorf("Apply = %v, %v with %d requests; want one request", sent, err, *applies)
			}
		})
	}
}

// Without the kind's schema the applier cannot prove anything, and sends.
func TestApplier_SendsForAKindWhoseSchemaItDoesNotKnow(t *testing.T) {
	a, applies := countingApplier(t)
	gvk := metav1.GroupVersionKind{Group: "storage.example.com", Version: "v1", Kind: "Bucket"}
	live := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{"region": "eu"}}}
	live.SetAPIVersion(gvk.Group + "/" + gvk.Version)
	live.SetKind(gvk.Kind)
	live.SetName("b")
	live.SetManagedFields([]metav1.ManagedFieldsEntry{{Manager: copier, Operation: metav1.ManagedFieldsOperationApply, APIVersion: "storage.example.com/v1",
		FieldsType: "FieldsV1", FieldsV1: metav1.NewFieldsV1(`{"f:spec":{"f:region":{}}}`)}})
	config := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{"region": "eu"}}}
	config.SetAPIVersion(live.GetAPIVersion())
	config.SetKind(live.GetKind())
	config.SetName("b")

	sent, err := a.Apply(context.Background(), live, client.ApplyConfigurationFromUnstructured(config))

	if !sent || err != nil || *applies != 1 {
		t.Errorf("Apply = %v, %v with %d requests; want one request", sent, err, *applies)
	}
}

// Comparing with another object would prove nothing about this one.
func TestApplier_RefusesAConfigurationForAnotherObjectThanLive(t *testing.T) {
	a, applies := countingApplier(t)
	live := copyOf(map[string]string{"a": "1"}, ownsA)

	sent, err := a.Apply(context.Background(), live, corev1ac.ConfigMap("other", "team-a").WithData(map[string]string{"a": "1"}))

	if sent || *applies != 0 || err == nil || !strings.Contains(err.Error(), "the live object given is ConfigMap team-a/settings") {
		t.Errorf("Apply = %v, %v with %d requests; want no request and an error naming both objects", sent, err, *applies)
	}
}

func TestApplier_RefusesAConfigurationWithoutAName(t *testing.T) {
	a, applies := countingApplier(t)

	sent, err := a.Apply(context.Background(), nil, &corev1ac.ConfigMapApplyConfiguration{Data: map[string]string{"a": "1"}})

	if sent || *applies != 0 || err == nil || !strings.Contains(err.Error(), "needs apiVersion, kind and name") {
		t.Errorf("Apply = %v, %v with %d requests; want no request and an error that says what the configuration needs", sent, err, *applies)
	}
}

// The server rewrites the last-applied-configuration annotation after an apply by "kubectl",
// which the decision does not model.
func TestApplier_AlwaysSendsAsKubectl(t *testing.T) {
	a, applies := countingApplierAs(t, "kubectl")
	live := copyOf(map[string]string{"a": "1"}, ownsA)
	live.ManagedFields[1].Manager = "kubectl"

	sent, err := a.Apply(context.Background(), live, configWith(map[string]string{"a": "1"}))

	if !sent || err != nil || *applies != 1 {
		t.Errorf("Apply = %v, %v with %d requests; want one request", sent, err, *applies)
	}
}

func TestApplier_SaysWhenTheConfigurationLacksLivesNamespace(t *testing.T) {
	a, applies := countingApplier(t)

	sent, err := a.Apply(context.Background(), copyOf(map[string]string{"a": "1"}, ownsA), corev1ac.ConfigMap("settings", "").WithData(map[string]string{"a": "1"}))

	if sent || *applies != 0 || err == nil || !strings.Contains(err.Error(), "the configuration has no namespace") {
		t.Errorf("Apply = %v, %v with %d requests; want no request and an error that says the namespace is missing", sent, err, *applies)
	}
}
