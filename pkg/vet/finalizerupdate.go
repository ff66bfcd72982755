package vet

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"slices"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/passes/inspect"
	"golang.org/x/tools/go/ast/inspector"
	"golang.org/x/tools/go/cfg"
	"golang.org/x/tools/go/types/typeutil"
)

// FinalizerUpdate reports a finalizer change (controllerutil.AddFinalizer or RemoveFinalizer,
// SetFinalizers, an assignment to Finalizers, or a call of a function that changes its
// argument's finalizers for its caller to write) of an object that the same function then writes
// with Update (a client's, a client-go typed clientset's, or a wrapper's of that shape), or
// patches with client.MergeFrom, client.MergeFromWithOptions, client.Merge or
// client.RawPatch(types.MergePatchType, ...), deferred writes included; and on the object of a
// controllerutil.CreateOrUpdate or CreateOrPatch whose mutate function makes the change.
var FinalizerUpdate = &analysis.Analyzer{
	Name: "finalizerupdate",
	Doc: `report finalizers changed in memory and written with Update or a merge patch

controllerutil.AddFinalizer and RemoveFinalizer, SetFinalizers and assignments
to Finalizers (append, slices.DeleteFunc, []string{}) change the object in
memory; the write that follows decides what reaches the server. The server records what an
Update or a merge patch changed under an Update entry of its field manager: a
finalizer it added stays owned there, and a later apply, of ssa.Finalizer or any
other manager, cannot release it (ssa-semantics row 3). An Update carries the
resourceVersion it read, so a concurrent change makes it fail with a conflict
rather than lose anything; a merge patch does not (client.MergeFrom,
MergeFromWithOptions without MergeFromWithOptimisticLock, client.Merge,
client.RawPatch(types.MergePatchType, ...), controllerutil.CreateOrPatch): it
replaces the whole finalizer list, so a
finalizer another writer added or removed since the object was read is lost or
comes back. ssa.Finalizer (github.com/ssakit/ssakit/pkg/ssa) applies only its
own finalizer, with a field manager of its own, and
ssa.FinalizerOptions{TakeOverLegacy: true} or kubectl ssakit migrate moves
finalizers of live objects out of Update entries.

A constant name the package removes but never adds (with AddFinalizer, an
append to an object's finalizers, or declared with ssa.NewFinalizer) is
someone else's, such as a platform's
protection finalizer removed before a delete: ssa.Finalizer cannot release
it, and removing it records nothing, so only its removal with a merge patch
without an optimistic lock is reported, for the change it can lose.

Updates are a client's (controller-runtime's client.Client or a type with its
methods), a client-go typed clientset's Update(ctx, obj, opts), or any
method Update(ctx, obj[, opts]) returning an error whose obj has
GetFinalizers (a store wrapping a clientset). A function that changes a
parameter's finalizers and writes it nowhere gets a fact, across packages:
its calls count as the change, and the caller's write is reported there.

An object is followed by variable identity within the function that changes
it, closures included, to the writes that can run after the change (by the
function's control-flow graph), and to the writes it defers, which run at its
return; writes of the status or another subresource, Apply patches, JSON and
strategic merge patches are not reported.`,
	URL:       "https://pkg.go.dev/github.com/ssakit/ssakit/pkg/vet#FinalizerUpdate",
	Requires:  []*analysis.Analyzer{inspect.Analyzer},
	Run:       runFinalizerUpdate,
	FactTypes: []analysis.Fact{(*changesFinalizers)(nil)},
}

// ssaFinalizerAdvice ends every FinalizerUpdate message.
const ssaFinalizerAdvice = "use ssa.Finalizer (github.com/ssakit/ssakit/pkg/ssa), which applies only this finalizer, with a field manager of its own, " +
	"and migrate live objects with ssa.FinalizerOptions{TakeOverLegacy: true} or kubectl ssakit migrate"

// row3 cites the row of ssa-semantics.md that shows an Update entry keeping a finalizer, by a URL
// that opens outside a clone: GitHub anchors the table's section, not its rows.
const row3 = "ssa-semantics row 3, https://github.com/ssakit/ssakit/blob/main/docs/ssa-semantics.md#ownership-of-metadatafinalizers"

