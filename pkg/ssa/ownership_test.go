package ssa_test

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/structured-merge-diff/v6/value"

	"github.com/ssakit/ssakit/pkg/ssa"
)

// fixtureOwnership parses testdata/managedfields.json: a Service's entries with an Apply by
// kubectl, a before-first-apply and an ancient-changes entry, a finalizer manager, and an
// operator with a status-subresource Update and an Apply.
func fixtureOwnership(t testing.TB) *ssa.Ownership {
	t.Helper()
	raw, err := os.ReadFile("testdata/managedfields.json")
	if err != nil {
		t.Fatal(err)
	}
	var entries []metav1.ManagedFieldsEntry
	if err := json.Unmarshal(raw, &entries); err != nil {
		t.Fatal(err)
	}
	o, err := ssa.ParseOwnership(entries)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

var port80 = &value.FieldList{
	{Name: "port", Value: value.NewValueInterface(int64(80))},
	{Name: "protocol", Value: value.NewValueInterface("TCP")},
}

func TestParseOwnership_Managers(t *testing.T) {
	want := []string{"ancient-changes", "before-first-apply", "kubectl", "op", "op/finalizer"}
	if d := cmp.Diff(want, fixtureOwnership(t).Managers()); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestOwnership_Owners(t *testing.T) {
	o := fixtureOwnership(t)
	for _, tc := range []struct {
		path fieldpath.Path
		want []string
	}{
		{fieldpath.MakePathOrDie("spec", "selector"), []string{"kubectl"}},
		{fieldpath.MakePathOrDie("spec", "ports", port80, "name"), []string{"kubectl", "op"}},
		{fieldpath.MakePathOrDie("spec", "sessionAffinity"), []string{"ancient-changes"}},
		{ssa.FinalizerPath("legacy-finalizer"), []string{"before-first-apply", "op/finalizer"}},
		{ssa.FinalizerPath("example.com/x"), []string{"op/finalizer"}},
		{fieldpath.MakePathOrDie("status", "loadBalancer", "ingress"), []string{"op"}},
		{fieldpath.MakePathOrDie("spec", "type"), nil},
	} {
		t.Run(tc.path.String(), func(t *testing.T) {
			if d := cmp.Diff(tc.want, o.Owners(tc.path)); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestOwnership_EntriesOfKeepOperationAndSubresourceApart(t *testing.T) {
	var got []string
	for _, e := range fixtureOwnership(t).EntriesOf("op") {
		got = append(got, e.String()+": "+strings.Join(ssa.Paths(e.Fields), ", "))
	}
	want := []string{
		`op (Update, status): .status.loadBalancer.ingress`,
		`op (Apply): .spec.ports[port=80,protocol="TCP"].name`,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestPaths_RendersReadablePaths(t *testing.T) {
	want := []string{
		`.metadata.labels.app`,
		`.spec.ports[port=80,protocol="TCP"]`,
		`.spec.ports[port=80,protocol="TCP"].name`,
		`.spec.ports[port=80,protocol="TCP"].port`,
		`.spec.ports[port=80,protocol="TCP"].protocol`,
		`.spec.selector`,
	}
	if d := cmp.Diff(want, ssa.Paths(fixtureOwnership(t).FieldsOf("kubectl"))); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestOwnership_FinalizersOwnedBy(t *testing.T) {
	got := fixtureOwnership(t).FinalizersOwnedBy("op/finalizer", []string{"legacy-finalizer", "other.io/x", "example.com/x"})
	if d := cmp.Diff([]string{"legacy-finalizer", "example.com/x"}, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestOwnership_Shared(t *testing.T) {
	var got []string
	for _, s := range fixtureOwnership(t).Shared() {
		got = append(got, s.String())
	}
	want := []string{
		`.metadata.finalizers[="legacy-finalizer"]: "before-first-apply", "op/finalizer"`,
		`.spec.ports[port=80,protocol="TCP"].name: "kubectl", "op"`,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestOwnership_DisjointIsNilForManagersThatShareNothing(t *testing.T) {
	if err := fixtureOwnership(t).Disjoint("kubectl", "op/finalizer", "ancient-changes"); err != nil {
		t.Errorf("Disjoint: %v", err)
	}
}

func TestOwnership_DisjointListsEverySharedField(t *testing.T) {
	err := fixtureOwnership(t).Disjoint("kubectl", "op", "op/finalizer", "before-first-apply")

	if _, ok := errors.AsType[*ssa.OverlapError](err); !ok {
		t.Fatalf("want *OverlapError, got %v", err)
	}
	want := `field managers overlap on 2 field(s): .metadata.finalizers[="legacy-finalizer"]: "before-first-apply", "op/finalizer"; .spec.ports[port=80,protocol="TCP"].name: "kubectl", "op"`
	if d := cmp.Diff(want, err.Error()); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestParseOwnership_ResetEntryHasNoFields(t *testing.T) {
	o, err := ssa.ParseOwnership([]metav1.ManagedFieldsEntry{{}})
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Entries) != 1 || !o.Entries[0].Fields.Empty() {
		t.Errorf("want one empty entry, got %+v", o.Entries)
	}
}

func TestParseOwnership_RejectsMalformedFields(t *testing.T) {
	_, err := ssa.ParseOwnership([]metav1.ManagedFieldsEntry{{
		Manager: "broken", Operation: metav1.ManagedFieldsOperationApply,
		FieldsV1: metav1.NewFieldsV1(`{"f:spec":`),
	}})
	if err == nil {
		t.Fatal("want an error for malformed fieldsV1")
	}
	if !strings.Contains(err.Error(), `manager "broken" (Apply)`) {
		t.Errorf("error %q should name the manager and its operation", err)
	}
}
