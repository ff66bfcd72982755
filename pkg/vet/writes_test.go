package vet

import (
	"go/ast"
	"testing"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/analysistest"
	"golang.org/x/tools/go/analysis/passes/inspect"
	"golang.org/x/tools/go/ast/inspector"
)

// writesAnalyzer reports each call writeOf recognizes as "<object|subresource> <method>", and
// for a Patch the kind patchOf tells and the patch's name.
var writesAnalyzer = &analysis.Analyzer{
	Name:     "writes",
	Doc:      "report the client writes writeOf recognizes, with their patches as patchOf tells them",
	Requires: []*analysis.Analyzer{inspect.Analyzer},
	Run: func(pass *analysis.Pass) (any, error) {
		insp := pass.ResultOf[inspect.Analyzer].(*inspector.Inspector)
		vals := valuesOf(pass, insp)
		kinds := map[patchKind]string{otherPatch: "other", mergePatch: "merge", lockedMergePatch: "locked merge", applyPatch: "apply"}
		for cur := range insp.Root().Preorder((*ast.CallExpr)(nil)) {
			w, ok := writeOf(pass.TypesInfo, cur.Node().(*ast.CallExpr))
			if !ok {
				continue
			}
			message := "object " + w.method
			if w.subresource {
				message = "subresource " + w.method
			}
			if w.patch != nil {
				kind, name := vals.patchOf(w.patch)
				message += " " + kinds[kind]
				if name != "" {
					message += " " + name
				}
			}
			pass.Reportf(w.call.Pos(), "%s", message)
		}
		return nil, nil
	},
}

func TestWriteOfRecognizesClientWritesBySignatureAndPatchOfFollowsPatchVariables(t *testing.T) {
	analysistest.Run(t, analysistest.TestData(), writesAnalyzer, "writes")
}
