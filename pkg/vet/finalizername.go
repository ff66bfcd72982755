package vet

import (
	"fmt"
	"go/ast"
	"go/constant"
	"go/token"
	"go/types"
	"strings"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/passes/inspect"
	"golang.org/x/tools/go/ast/inspector"
	"golang.org/x/tools/go/types/typeutil"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/ssakit/ssakit/pkg/ssa"
)

// FinalizerName reports constant finalizer names that ssa.ValidateFinalizerName refuses: names
// the API server refuses, warns on for custom resources, or that belong to Kubernetes itself.
// Names given to controllerutil.RemoveFinalizer and ContainsFinalizer, which may already be on
// objects, are reported only when no object can hold them.
var FinalizerName = &analysis.Analyzer{
	Name: "finalizername",
	Doc: `report finalizer names the API server refuses or warns on

Each constant finalizer name is checked with ssa.ValidateFinalizerName
(github.com/ssakit/ssakit/pkg/ssa), by the rules the API server applies:

  - not a qualified name: the API server refuses it on every kind;
  - kubernetes, orphan, foregroundDeletion: they belong to Kubernetes itself;
  - no "/" path: built-in types refuse it, and custom resources get a warning
    each time it is added to one (since Kubernetes 1.29).

Checked are the names given to controllerutil.AddFinalizer and to
ssa.NewFinalizer, and the constant elements of Finalizers: []string{...} in a
metav1.ObjectMeta literal and of SetFinalizers. ssa.NewFinalizer with
ssa.AllowLegacyName() accepts a name without a path, and then only names it
would still refuse are reported. The names given to RemoveFinalizer and
ContainsFinalizer are reported only when they are not qualified names: any
other name can be on an object, and removing an old name or looking for it is
the migration away from it (and Kubernetes' own may be removed or looked for).`,
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
	// purpose). Only a name that is not a qualified name, which no object can hold, is reported.
	existing bool
}

func runFinalizerName(pass *analysis.Pass) (any, error) {
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

// checkFinalizerName reports arg when it is a constant name ssa.ValidateFinalizerName refuses.
func checkFinalizerName(pass *analysis.Pass, arg ast.Expr, use nameUse) {
	name, ok := constantString(pass.TypesInfo, arg)
	if !ok {
		return
	}
	if _, err := ssa.ValidateFinalizerName(name, false); err == nil {
		return
	}
	warnings, err := ssa.ValidateFinalizerName(name, true)
	switch {
	case use.existing && len(validation.IsQualifiedName(name)) == 0:
		// A name objects can hold: it may be on them, put there before, or by Kubernetes.
	case err != nil:
		pass.Reportf(arg.Pos(), "%s", refusal(name, err))
	case use.kind != "":
		pass.Reportf(arg.Pos(), "finalizer name %q has no path: the API server refuses it on %s, a built-in type; use a domain-qualified name such as example.com/cleanup",
			name, use.kind)
	default:
		pass.Reportf(arg.Pos(), "finalizer name %q has no path: custom resources get a warning each time it is added (%s) and built-in types refuse it; use a domain-qualified name such as example.com/cleanup, and ssa.RenamedFrom to migrate live objects",
			name, strings.Join(warnings, "; "))
	}
}

// refusal words a name ssa.ValidateFinalizerName refuses even as a legacy name. Its error says
// what is wrong; only apimachinery's own messages for a name that is not a qualified name need
// the advice added.
func refusal(name string, err error) string {
	if len(validation.IsQualifiedName(name)) > 0 {
		return fmt.Sprintf("%v; the API server refuses it on every kind: use a domain-qualified name such as example.com/cleanup", err)
	}
	return err.Error()
}

// checkNewFinalizer checks the name given to ssa.NewFinalizer, which returns an error for every
// name ValidateFinalizerName refuses. ssa.AllowLegacyName() among the options makes a name
// without a path an accepted one: the author chose it, and go vet has no other way to say so.
func checkNewFinalizer(pass *analysis.Pass, call *ast.CallExpr) {
	name, ok := constantString(pass.TypesInfo, call.Args[2])
	if !ok {
		return
	}
	allowLegacy, known := legacyAllowed(pass.TypesInfo, call)
	// Options that cannot be read may allow a legacy name: then only what fails anyway is reported.
	_, err := ssa.ValidateFinalizerName(name, allowLegacy || !known)
	if err != nil {
		pass.Reportf(call.Args[2].Pos(), "ssa.NewFinalizer returns an error for this name: %v", err)
	}
}

// legacyAllowed reads ssa.NewFinalizer's options: allowed is true when one of them is
// ssa.AllowLegacyName() or &ssa.FinalizerOptions{AllowLegacyName: true}; known is false when an
// option cannot be read (a variable, another package's function, opts...).
func legacyAllowed(info *types.Info, call *ast.CallExpr) (allowed, known bool) {
	if call.Ellipsis.IsValid() {
		return false, false
	}
	for _, opt := range call.Args[3:] {
		switch o := ast.Unparen(opt).(type) {
		case *ast.CallExpr:
			fn := typeutil.StaticCallee(info, o)
			if fn == nil || !inPackage(fn, ssaPkg) {
				return false, false
			}
			allowed = allowed || fn.Name() == "AllowLegacyName"
		case *ast.UnaryExpr:
			lit, ok := ast.Unparen(o.X).(*ast.CompositeLit)
			if !ok || !isNamed(info.TypeOf(lit), ssaPkg, "FinalizerOptions") {
				return false, false
			}
			for _, elt := range lit.Elts {
				kv, ok := elt.(*ast.KeyValueExpr)
				if !ok || !isIdent(kv.Key, "AllowLegacyName") {
					continue
				}
				value := info.Types[kv.Value].Value
				if value == nil || value.Kind() != constant.Bool {
					return false, false
				}
				allowed = allowed || constant.BoolVal(value)
			}
		default:
			return false, false
		}
	}
	return allowed, true
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