// Hazards, by write. The server records what an Update or a patch other than an apply changed
// (structured-merge-diff's Updater.Update) under an Update entry of its field manager: the
// finalizer it added stays owned there, and no apply can release it (ssa-semantics row 3). A
// merge patch without an optimistic lock also replaces the whole list from what was read.
const (
	updateHazard      = "records the finalizer under an Update field-manager entry, which an apply cannot release later (" + row3 + ")"
	mergePatchHazard  = "a merge patch replaces the whole finalizer list, so a finalizer another writer added or removed since the read is lost or comes back"
	lockedPatchHazard = "a merge patch " + updateHazard
)

func runFinalizerUpdate(pass *analysis.Pass) (any, error) {
	// The facts come first, and from every file: a test file's helper is a helper too.
	insp := pass.ResultOf[inspect.Analyzer].(*inspector.Inspector)
	vals := valuesOf(pass, insp)
	exportChangeFacts(pass, insp)
	pass = reporting(pass)
	added := addedNames(pass, insp)
	for cur := range insp.Root().Preorder((*ast.CallExpr)(nil), (*ast.AssignStmt)(nil)) {
		var body inspector.Cursor
		for c := range cur.Enclosing((*ast.FuncDecl)(nil), (*ast.FuncLit)(nil)) {
			body = c
			break
		}
		if !body.Valid() {
			continue
		}
		for _, c := range changesAt(pass, cur.Node()) {
			advice := ssaFinalizerAdvice
			if c.removed != "" && !added[c.removed] {
				c.subject = fmt.Sprintf("controllerutil.RemoveFinalizer of %q, which this package never adds, on %s", c.removed, c.target.Name())
				advice = foreignAdvice
			}
			if w, ok := laterWrite(pass.TypesInfo, vals, body, newFlow(body), c.node, c.target); ok {
				reportWrite(pass, c, w, vals, advice)
				continue
			}
			if helper, ok := mutatedBy(pass.TypesInfo, body, c.target); ok {
				reportMutate(pass, c.node, c.subject, helper, advice)
			}
		}
	}
	return nil, nil
}

// reportMutate reports call, in the mutate function of helper (controllerutil.CreateOrUpdate or
// CreateOrPatch).
func reportMutate(pass *analysis.Pass, call ast.Node, subject string, helper *ast.CallExpr, advice string) {
	hazard := "whose Update " + updateHazard
	if isFunc(typeutil.StaticCallee(pass.TypesInfo, helper), controllerutilPkg, "CreateOrPatch") {
		hazard = "whose merge patch replaces the whole finalizer list, so a finalizer another writer added or removed since the read is lost or comes back"
	} else if advice == foreignAdvice {
		// Removing a name records nothing, and an Update fails on a concurrent change.
		return
	}
	pass.Report(analysis.Diagnostic{
		Pos: call.Pos(), End: call.End(),
		Message: fmt.Sprintf("%s, written by %s (line %d), %s; %s",
			subject, types.ExprString(helper.Fun), line(pass, helper), hazard, advice),
	})
}

// foreignAdvice ends the message about a finalizer the package removes but never adds (a
// platform's protection finalizer, removed before a delete): ssa.Finalizer can only release what
// its own apply added, so it cannot help; only the lost update can be fixed.
const foreignAdvice = "remove it with Update, or a merge patch with client.MergeFromWithOptimisticLock, which fail with a conflict instead"

// isAppendToFinalizers reports whether call is append(obj.GetFinalizers(), ...) or
// append(obj.Finalizers, ...).
func isAppendToFinalizers(info *types.Info, call *ast.CallExpr) bool {
	if b, ok := typeutil.Callee(info, call).(*types.Builtin); !ok || b.Name() != "append" || len(call.Args) < 2 {
		return false
	}
	switch list := ast.Unparen(call.Args[0]).(type) {
	case *ast.SelectorExpr:
		return isFinalizersField(info, list)
	case *ast.CallExpr:
		fn, _ := typeutil.Callee(info, list).(*types.Func)
		return isMethod(fn, metav1Pkg, "GetFinalizers") || isMethod(fn, unstructuredPkg, "GetFinalizers")
	}
	return false
}

