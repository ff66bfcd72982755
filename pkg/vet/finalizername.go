package vet

import (
	"go/ast"
	"go/constant"
	"go/token"
	"go/types"
	"strings"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/passes/inspect"
	"golang.org/x/tools/go/ast/inspector"
	"golang.org/x/tools/go/types/typeutil"

	"github.com/ssakit/ssakit/pkg/ssa"
)

// FinalizerName reports constant finalizer names that ssa.CheckFinalizerName does not class as
// qualified: names the API server refuses, warns on for custom resources, or that belong to
// Kubernetes itself. Names given to controllerutil.RemoveFinalizer and ContainsFinalizer, which
// may already be on objects, are reported only when no object can hold them.
var FinalizerName = &analysis.Analyzer{
	Name: "finalizername",
	Doc: `report finalizer names the API server refuses or warns on

Each constant finalizer name is classified with ssa.CheckFinalizerName
(github.com/ssakit/ssakit/pkg/ssa), by the rules the API server applies:

  - invalid, not a qualified name: the API server refuses it on every kind;
  - reserved, kubernetes, orphan, foregroundDeletion: they belong to Kubernetes
    itself;
  - unqualified, no "/" path: built-in types refuse it, and custom resources
    get a warning each time it is added to one (since Kubernetes 1.29).

Checked are the names given to controllerutil.AddFinalizer and to
ssa.NewFinalizer, and the constant elements of Finalizers: []string{...} in a
metav1.ObjectMeta literal and of SetFinalizers. ssa.NewFinalizer with
ssa.FinalizerOptions{AllowUnqualifiedName: true} accepts an unqualified name,
and then only names it would still refuse are reported. The names given to
RemoveFinalizer and ContainsFinalizer are reported only when they are invalid:
any other name can be on an object, and removing an old name or looking for it
is the migration away from it (and Kubernetes' own may be removed or looked
for).`,
	URL:      "https://pkg.go.dev/github.com/ssakit/ssakit/pkg/vet#FinalizerName",
	Requires: []*analysis.Analyzer{inspect.Analyzer},
	Run:      runFinalizerName,
}

// nameUse is how a finalizer name is used where it is checked.
type nameUse struct {
	// kind is the object's type when it is a built-in one (k8s.io/api), which refuses names
	// without a path; empty when it may be a custom resource.
	kind string
	// existing is true for RemoveFinalizer and ContainsFinalizer, which deal with a name already
	// on objects: removing an old name, or looking for it, is the migration away from it, and
	// Kubernetes' own names may be looked for (a foreground deletion) or removed (orphaning on
	// purpose). Only an invalid name, which no object can hold, is reported.
	existing bool
}

func runFinalizerName(pass *analysis.Pass) (any, error) {
	pass = reporting(pass)
	insp := pass.ResultOf[inspect.Analyzer].(*inspector.Inspector)
	info := pass.TypesInfo
	for cur := range insp.Root().Preorder((*ast.CallExpr)(nil), (*ast.CompositeLit)(nil)) {
		switch n := cur.Node().(type) {
		case *ast.CallExpr:
			fn := typeutil.Callee(info, n)
			switch {
			case isFunc(fn, controllerutilPkg, "AddFinalizer"):
				checkFinalizerName(pass, n.Args[1], nameUse{kind: objectKind(info, n.Args[0])})
			case isFunc(fn, controllerutilPkg, "RemoveFinalizer"), isFunc(fn, controllerutilPkg, "ContainsFinalizer"):
				checkFinalizerName(pass, n.Args[1], nameUse{existing: true})
			case isFunc(fn, ssaPkg, "NewFinalizer"):
				checkNewFinalizer(pass, n)
			case isMethod(fn, metav1Pkg, "SetFinalizers"), isMethod(fn, unstructuredPkg, "SetFinalizers"):
				kind := ""
				if sel, ok := ast.Unparen(n.Fun).(*ast.SelectorExpr); ok {
					kind = objectKind(info, sel.X)
				}
				checkFinalizerList(pass, n.Args[0], nameUse{kind: kind})
			}
		case *ast.CompositeLit:
			if !isNamed(info.TypeOf(n), metav1Pkg, "ObjectMeta") {
				continue
			}
			for _, elt := range n.Elts {
				if kv, ok := elt.(*ast.KeyValueExpr); ok && isIdent(kv.Key, "Finalizers") {
					checkFinalizerList(pass, kv.Value, nameUse{kind: objectMetaKind(info, cur)})
				}
			}
		}
	}
	return nil, nil
}

// checkFinalizerList checks each element of a []string{...} literal.
func checkFinalizerList(pass *analysis.Pass, list ast.Expr, use nameUse) {
	lit, ok := ast.Unparen(list).(*ast.CompositeLit)
	if !ok {
		return
	}
	for _, elt := range lit.Elts {
		checkFinalizerName(pass, elt, use)
	}
}

