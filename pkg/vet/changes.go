package vet

import (
	"fmt"
	"go/ast"
	"go/types"
	"slices"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/ast/inspector"
	"golang.org/x/tools/go/types/typeutil"
)

// change is a finalizer change of an object held in a variable: controllerutil.AddFinalizer or
// RemoveFinalizer, SetFinalizers, an assignment to the Finalizers field, or a call of a function
// whose changesFinalizers fact says it changes its argument's finalizers.
type change struct {
	// node is the call or assignment, where a finding is reported.
	node   ast.Node
	target *types.Var
	// subject names the change in messages.
	subject string
	// removed is the constant name given to controllerutil.RemoveFinalizer; empty otherwise.
	removed string
	// clears is true when the change empties the list (SetFinalizers([]string{}), Finalizers =
	// nil): it removes every controller's finalizer, not only its own.
	clears bool
}

// changesFinalizers is the fact of a function that changes the finalizers of some of its
// parameters' objects, for its callers to write: Numaflow's reconcile(ctx, objCopy), whose caller
// patches the copy.
type changesFinalizers struct {
	// Params are the indices of those parameters, in order.
	Params []int
	// Results are the indices of the results that return an object whose finalizers the
	// function changed and did not write (flytepropeller's TryMutateWorkflow returns the mutated
	// copy its caller writes), in order.
	Results []int
}

// AFact marks changesFinalizers as a go/analysis fact.
func (*changesFinalizers) AFact() {}

func (f *changesFinalizers) String() string {
	if len(f.Results) > 0 {
		return fmt.Sprintf("changesFinalizers%v returns%v", f.Params, f.Results)
	}
	return fmt.Sprintf("changesFinalizers%v", f.Params)
}

// changesAt returns the finalizer changes n makes: a call or an assignment.
func changesAt(pass *analysis.Pass, n ast.Node) []change {
	info := pass.TypesInfo
	switch n := n.(type) {
	case *ast.CallExpr:
		return callChanges(pass, n)
	case *ast.AssignStmt:
		return append(assignChanges(info, n), returnedChanges(pass, n)...)
	}
	return nil
}

// assignChanges returns the changes of assignments to an object's Finalizers field.
func assignChanges(info *types.Info, n *ast.AssignStmt) []change {
	var changes []change
	for i, lhs := range n.Lhs {
		sel, ok := ast.Unparen(lhs).(*ast.SelectorExpr)
		if !ok || !isFinalizersField(info, sel) {
			continue
		}
		target := metaOwner(info, sel.X)
		if target == nil {
			continue
		}
		subject := "assignment to " + types.ExprString(sel)
		clears := len(n.Rhs) == len(n.Lhs) && clearsAll(info, n.Rhs[i])
		if clears {
			subject += " (which removes every finalizer, other controllers' too)"
		}
		changes = append(changes, change{node: n, target: target, subject: subject, clears: clears})
	}
	return changes
}

// returnedChanges returns the changes of x, err := f(...) where f's fact says it returns an
// object with changed finalizers: x holds them from there on.
func returnedChanges(pass *analysis.Pass, n *ast.AssignStmt) []change {
	if len(n.Rhs) != 1 {
		return nil
	}
	call, ok := ast.Unparen(n.Rhs[0]).(*ast.CallExpr)
	if !ok {
		return nil
	}
	fn, _ := typeutil.Callee(pass.TypesInfo, call).(*types.Func)
	var fact changesFinalizers
	if fn == nil || !pass.ImportObjectFact(fn.Origin(), &fact) {
		return nil
	}
	var changes []change
	for _, i := range fact.Results {
		if i >= len(n.Lhs) {
			continue
		}
		if target := rootVar(pass.TypesInfo, n.Lhs[i]); target != nil {
			changes = append(changes, change{node: n, target: target,
				subject: fmt.Sprintf("%s returns %s with changed finalizers", types.ExprString(call.Fun), target.Name())})
		}
	}
	return changes
}

