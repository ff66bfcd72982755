package vet

import (
	"strings"

	"golang.org/x/tools/go/analysis"
)

// tests holds each analyzer's tests flag: -<analyzer>.tests=false leaves out its findings in
// _test.go files, where fixtures (Finalizers: []string{"x"} for a fake client, an Update of a
// fake object) are not the controller's code. go vet has no other way to leave a file out.
var tests = map[*analysis.Analyzer]*bool{}

func init() {
	for _, a := range Analyzers {
		tests[a] = a.Flags.Bool("tests", true, "report in _test.go files too; -"+a.Name+".tests=false leaves them out")
	}
}

// reporting returns pass, or, when its analyzer's tests flag is false, a copy of it that drops
// the diagnostics of _test.go files.
func reporting(pass *analysis.Pass) *analysis.Pass {
	if flag, ok := tests[pass.Analyzer]; !ok || *flag {
		return pass
	}
	p := *pass
	p.Report = func(d analysis.Diagnostic) {
		if !strings.HasSuffix(pass.Fset.Position(d.Pos).Filename, "_test.go") {
			pass.Report(d)
		}
	}
	return &p
}