// addedNames returns the constant finalizer names the package adds: with
// controllerutil.AddFinalizer, appended to an object's finalizers, or declared with
// ssa.NewFinalizer. A name it only removes is
// someone else's.
func addedNames(pass *analysis.Pass, insp *inspector.Inspector) map[string]bool {
	added := map[string]bool{}
	for cur := range insp.Root().Preorder((*ast.CallExpr)(nil)) {
		call := cur.Node().(*ast.CallExpr)
		fn := typeutil.StaticCallee(pass.TypesInfo, call)
		var args []ast.Expr
		switch {
		case isFunc(fn, controllerutilPkg, "AddFinalizer") && len(call.Args) == 2:
			args = call.Args[1:]
		case isFunc(fn, ssaPkg, "NewFinalizer") && len(call.Args) >= 3:
			args = call.Args[2:3]
		case isAppendToFinalizers(pass.TypesInfo, call):
			args = call.Args[1:]
		}
		for _, arg := range args {
			if name, ok := constantString(pass.TypesInfo, arg); ok {
				added[name] = true
			}
		}
	}
	return added
}

// laterWrite finds the first write of target that can run after call in the function at body,
// closures included (retry.RetryOnConflict(..., func() error { return r.Update(ctx, obj) })):
// an Update of the object, or a merge patch of it. A write deferred by the function itself
// (defer r.Update(ctx, obj), or in a deferred function literal) runs when the function returns,
// so after call whenever call and the defer statement are on one path, in either order.
func laterWrite(info *types.Info, vals *values, body inspector.Cursor, flow *flow, call ast.Node, target *types.Var) (write, bool) {
	for cur := range body.Preorder((*ast.CallExpr)(nil)) {
		n := cur.Node()
		deferred := deferredBy(cur, body)
		switch {
		case deferred != nil:
			if !flow.after(call, deferred) && !flow.after(deferred, call) {
				continue
			}
		case n.Pos() < call.End() || !flow.after(call, n):
			continue
		}
		w, ok := writeOf(info, n.(*ast.CallExpr))
		if !ok || w.subresource || !vals.writesTo(w, target) {
			continue
		}
		w.deferred = deferred != nil
		if w.method == "Update" {
			return w, true
		}
		if kind, _ := vals.patchOf(w.patch); kind == mergePatch || kind == lockedMergePatch {
			return w, true
		}
	}
	return write{}, false
}

// deferredBy returns the defer statement of the function at body that defers the call at cur,
// itself or inside a deferred function literal; nil when there is none. A defer in a closure
// runs when the closure returns, which the graph already places where the closure is written.
func deferredBy(cur, body inspector.Cursor) *ast.DeferStmt {
	var deferred *ast.DeferStmt
	for c := range cur.Enclosing() {
		if c == body {
			return deferred
		}
		switch n := c.Node().(type) {
		case *ast.DeferStmt:
			deferred = n
		case *ast.FuncLit:
			deferred = nil
		}
	}
	return nil
}

// reportWrite reports the change c, written by w.
func reportWrite(pass *analysis.Pass, c change, w write, vals *values, advice string) {
	how := types.ExprString(w.call.Fun)
	hazard := "Update " + updateHazard
	kind := otherPatch
	if w.method == "Patch" {
		var patch string
		kind, patch = vals.patchOf(w.patch)
		how += " and " + patch
		hazard = mergePatchHazard
		if kind == lockedMergePatch {
			hazard = lockedPatchHazard
		}
	}
	if advice == foreignAdvice && kind != mergePatch {
		// Removing a name records nothing; an Update or a locked patch fails on a concurrent change.
		return
	}
	if c.clears && kind != mergePatch {
		// An emptied list leaves no finalizer for the entry to own; what it loses is the cleanup.
		hazard, advice = clearHazard, clearAdvice
	}
	where := fmt.Sprintf("line %d", line(pass, w.call))
	if w.deferred {
		where += ", deferred"
	}
	pass.Report(analysis.Diagnostic{
		Pos: c.node.Pos(), End: c.node.End(),
		Message: fmt.Sprintf("%s, written with %s (%s): %s; %s", c.subject, how, where, hazard, advice),
	})
}