func callChanges(pass *analysis.Pass, call *ast.CallExpr) []change {
	info := pass.TypesInfo
	fn, _ := typeutil.Callee(info, call).(*types.Func)
	if fn == nil {
		return nil
	}
	switch {
	case isFunc(fn, controllerutilPkg, "AddFinalizer"), isFunc(fn, controllerutilPkg, "RemoveFinalizer"):
		target := rootVar(info, call.Args[0])
		if target == nil {
			return nil
		}
		c := change{node: call, target: target, subject: fmt.Sprintf("controllerutil.%s on %s", fn.Name(), target.Name())}
		if name, ok := constantString(info, call.Args[1]); ok && fn.Name() == "RemoveFinalizer" {
			c.removed = name
		}
		return []change{c}
	case isMethod(fn, metav1Pkg, "SetFinalizers"), isMethod(fn, unstructuredPkg, "SetFinalizers"):
		sel, ok := ast.Unparen(call.Fun).(*ast.SelectorExpr)
		if !ok {
			return nil
		}
		target := metaOwner(info, sel.X)
		if target == nil || len(call.Args) != 1 {
			return nil
		}
		subject := fmt.Sprintf("%s on %s", types.ExprString(call.Fun), target.Name())
		clears := clearsAll(info, call.Args[0])
		if clears {
			subject = fmt.Sprintf("%s(%s) on %s (which removes every finalizer, other controllers' too)", types.ExprString(call.Fun), types.ExprString(call.Args[0]), target.Name())
		}
		return []change{{node: call, target: target, subject: subject, clears: clears}}
	}
	var fact changesFinalizers
	if !pass.ImportObjectFact(fn.Origin(), &fact) {
		return nil
	}
	var changes []change
	for _, i := range fact.Params {
		if i >= len(call.Args) {
			continue
		}
		if target := rootVar(info, call.Args[i]); target != nil {
			changes = append(changes, change{node: call, target: target,
				subject: fmt.Sprintf("%s changes the finalizers of %s", types.ExprString(call.Fun), target.Name())})
		}
	}
	return changes
}

// isFinalizersField reports whether sel selects metav1.ObjectMeta's Finalizers field, directly
// or promoted through an embedded ObjectMeta.
func isFinalizersField(info *types.Info, sel *ast.SelectorExpr) bool {
	v, ok := info.ObjectOf(sel.Sel).(*types.Var)
	return ok && v.IsField() && v.Name() == "Finalizers" && inPackage(v, metav1Pkg)
}

// metaOwner returns the variable whose metadata expr is: obj, &obj, or obj.ObjectMeta.
func metaOwner(info *types.Info, expr ast.Expr) *types.Var {
	if sel, ok := ast.Unparen(expr).(*ast.SelectorExpr); ok && isNamed(deref(info.TypeOf(sel)), metav1Pkg, "ObjectMeta") {
		expr = sel.X
	}
	return rootVar(info, expr)
}

// exportChangeFacts exports a changesFinalizers fact for each function of the package that
// changes a parameter's finalizers, itself or through functions with the fact, until no fact
// changes: a helper of a helper is found whatever the order of their declarations.
func exportChangeFacts(pass *analysis.Pass, insp *inspector.Inspector) {
	for range maxHops {
		changed := false
		for cur := range insp.Root().Preorder((*ast.FuncDecl)(nil)) {
			decl := cur.Node().(*ast.FuncDecl)
			fn, ok := pass.TypesInfo.Defs[decl.Name].(*types.Func)
			if !ok || decl.Body == nil {
				continue
			}
			fact := changedVars(pass, cur, fn.Signature())
			var old changesFinalizers
			pass.ImportObjectFact(fn, &old)
			if (len(fact.Params) > 0 || len(fact.Results) > 0) &&
				(!slices.Equal(fact.Params, old.Params) || !slices.Equal(fact.Results, old.Results)) {
				pass.ExportObjectFact(fn, fact)
				changed = true
			}
		}
		if !changed {
			return
		}
	}
}

// changedVars returns the fact of the function at decl: the parameters whose finalizers it
// changes, closures included, and the results it returns them in, that it leaves for its caller
// to write.
func changedVars(pass *analysis.Pass, decl inspector.Cursor, sig *types.Signature) *changesFinalizers {
	fact := &changesFinalizers{}
	for cur := range decl.Preorder((*ast.CallExpr)(nil), (*ast.AssignStmt)(nil)) {
		for _, c := range changesAt(pass, cur.Node()) {
			if writes(pass.TypesInfo, decl, c.target) {
				continue
			}
			for i := range sig.Params().Len() {
				if sig.Params().At(i) == c.target && !slices.Contains(fact.Params, i) {
					fact.Params = append(fact.Params, i)
				}
			}
			for _, i := range returnedAt(pass.TypesInfo, decl, c.target) {
				if !slices.Contains(fact.Results, i) {
					fact.Results = append(fact.Results, i)
				}
			}
		}
	}
	slices.Sort(fact.Params)
	slices.Sort(fact.Results)
	return fact
}

