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

func TestParseOwnership_KeepsEveryEntryInOrder(t *testing.T) {
	var got []string
	for _, e := range fixtureOwnership(t).Entries {
		got = append(got, e.String())
	}
	want := []string{"kubectl (Apply)", "before-first-apply (Update)", "ancient-changes (Update)", "op/finalizer (Apply)", "op (Update, status)", "op (Apply)"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestEntry_IsApplyOfMatchesOnlyTheManagersApplyOnTheSubresource(t *testing.T) {
	got := map[string]bool{}
	for _, e := range fixtureOwnership(t).Entries {
		for _, subresource := range []string{"", "status"} {
			if e.IsApplyOf("op", subresource) {
				got[e.String()+" on "+subresource] = true
			}
		}
	}
	if d := cmp.Diff(map[string]bool{"op (Apply) on ": true}, got); d != "" {
		t.Errorf("entries IsApplyOf(\"op\", ...) (-want +got):\n%s", d)
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

func TestParseOwnership_KeepsOperationAndSubresourceApart(t *testing.T) {
	var got []string
	for _, e := range fixtureOwnership(t).Entries {
		if e.Manager != "op" {
			continue
		}
		var paths []string
		e.Fields.Iterate(func(p fieldpath.Path) { paths = append(paths, p.String()) })
		got = append(got, e.String()+": "+strings.Join(paths, ", "))
	}
	want := []string{
		`op (Update, status): .status.loadBalancer.ingress`,
		`op (Apply): .spec.ports[port=80,protocol="TCP"].name`,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestOwnership_FieldsOfHoldsAManagersFinalizerItems(t *testing.T) {
	fields := fixtureOwnership(t).FieldsOf("op/finalizer")
	got := map[string]bool{}
	for _, name := range []string{"legacy-finalizer", "other.io/x", "example.com/x"} {
		got[name] = fields.Has(ssa.FinalizerPath(name))
	}
	if d := cmp.Diff(map[string]bool{"legacy-finalizer": true, "other.io/x": false, "example.com/x": true}, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestOwnership_OverlapsListsEveryPathOwnedTwice(t *testing.T) {
	var got []string
	for _, s := range fixtureOwnership(t).Overlaps() {
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

func TestOwnership_CheckNoOverlapIsNilForManagersThatShareNothing(t *testing.T) {
	if err := fixtureOwnership(t).CheckNoOverlap("kubectl", "op/finalizer", "ancient-changes"); err != nil {
		t.Errorf("CheckNoOverlap: %v", err)
	}
}

func TestOwnership_CheckNoOverlapListsEveryOverlap(t *testing.T) {
	err := fixtureOwnership(t).CheckNoOverlap("kubectl", "op", "op/finalizer", "before-first-apply")

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

// An overlap on a label whose key holds dots and a slash names it as kubectl's JSONPath takes it,
// not as three nested fields.
func TestOwnership_CheckNoOverlapEscapesDotsInKeys(t *testing.T) {
	fields := metav1.NewFieldsV1(`{"f:metadata":{"f:labels":{"f:app.kubernetes.io/name":{}}}}`)
	o, err := ssa.ParseOwnership([]metav1.ManagedFieldsEntry{
		{Manager: "helm", Operation: metav1.ManagedFieldsOperationApply, APIVersion: "v1", FieldsType: "FieldsV1", FieldsV1: fields},
		{Manager: "operator", Operation: metav1.ManagedFieldsOperationApply, APIVersion: "v1", FieldsType: "FieldsV1", FieldsV1: fields},
	})
	if err != nil {
		t.Fatal(err)
	}

	err = o.CheckNoOverlap("helm", "operator")

	want := `field managers overlap on 1 field(s): .metadata.labels.app\.kubernetes\.io/name: "helm", "operator"`
	if err == nil {
		t.Fatalf("CheckNoOverlap: nil, want %s", want)
	}
	if d := cmp.Diff(want, err.Error()); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}