// clearHazard and clearAdvice are the message of a change that empties the finalizer list and is
// written with an Update or a locked merge patch (kubectl-flyte's delete --force: SetFinalizers
// of an empty list, then a clientset's Update). The write leaves no finalizer to own, so the
// ownership hazard does not apply; and it carries the resourceVersion it read, so nothing added
// since is lost (row 20). What it does is remove the other controllers' finalizers before they
// ran their cleanup.
const (
	clearHazard = "the controllers whose finalizers it removes never run their cleanup"
	clearAdvice = "remove only this controller's own finalizer, with ssa.Finalizer (github.com/ssakit/ssakit/pkg/ssa), which applies only its own"
)

// mutatedBy returns the controllerutil.CreateOrUpdate or CreateOrPatch call whose mutate
// function is the function literal at body and whose object is target: that helper writes what
// the mutate function changed.
func mutatedBy(info *types.Info, body inspector.Cursor, target *types.Var) (*ast.CallExpr, bool) {
	lit, ok := body.Node().(*ast.FuncLit)
	if !ok {
		return nil, false
	}
	helper, ok := body.Parent().Node().(*ast.CallExpr)
	if !ok || len(helper.Args) != 4 || ast.Unparen(helper.Args[3]) != lit || rootVar(info, helper.Args[2]) != target {
		return nil, false
	}
	fn := typeutil.StaticCallee(info, helper)
	if !isFunc(fn, controllerutilPkg, "CreateOrUpdate") && !isFunc(fn, controllerutilPkg, "CreateOrPatch") {
		return nil, false
	}
	return helper, true
}

// line is the line of n, for messages that point from one call to another in the same function.
func line(pass *analysis.Pass, n ast.Node) int {
	return pass.Fset.Position(n.Pos()).Line
}

// flow is the control-flow graph of a function (go/cfg), to tell whether a write can run after
// a finalizer change: not when the change is in a branch that returns first.
type flow struct {
	graph *cfg.CFG
}

// newFlow builds the graph of the function at body, taking every call to return: a panic or
// log.Fatal after a finalizer change only makes a finding less likely to matter.
func newFlow(body inspector.Cursor) *flow {
	var block *ast.BlockStmt
	switch fn := body.Node().(type) {
	case *ast.FuncDecl:
		block = fn.Body
	case *ast.FuncLit:
		block = fn.Body
	}
	if block == nil {
		return &flow{}
	}
	return &flow{graph: cfg.New(block, func(*ast.CallExpr) bool { return true })}
}

// at returns the block and the index in it of the smallest graph node that holds n: a
// statement, or a condition; a closure is where it is written.
func (f *flow) at(n ast.Node) (*cfg.Block, int) {
	var (
		block *cfg.Block
		index int
		span  token.Pos
	)
	for _, b := range f.graph.Blocks {
		for i, node := range b.Nodes {
			if node.Pos() <= n.Pos() && n.End() <= node.End() && (block == nil || node.End()-node.Pos() < span) {
				block, index, span = b, i, node.End()-node.Pos()
			}
		}
	}
	return block, index
}

// after reports whether to can run after from: later in from's block, or in a block reachable
// from it. Where the graph cannot tell, it says yes: the finding then rests on source order.
func (f *flow) after(from, to ast.Node) bool {
	if f.graph == nil {
		return true
	}
	fromBlock, fromIndex := f.at(from)
	toBlock, toIndex := f.at(to)
	if fromBlock == nil || toBlock == nil || (fromBlock == toBlock && toIndex >= fromIndex) {
		return true
	}
	seen := map[*cfg.Block]bool{}
	queue := slices.Clone(fromBlock.Succs)
	for len(queue) > 0 {
		b := queue[0]
		queue = queue[1:]
		if b == toBlock {
			return true
		}
		if !seen[b] {
			seen[b] = true
			queue = append(queue, b.Succs...)
		}
	}
	return false
}
