package ssa_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/ssakit/ssakit/pkg/ssa"
)

// bigManagedFields builds the managedFields of an object with managers entries, each owning
// fieldsPerManager fields: spec fields of its own, a keyed list item it shares with the next
// manager, labels and a finalizer item. 20 managers of 25 fields is the ~500-field object the
// ownership benchmarks use.
func bigManagedFields(managers, fieldsPerManager int) []metav1.ManagedFieldsEntry {
	entries := make([]metav1.ManagedFieldsEntry, managers)
	for m := range managers {
		var spec []string
		for f := range fieldsPerManager - 4 {
			spec = append(spec, fmt.Sprintf(`"f:field%02d%02d":{}`, m, f))
		}
		port := fmt.Sprintf(`"k:{\"port\":%d,\"protocol\":\"TCP\"}":{"f:name":{}}`, 8000+m/2)
		fields := fmt.Sprintf(`{"f:metadata":{"f:labels":{"f:team%02d":{}},"f:finalizers":{"v:\"example.com/m%02d\"":{}}},"f:spec":{%s,"f:ports":{%s}}}`,
			m, m, strings.Join(spec, ","), port)
		op := metav1.ManagedFieldsOperationApply
		if m%3 == 0 {
			op = metav1.ManagedFieldsOperationUpdate
		}
		entries[m] = metav1.ManagedFieldsEntry{
			Manager: fmt.Sprintf("manager-%02d", m), Operation: op, APIVersion: "v1",
			FieldsType: "FieldsV1", FieldsV1: metav1.NewFieldsV1(fields),
		}
	}
	return entries
}

func BenchmarkParseOwnership(b *testing.B) {
	entries := bigManagedFields(20, 25)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ssa.ParseOwnership(entries); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOwnershipShared(b *testing.B) {
	o, err := ssa.ParseOwnership(bigManagedFields(20, 25))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if shared := o.Overlaps(); len(shared) != 10 {
			b.Fatalf("want 10 shared ports, got %d", len(shared))
		}
	}
}

// BenchmarkFinalizerAddWhenOwned is the steady-state reconcile: the manager already owns the
// finalizer on a ~500-field object with 20 other managers, so Add decides from managedFields and
// sends nothing (the client would fail the benchmark if it were called).
func BenchmarkFinalizerAddWhenOwned(b *testing.B) {
	obj := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
		Namespace: "demo", Name: "big", UID: "b16",
		Finalizers: []string{"example.com/cleanup"},
		ManagedFields: append(bigManagedFields(20, 25), metav1.ManagedFieldsEntry{
			Manager: ssa.FinalizerFieldOwner("bench", "example.com/cleanup"), Operation: metav1.ManagedFieldsOperationApply, APIVersion: "v1",
			FieldsType: "FieldsV1", FieldsV1: metav1.NewFieldsV1(`{"f:metadata":{"f:finalizers":{"v:\"example.com/cleanup\"":{}}}}`),
		}),
	}}
	c := fake.NewClientBuilder().WithInterceptorFuncs(interceptor.Funcs{
		Apply: func(context.Context, client.WithWatch, runtime.ApplyConfiguration, ...client.ApplyOption) error {
			b.Fatal("Add sent an apply for a finalizer its manager owns")
			return nil
		},
	}).Build()
	f, err := ssa.NewFinalizer(c, "bench", "example.com/cleanup", ssa.FinalizerOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.Add(b.Context(), obj); err != nil {
			b.Fatal(err)
		}
	}
}
