package main

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The list parses, names at least 20 mutants of pkg/ssa and pkg/reconcile, and each says what a
// maintainer could get wrong and runs at least one suite.
func TestList_ParsesWithEveryMutantComplete(t *testing.T) {
	f, err := os.Open("mutants.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	mutants, err := parseList(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(mutants) < 20 {
		t.Errorf("%d mutants, want at least 20", len(mutants))
	}
	for _, m := range mutants {
		if !strings.HasPrefix(m.file, "pkg/ssa/") && !strings.HasPrefix(m.file, "pkg/reconcile/") {
			t.Errorf("mutant %s changes %s, outside pkg/ssa and pkg/reconcile", m.id, m.file)
		}
	}
}

func TestParseList_ReadsTheSuitesAndTheSnippetsVerbatim(t *testing.T) {
	list := "# a comment\n\n== some-id\nfile: pkg/ssa/x.go\nwhy: a reason\ntest: ./pkg/ssa\ntest: ./test/integration/finalizer -run TestA|TestB\n" +
		"--- original\n\tif a {\n\t\treturn\n\t}\n\n+++ mutant\n\tif a && false {\n\t\treturn\n\t}\n"

	got, err := parseList(strings.NewReader(list))

	if err != nil {
		t.Fatal(err)
	}
	want := []mutant{{id: "some-id", file: "pkg/ssa/x.go", why: "a reason", line: 3,
		suites:   []suite{{pkg: "./pkg/ssa"}, {pkg: "./test/integration/finalizer", run: "TestA|TestB"}},
		original: "\tif a {\n\t\treturn\n\t}", replacement: "\tif a && false {\n\t\treturn\n\t}"}}
	if d := cmp.Diff(want, got, cmp.AllowUnexported(mutant{}, suite{})); d != "" {
		t.Errorf("parseList (-want +got):\n%s", d)
	}
}

func TestParseList_RefusesAnIncompleteOrEmptyMutant(t *testing.T) {
	for name, list := range map[string]string{
		"no test line":        "== a\nfile: pkg/ssa/x.go\nwhy: w\n--- original\nx\n+++ mutant\ny\n",
		"no change":           "== a\nfile: pkg/ssa/x.go\nwhy: w\ntest: ./pkg/ssa\n--- original\nx\n+++ mutant\nx\n",
		"a flag but -run":     "== a\nfile: pkg/ssa/x.go\nwhy: w\ntest: ./pkg/ssa -count 2\n--- original\nx\n+++ mutant\ny\n",
		"a bad regexp":        "== a\nfile: pkg/ssa/x.go\nwhy: w\ntest: ./pkg/ssa -run Test(\n--- original\nx\n+++ mutant\ny\n",
		"an id with capitals": "== A\nfile: pkg/ssa/x.go\nwhy: w\ntest: ./pkg/ssa\n--- original\nx\n+++ mutant\ny\n",
	} {
		if _, err := parseList(strings.NewReader(list)); err == nil {
			t.Errorf("%s: parseList accepted it", name)
		}
	}
}

func TestMutate_RefusesASnippetThatDoesNotOccurExactlyOnce(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(root+"/x.go", []byte("a\nb\na\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, original := range []string{"a", "c"} {
		m := mutant{id: "m", file: "x.go", original: original, replacement: "z"}
		if _, err := m.mutate(root); err == nil || !strings.Contains(err.Error(), "update the mutant") {
			t.Errorf("mutate with %q occurring other than once: %v, want an error that says to update the mutant", original, err)
		}
	}
	m := mutant{id: "m", file: "x.go", original: "b", replacement: "z"}
	got, err := m.mutate(root)
	if err != nil || string(got) != "a\nz\na\n" {
		t.Errorf("mutate = %q, %v; want %q", got, err, "a\nz\na\n")
	}
}