// checkFinalizerName reports arg when it is a constant name that ssa.CheckFinalizerName does not
// class as qualified, as far as use cares.
func checkFinalizerName(pass *analysis.Pass, arg ast.Expr, use nameUse) {
	name, ok := constantString(pass.TypesInfo, arg)
	if !ok {
		return
	}
	check := ssa.CheckFinalizerName(name)
	switch check.Class {
	case ssa.NameQualified:
	case ssa.NameInvalid:
		// Only apimachinery's own messages are in the error: the advice is added.
		pass.Reportf(arg.Pos(), "%v; the API server refuses it on every kind: use a domain-qualified name such as example.com/cleanup", check.Err)
	case ssa.NameReserved:
		// Kubernetes' own names may be removed or looked for.
		if !use.existing {
			pass.Reportf(arg.Pos(), "%v", check.Err)
		}
	case ssa.NameUnqualified:
		switch {
		case use.existing:
			// A name objects can hold: it may be on them, put there before.
		case use.kind != "":
			pass.Reportf(arg.Pos(), "finalizer name %q has no path: the API server refuses it on %s, a built-in type; use a domain-qualified name such as example.com/cleanup",
				name, use.kind)
		default:
			pass.Reportf(arg.Pos(), "finalizer name %q has no path: custom resources get a warning each time it is added (%s) and built-in types refuse it; use a domain-qualified name such as example.com/cleanup, and ssa.FinalizerOptions.FormerNames to migrate live objects",
				name, check.Warning)
		}
	}
}

// checkNewFinalizer checks the name given to ssa.NewFinalizer, which returns the error
// ssa.CheckFinalizerName gives the name, lifted for an unqualified name by
// FinalizerOptions.AllowUnqualifiedName: the author's statement that the name is already on
// objects, which go vet has no other way to hear.
func checkNewFinalizer(pass *analysis.Pass, call *ast.CallExpr) {
	if len(call.Args) < 4 {
		return // ssa.NewFinalizer(f()): a call's results, which go vet cannot read
	}
	name, ok := constantString(pass.TypesInfo, call.Args[2])
	if !ok {
		return
	}
	check := ssa.CheckFinalizerName(name)
	if check.Err == nil {
		return
	}
	if check.Class == ssa.NameUnqualified {
		// Options that cannot be read may allow it: then only what fails anyway is reported.
		if allowed, known := unqualifiedAllowed(pass.TypesInfo, call.Args[3]); allowed || !known {
			return
		}
	}
	pass.Reportf(call.Args[2].Pos(), "ssa.NewFinalizer returns an error for this name: %v", check.Err)
}

// unqualifiedAllowed reads ssa.NewFinalizer's options, an ssa.FinalizerOptions: allowed is
// AllowUnqualifiedName's value; known is false when it cannot be read (a variable, a call, a
// field value that is not a constant).
func unqualifiedAllowed(info *types.Info, opts ast.Expr) (allowed, known bool) {
	lit, ok := ast.Unparen(opts).(*ast.CompositeLit)
	if !ok || !isNamed(info.TypeOf(lit), ssaPkg, "FinalizerOptions") {
		return false, false
	}
	var value ast.Expr
	for i, elt := range lit.Elts {
		if kv, ok := elt.(*ast.KeyValueExpr); ok {
			if isIdent(kv.Key, "AllowUnqualifiedName") {
				value = kv.Value
			}
			continue
		}
		// An unkeyed literal lists every field in order.
		if st, ok := info.TypeOf(lit).Underlying().(*types.Struct); ok && i < st.NumFields() && st.Field(i).Name() == "AllowUnqualifiedName" {
			value = elt
		}
	}
	if value == nil {
		return false, true
	}
	v := info.Types[value].Value
	if v == nil || v.Kind() != constant.Bool {
		return false, false
	}
	return constant.BoolVal(v), true
}

// objectMetaKind is builtinKind of the object whose ObjectMeta literal is at cur: the literal it
// is the ObjectMeta field of.
func objectMetaKind(info *types.Info, cur inspector.Cursor) string {
	kv, ok := cur.Parent().Node().(*ast.KeyValueExpr)
	if !ok {
		return ""
	}
	outer, ok := cur.Parent().Parent().Node().(*ast.CompositeLit)
	if !ok || kv.Value != cur.Node() {
		return ""
	}
	return builtinKind(info.TypeOf(outer))
}

// objectKind is builtinKind of the object expr denotes: for an ObjectMeta reached through its
// object (pod.ObjectMeta, &pod.ObjectMeta), the object's type.
func objectKind(info *types.Info, expr ast.Expr) string {
	for {
		expr = ast.Unparen(expr)
		if u, ok := expr.(*ast.UnaryExpr); ok && u.Op == token.AND {
			expr = ast.Unparen(u.X)
		}
		sel, ok := expr.(*ast.SelectorExpr)
		if !ok || !isNamed(namedOf(info.TypeOf(sel)), metav1Pkg, "ObjectMeta") {
			return builtinKind(info.TypeOf(expr))
		}
		if selection := info.Selections[sel]; selection == nil || selection.Kind() != types.FieldVal {
			return builtinKind(info.TypeOf(expr))
		}
		expr = sel.X
	}
}

// builtinKind returns the name of t's type, or of what it points to, when it is one of
// Kubernetes' built-in types (k8s.io/api), and "" otherwise: a custom resource, an interface, an
// Unstructured.
func builtinKind(t types.Type) string {
	named := namedOf(t)
	if named == nil || named.Obj().Pkg() == nil || !strings.HasPrefix(named.Obj().Pkg().Path(), "k8s.io/api/") {
		return ""
	}
	return named.Obj().Name()
}

// constantString returns the value of a constant string expression: a literal, a constant, or a
// constant expression.
func constantString(info *types.Info, expr ast.Expr) (string, bool) {
	value := info.Types[expr].Value
	if value == nil || value.Kind() != constant.String {
		return "", false
	}
	return constant.StringVal(value), true
}

func isIdent(expr ast.Expr, name string) bool {
	id, ok := expr.(*ast.Ident)
	return ok && id.Name == name
}
