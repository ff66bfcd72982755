package vet_test

import (
	"testing"

	. "github.com/onsi/gomega"
	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/analysistest"

	"github.com/ssakit/ssakit/pkg/vet"
)

func TestAnalyzersAreValid(t *testing.T) {
	g := NewWithT(t)
	g.Expect(analysis.Validate(vet.Analyzers)).To(Succeed())
	for _, a := range vet.Analyzers {
		g.Expect(a.URL).To(HavePrefix("https://pkg.go.dev/github.com/ssakit/ssakit/pkg/vet#"), a.Name)
	}
}

// all runs every analyzer of vet.Analyzers in one pass, so that analysistest checks a package
// whose want comments more than one of them answers.
var all = &analysis.Analyzer{
	Name:     "ssakitvet",
	Doc:      "run all of ssakit-vet's analyzers",
	Requires: requires(vet.Analyzers),
	// Facts of one analyzer are exported and imported under the analyzer that runs them.
	FactTypes: factTypes(vet.Analyzers),
	Run: func(pass *analysis.Pass) (any, error) {
		for _, a := range vet.Analyzers {
			p := *pass
			p.Analyzer = a
			if _, err := a.Run(&p); err != nil {
				return nil, err
			}
		}
		return nil, nil
	},
}

func factTypes(analyzers []*analysis.Analyzer) []analysis.Fact {
	var union []analysis.Fact
	for _, a := range analyzers {
		union = append(union, a.FactTypes...)
	}
	return union
}

func requires(analyzers []*analysis.Analyzer) []*analysis.Analyzer {
	var union []*analysis.Analyzer
	seen := map[*analysis.Analyzer]bool{}
	for _, a := range analyzers {
		for _, r := range a.Requires {
			if !seen[r] {
				seen[r] = true
				union = append(union, r)
			}
		}
	}
	return union
}

// The controller kubebuilder's book teaches: two FinalizerUpdate findings (AddFinalizer and
// RemoveFinalizer, each written with r.Update) and one FinalizerName finding (its dotted name
// without a path, where AddFinalizer adds it; ContainsFinalizer and RemoveFinalizer deal with a
// name already on objects). Its status update is not reported.
func TestAnalyzersOnKubebuilderController(t *testing.T) {
	analysistest.Run(t, analysistest.TestData(), all, "kubebuilder")
}

// With -<analyzer>.tests=false, each analyzer leaves out its findings in _test.go files (a
// fixture's name without a path, an Update and an apply of a fake object) and keeps the others.
func TestTestsFlagLeavesOutTestFiles(t *testing.T) {
	for _, a := range vet.Analyzers {
		setFlag(t, a, "tests", "false")
	}
	analysistest.Run(t, analysistest.TestData(), all, "testfiles")
}

// setFlag sets a's flag for the test, and back to its default after it.
func setFlag(t *testing.T, a *analysis.Analyzer, name, value string) {
	t.Helper()
	g := NewWithT(t)
	g.Expect(a.Flags.Set(name, value)).To(Succeed())
	t.Cleanup(func() {
		g.Expect(a.Flags.Set(name, a.Flags.Lookup(name).DefValue)).To(Succeed())
	})
}