// returnedAt returns the indices of the results in which the function at decl returns target,
// in its own return statements (not its closures').
func returnedAt(info *types.Info, decl inspector.Cursor, target *types.Var) []int {
	var at []int
	for cur := range decl.Preorder((*ast.ReturnStmt)(nil)) {
		if enclosingFunc(cur) != decl {
			continue
		}
		for i, r := range cur.Node().(*ast.ReturnStmt).Results {
			if rootVar(info, r) == target && !slices.Contains(at, i) {
				at = append(at, i)
			}
		}
	}
	return at
}

// writes reports whether the function at decl writes target anywhere, by any write of the
// object writeOf knows, reported or not (a JSON patch, a deferred Update), or with
// controllerutil.CreateOrUpdate or CreateOrPatch: the function then writes what it changes
// itself, and is checked there, not at its callers. A status write takes no finalizer, and
// leaves them to the caller (Numaflow's reconcile functions update the status themselves).
func writes(info *types.Info, decl inspector.Cursor, target *types.Var) bool {
	for cur := range decl.Preorder((*ast.CallExpr)(nil)) {
		call := cur.Node().(*ast.CallExpr)
		if w, ok := writeOf(info, call); ok && !w.subresource && rootVar(info, w.obj) == target {
			return true
		}
		fn := typeutil.StaticCallee(info, call)
		if (isFunc(fn, controllerutilPkg, "CreateOrUpdate") || isFunc(fn, controllerutilPkg, "CreateOrPatch")) &&
			len(call.Args) == 4 && rootVar(info, call.Args[2]) == target {
			return true
		}
	}
	return false
}

// clearsAll reports whether expr is an empty finalizer list: nil or []string{}.
func clearsAll(info *types.Info, expr ast.Expr) bool {
	switch e := ast.Unparen(expr).(type) {
	case *ast.CompositeLit:
		return len(e.Elts) == 0
	case *ast.Ident:
		return info.Types[e].IsNil()
	}
	return false
}

// writesTo reports whether w writes target's finalizers: w's object is target or a deep copy of
// it (r.Update(ctx, objCopy.DeepCopy())), or w is a RawPatch whose data carries target's
// finalizers (Numaflow patches the object it read with a merge patch of its copy's
// finalizers: RawPatch(types.MergePatchType, data), data marshalled from a map holding
// objCopy.Finalizers).
func (v *values) writesTo(w write, target *types.Var) bool {
	if rootVar(v.info, w.obj) == target || deepCopied(v.info, w.obj) == target {
		return true
	}
	if w.patch == nil {
		return false
	}
	call, ok := ast.Unparen(w.patch).(*ast.CallExpr)
	if !ok || !isFunc(typeutil.StaticCallee(v.info, call), clientPkg, "RawPatch") || len(call.Args) != 2 {
		return false
	}
	return v.carriesFinalizers(call.Args[1], target, 0)
}

// deepCopied returns the variable expr deep-copies: x.DeepCopy(), x.DeepCopyObject(), or either
// asserted to a type; nil for anything else.
func deepCopied(info *types.Info, expr ast.Expr) *types.Var {
	expr = ast.Unparen(expr)
	if assert, ok := expr.(*ast.TypeAssertExpr); ok {
		expr = ast.Unparen(assert.X)
	}
	call, ok := expr.(*ast.CallExpr)
	if !ok || len(call.Args) != 0 {
		return nil
	}
	sel, ok := ast.Unparen(call.Fun).(*ast.SelectorExpr)
	if !ok || (sel.Sel.Name != "DeepCopy" && sel.Sel.Name != "DeepCopyObject") {
		return nil
	}
	return rootVar(info, sel.X)
}

// carriesFinalizers reports whether expr holds target.Finalizers or target.GetFinalizers(),
// following variables assigned once (data, _ := json.Marshal(patch); patch := map[string]any{...}).
func (v *values) carriesFinalizers(expr ast.Expr, target *types.Var, hops int) bool {
	found := false
	ast.Inspect(expr, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.SelectorExpr:
			if (n.Sel.Name == "Finalizers" || n.Sel.Name == "GetFinalizers") && metaOwner(v.info, n.X) == target {
				found = true
			}
		case *ast.Ident:
			if def, ok := v.only(v.info.Uses[n]); ok && hops < maxHops && v.carriesFinalizers(def.expr, target, hops+1) {
				found = true
			}
		}
		return !found
	})
	return found
}

// enclosingFunc returns the innermost function declaration or literal around cur.
func enclosingFunc(cur inspector.Cursor) inspector.Cursor {
	for c := range cur.Enclosing((*ast.FuncDecl)(nil), (*ast.FuncLit)(nil)) {
		return c
	}
	return inspector.Cursor{}
}
