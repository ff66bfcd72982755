package reconcile

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"strconv"
	"strings"
	"testing"
)

// The package doc holds the one table of every event reason and metric label value: each constant
// that names one must appear in it.
func TestPackageDoc_ListsEveryReasonMetricAndLabelValue(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var missing []string
	for _, file := range []string{"step.go", "metrics.go"} {
		f, err := parser.ParseFile(fset, file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			gen, ok := decl.(*ast.GenDecl)
			if !ok || gen.Tok != token.CONST {
				continue
			}
			for _, spec := range gen.Specs {
				for i, name := range spec.(*ast.ValueSpec).Names {
					if !strings.HasPrefix(name.Name, "Reason") && !strings.HasPrefix(name.Name, "result") && !strings.HasSuffix(name.Name, "Metric") {
						continue
					}
					lit, ok := spec.(*ast.ValueSpec).Values[i].(*ast.BasicLit)
					if !ok {
						continue
					}
					value, _ := strconv.Unquote(lit.Value)
					if !strings.Contains(string(doc), value) {
						missing = append(missing, name.Name+" = "+lit.Value)
					}
				}
			}
		}
	}
	for _, label := range []string{"operation: add, remove", "target: finalizer, status"} { // label values set inline
		if !strings.Contains(string(doc), label) {
			missing = append(missing, label)
		}
	}
	if len(missing) > 0 {
		t.Errorf("not in the package doc's tables: %s", strings.Join(missing, ", "))
	}
}
