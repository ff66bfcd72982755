package docs_test

import (
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// publicPackages are the packages users import.
var publicPackages = []string{"../pkg/ssa", "../pkg/reconcile", "../pkg/ssatest", "../pkg/vet"}

// entryMethods are the methods, beyond every exported function, that a user calls to get work
// done; each needs an Example as the functions do.
var entryMethods = []string{
	"ssa.Finalizer.Add", "ssa.Finalizer.Remove", "ssa.Finalizer.IsOn", "ssa.Finalizer.IsOnLive", "ssa.Finalizer.Migrate", "ssa.Finalizer.PlanMigration",
	"ssa.Ownership.CheckNoOverlap", "ssa.Ownership.Overlaps", "ssa.Ownership.Owners", "ssa.Ownership.FieldsOf", "ssa.Entry.IsApplyOf",
	"ssa.Applier.Apply", "ssa.Applier.ApplyChild", "ssa.Applier.WouldChange",
	"reconcile.Step.Handle", "reconcile.StatusApplier.Apply",
}

// parsed is a package's documentation and the names of its Example functions.
type parsed struct {
	name     string
	doc      *doc.Package
	examples map[string]bool
}

func parse(t *testing.T, dir string) parsed {
	t.Helper()
	fset := token.NewFileSet()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var files, tests []*ast.File
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(e.Name(), "_test.go") {
			tests = append(tests, f)
		} else {
			files = append(files, f)
		}
	}
	p, err := doc.NewFromFiles(fset, files, "github.com/ssakit/ssakit/"+strings.TrimPrefix(dir, "../"))
	if err != nil {
		t.Fatal(err)
	}
	examples := map[string]bool{}
	for _, ex := range doc.Examples(tests...) {
		examples[ex.Name] = true
	}
	return parsed{name: p.Name, doc: p, examples: examples}
}

// `go doc -all ./pkg/...` shows no exported identifier without a doc comment.
func TestAPI_EveryExportedIdentifierIsDocumented(t *testing.T) {
	for _, dir := range publicPackages {
		p := parse(t, dir)
		if p.doc.Doc == "" {
			t.Errorf("package %s has no package comment", p.name)
		}
		undocumented := func(kind, name, text string) {
			if strings.TrimSpace(text) == "" {
				t.Errorf("%s %s.%s has no doc comment", kind, p.name, name)
			}
		}
		values := func(vs []*doc.Value) {
			for _, v := range vs {
				if v.Doc != "" {
					continue // a group's comment documents the group
				}
				for _, spec := range v.Decl.Specs {
					for _, n := range spec.(*ast.ValueSpec).Names {
						if n.IsExported() && spec.(*ast.ValueSpec).Doc.Text() == "" && spec.(*ast.ValueSpec).Comment.Text() == "" {
							undocumented("value", n.Name, "")
						}
					}
				}
			}
		}
		values(p.doc.Consts)
		values(p.doc.Vars)
		for _, f := range p.doc.Funcs {
			undocumented("func", f.Name, f.Doc)
		}
		for _, typ := range p.doc.Types {
			undocumented("type", typ.Name, typ.Doc)
			values(typ.Consts)
			values(typ.Vars)
			for _, f := range typ.Funcs {
				undocumented("func", f.Name, f.Doc)
			}
			for _, m := range typ.Methods {
				undocumented("method", typ.Name+"."+m.Name, m.Doc)
			}
		}
	}
}

// Every exported function, constructors included, and every method in entryMethods has an
// Example, which `go test` runs (and checks, where it has an Output comment).
func TestAPI_EveryEntryPointHasAnExample(t *testing.T) {
	var missing []string
	for _, dir := range publicPackages {
		p := parse(t, dir)
		// doc.Example names an Example function without its "Example" prefix.
		check := func(qualified, example string) {
			if !p.examples[example] {
				missing = append(missing, qualified+" (Example"+example+")")
			}
		}
		for _, f := range p.doc.Funcs {
			check(p.name+"."+f.Name, f.Name)
		}
		for _, typ := range p.doc.Types {
			for _, f := range typ.Funcs {
				check(p.name+"."+f.Name, f.Name)
			}
			for _, m := range typ.Methods {
				if slices.Contains(entryMethods, p.name+"."+typ.Name+"."+m.Name) {
					check(p.name+"."+typ.Name+"."+m.Name, typ.Name+"_"+m.Name)
				}
			}
		}
	}
	for _, m := range missing {
		t.Errorf("no Example for %s", m)
	}
}
