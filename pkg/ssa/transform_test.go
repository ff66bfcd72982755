package ssa_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	toolscache "k8s.io/client-go/tools/cache"

	"github.com/ssakit/ssakit/pkg/ssa"
)

func managersOf(obj *corev1.ConfigMap) []string {
	var names []string
	for _, e := range obj.ManagedFields {
		names = append(names, e.Manager)
	}
	return names
}

func TestKeepManagedFieldsOf_KeepsOnlyTheNamedManagersInOrder(t *testing.T) {
	out, err := ssa.KeepManagedFieldsOf("legacy-operator", "kubectl")(demoConfigMap())
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"kubectl", "legacy-operator"}, managersOf(out.(*corev1.ConfigMap))); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestKeepManagedFieldsOf_LeavesNoEntriesWhenNoManagerMatches(t *testing.T) {
	out, err := ssa.KeepManagedFieldsOf("someone-else")(demoConfigMap())
	if err != nil {
		t.Fatal(err)
	}
	if got := out.(*corev1.ConfigMap).ManagedFields; got != nil {
		t.Errorf("want nil managedFields, got %v", got)
	}
}

func TestKeepManagedFieldsOf_PassesTombstonesThrough(t *testing.T) {
	tombstone := toolscache.DeletedFinalStateUnknown{Key: "demo/settings", Obj: demoConfigMap()}
	out, err := ssa.KeepManagedFieldsOf("kubectl")(tombstone)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(tombstone, out); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}
