package plugin

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp/cmpopts"
)

// finalizerRow is what a test reads of one finalizers -o json entry.
type finalizerRow struct {
	Object      struct{ Name string }
	Finalizer   string
	Owners      []struct{ Manager, Operation string }
	Name        string
	NameProblem string
	Terminating bool
	Stuck       bool
}

// Each finalizer is listed with its owners, its name's standing, and whether its object is
// terminating, and for longer than --stuck-after.
func TestFinalizers_ListsOwnersNameStandingAndStuckObjects(t *testing.T) {
	ns := cluster.Namespace(t)
	legacyFinalizer(t, userWidget(t, ns, "legacy"), cleanup)
	terminating := legacyFinalizer(t, userWidget(t, ns, "terminating"), oldName)
	if err := cluster.Client.Delete(t.Context(), terminating); err != nil {
		t.Fatal(err)
	}
	userWidget(t, ns, "none")

	r := plugin(t, ns, "finalizers", widgets, "--stuck-after", "0s", "-o", "json")

	diff(t, "exit code", 0, r.code)
	var rows []struct {
		finalizerRow
		TerminatingSeconds *int64
	}
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
		t.Fatalf("%v:\n%s", err, r.stdout)
	}
	var got []finalizerRow
	for _, row := range rows {
		row.Terminating = row.TerminatingSeconds != nil
		got = append(got, row.finalizerRow)
	}
	legacyOwner := []struct{ Manager, Operation string }{{legacyManager, "Update"}}
	want := []finalizerRow{
		{Finalizer: cleanup, Owners: legacyOwner, Name: "qualified"},
		{Finalizer: oldName, Owners: legacyOwner, Name: "unqualified", Terminating: true, Stuck: true},
	}
	want[0].Object.Name, want[1].Object.Name = "legacy", "terminating"
	diff(t, "finalizers", want, got, cmpopts.IgnoreFields(finalizerRow{}, "NameProblem"))
	if got[1].NameProblem == "" {
		t.Errorf("an unqualified name says nothing of what is wrong with it")
	}
}

// The text table has one row per finalizer, and a summary on stderr.
func TestFinalizers_PrintsATableAndASummary(t *testing.T) {
	ns := cluster.Namespace(t)
	legacyFinalizer(t, userWidget(t, ns, "legacy"), oldName)
	userWidget(t, ns, "none")

	r := plugin(t, ns, "finalizers", widgets)

	diff(t, "exit code", 0, r.code)
	diff(t, "table", [][]string{
		{"OBJECT", "FINALIZER", "OWNERS", "NAME", "TERMINATING"},
		{ns + "/widget.test.ssakit.dev/legacy", oldName, legacyManager, "(Update)", "unqualified"},
	}, table(r.stdout))
	diff(t, "summary", "1 finalizer(s) on 1 of 2 object(s): 1 without a domain-qualified name, 0 stuck\n", r.stderr)
}
