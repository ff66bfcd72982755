package vet

import (
	"go/ast"
	"go/token"
	"go/types"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/ast/inspector"
	"golang.org/x/tools/go/types/typeutil"
)

// Import paths of the APIs the analyzers recognize. Calls are recognized by these paths and the
// types in signatures, never by the names a file gives its variables or imports.
const (
	clientPkg         = "sigs.k8s.io/controller-runtime/pkg/client"
	controllerutilPkg = "sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	metav1Pkg         = "k8s.io/apimachinery/pkg/apis/meta/v1"
	unstructuredPkg   = "k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	runtimePkg        = "k8s.io/apimachinery/pkg/runtime"
	ssaPkg            = "github.com/ssakit/ssakit/pkg/ssa"
	reconcilePkg      = "github.com/ssakit/ssakit/pkg/reconcile"
)

// write is a call of a controller-runtime client's Update or Patch.
type write struct {
	call *ast.CallExpr
	// method is "Update" or "Patch".
	method string
	// subresource is true for a SubResourceWriter's write (Status(), SubResource(name)): the
	// server takes only the subresource from it, never metadata.finalizers.
	subresource bool
	obj         ast.Expr
	// patch is the Patch argument; nil for an Update.
	patch ast.Expr
	// deferred is true for a write a defer statement runs at the function's return; writeOf
	// leaves it false, for the caller to tell.
	deferred bool
}

// writeOf recognizes call as a client's Update or Patch by the method's signature: (ctx,
// client.Object[, client.Patch], ...option). That covers client.Client, client.Writer and
// SubResourceWriter, a client in a struct field or embedded in the reconciler, and any type that
// implements them (a wrapper, the fake client); the option type tells the object's writes from
// the subresource's.
func writeOf(info *types.Info, call *ast.CallExpr) (write, bool) {
	fn, ok := typeutil.Callee(info, call).(*types.Func)
	if !ok {
		return write{}, false
	}
	if !isWriteSignature(fn.Signature(), len(call.Args)) {
		return typedUpdateOf(info, call)
	}
	params := fn.Signature().Params()
	options := params.At(params.Len() - 1).Type().(*types.Slice).Elem()
	switch fn.Name() {
	case "Update":
		if subresource, ok := updateTarget(params, options); ok {
			return write{call: call, method: "Update", subresource: subresource, obj: call.Args[1]}, true
		}
	case "Patch":
		if subresource, ok := patchTarget(params, options); ok {
			return write{call: call, method: "Patch", subresource: subresource, obj: call.Args[1], patch: call.Args[2]}, true
		}
	}
	return write{}, false
}

// mergePatchType is the content type of a JSON merge patch, types.MergePatchType.
const mergePatchType = "application/merge-patch+json"

// typedUpdateOf recognizes call as an Update of a client-go typed clientset, or of a wrapper
// with its shape: a method Update(ctx, obj[, options]) returning the object or nothing, and an
// error, whose obj has GetFinalizers (flytepropeller's store, Update(ctx, obj) (obj, error));
// UpdateStatus is its status subresource's.
func typedUpdateOf(info *types.Info, call *ast.CallExpr) (write, bool) {
	fn, ok := typeutil.Callee(info, call).(*types.Func)
	if !ok || (fn.Name() != "Update" && fn.Name() != "UpdateStatus") {
		return write{}, false
	}
	sig := fn.Signature()
	params, results := sig.Params(), sig.Results()
	if sig.Recv() == nil || sig.Variadic() || params.Len() < 2 || params.Len() > 3 || len(call.Args) != params.Len() ||
		results.Len() == 0 || results.Len() > 2 || !types.Identical(results.At(results.Len()-1).Type(), types.Universe.Lookup("error").Type()) ||
		!isNamed(params.At(0).Type(), "context", "Context") || !hasFinalizers(params.At(1).Type()) {
		return write{}, false
	}
	return write{call: call, method: "Update", subresource: fn.Name() == "UpdateStatus", obj: call.Args[1]}, true
}

// hasFinalizers reports whether t has a GetFinalizers method: an object with metadata.
func hasFinalizers(t types.Type) bool {
	sel := types.NewMethodSet(t).Lookup(nil, "GetFinalizers")
	return sel != nil
}

// isWriteSignature tells whether sig is a method's (ctx, client.Object, ..., ...option), and
// a call with nargs arguments passes each parameter before the options.
func isWriteSignature(sig *types.Signature, nargs int) bool {
	params := sig.Params()
	return sig.Recv() != nil && sig.Variadic() && params.Len() >= 3 && nargs >= params.Len()-1 &&
		isNamed(params.At(1).Type(), clientPkg, "Object")
}

// updateTarget tells, by the option type, whether an Update(ctx, obj, ...options) writes a
// subresource; ok is false for any other Update.
func updateTarget(params *types.Tuple, options types.Type) (subresource, ok bool) {
	if params.Len() != 3 {
		return false, false
	}
	switch {
	case isNamed(options, clientPkg, "UpdateOption"):
		return false, true
	case isNamed(options, clientPkg, "SubResourceUpdateOption"):
		return true, true
	}
	return false, false
}

// patchTarget tells, by the option type, whether a Patch(ctx, obj, client.Patch, ...options)
// writes a subresource; ok is false for any other Patch.
func patchTarget(params *types.Tuple, options types.Type) (subresource, ok bool) {
	if params.Len() != 4 || !isNamed(params.At(2).Type(), clientPkg, "Patch") {
		return false, false
	}
	switch {
	case isNamed(options, clientPkg, "PatchOption"):
		return false, true
	case isNamed(options, clientPkg, "SubResourcePatchOption"):
		return true, true
	}
	return false, false
}

// patchKind is what a client.Patch does to the object's lists.
type patchKind int

const (
	// otherPatch is any patch not recognized below: a JSON patch, a strategic merge patch, a raw
	// patch, or one whose origin cannot be told.
	otherPatch patchKind = iota
	// mergePatch is a JSON merge patch of the object (client.MergeFrom, MergeFromWithOptions,
	// client.Merge): it replaces each list it carries whole, metadata.finalizers included.
	mergePatch
	// lockedMergePatch is client.MergeFromWithOptions with client.MergeFromWithOptimisticLock: it
	// carries the object's resourceVersion, so the server refuses it (409) when the object changed
	// since the read, and no concurrent change is lost. Like every patch other than an apply, it
	// records what it changes under an Update entry of its field manager (ssa-semantics row 3).
	lockedMergePatch
	// applyPatch is client.Apply: the object is sent whole as a Server-Side Apply configuration.
	applyPatch
)

// patchOf tells what kind of patch expr is, and names it for messages. A variable is followed to
// its assignments: patch := client.MergeFrom(obj.DeepCopy()) is a merge patch wherever it is used.
func (v *values) patchOf(expr ast.Expr) (patchKind, string) {
	return v.patchAfter(expr, 0)
}

// maxHops bounds how many variables are followed, so that a = b; b = a ends.
const maxHops = 8

func (v *values) patchAfter(expr ast.Expr, hops int) (patchKind, string) {
	expr = ast.Unparen(expr)
	if call, ok := expr.(*ast.CallExpr); ok {
		fn := typeutil.StaticCallee(v.info, call)
		switch {
		case isFunc(fn, clientPkg, "MergeFrom"):
			return mergePatch, "client.MergeFrom"
		case isFunc(fn, clientPkg, "RawPatch") && len(call.Args) == 2:
			// A JSON merge patch replaces each list it carries whole, however it was built.
			if t, ok := constantString(v.info, call.Args[0]); ok && t == mergePatchType {
				return mergePatch, "client.RawPatch(" + types.ExprString(call.Args[0]) + ")"
			}
		case isFunc(fn, clientPkg, "MergeFromWithOptions"):
			for _, opt := range call.Args[1:] {
				if isNamed(namedOf(v.info.TypeOf(opt)), clientPkg, "MergeFromWithOptimisticLock") {
					return lockedMergePatch, "client.MergeFromWithOptions"
				}
			}
			return mergePatch, "client.MergeFromWithOptions"
		}
		return otherPatch, ""
	}
	obj := usedObject(v.info, expr)
	switch {
	case isPkgVar(obj, clientPkg, "Apply"):
		return applyPatch, "client.Apply"
	case isPkgVar(obj, clientPkg, "Merge"):
		return mergePatch, "client.Merge"
	}
	if def, ok := v.only(obj); ok && def.index == 0 && hops < maxHops {
		return v.patchAfter(def.expr, hops+1)
	}
	return otherPatch, ""
}

// values knows, for each variable of a package, the expressions assigned to it.
type values struct {
	info *types.Info
	defs map[types.Object][]definition
}

// definition is an expression assigned to a variable: the whole right-hand side, or, for
// x, err := f(), the call and the index of the result.
type definition struct {
	expr  ast.Expr
	index int
}

// valuesOf collects every assignment and var declaration in the pass's files.
func valuesOf(pass *analysis.Pass, insp *inspector.Inspector) *values {
	v := &values{info: pass.TypesInfo, defs: map[types.Object][]definition{}}
	record := func(lhs []ast.Expr, rhs []ast.Expr) {
		for i, l := range lhs {
			id, ok := ast.Unparen(l).(*ast.Ident)
			if !ok {
				continue
			}
			obj := pass.TypesInfo.ObjectOf(id)
			if obj == nil {
				continue
			}
			switch {
			case len(rhs) == len(lhs):
				v.defs[obj] = append(v.defs[obj], definition{expr: rhs[i]})
			case len(rhs) == 1:
				v.defs[obj] = append(v.defs[obj], definition{expr: rhs[0], index: i})
			}
		}
	}
	for cur := range insp.Root().Preorder((*ast.AssignStmt)(nil), (*ast.ValueSpec)(nil)) {
		switch n := cur.Node().(type) {
		case *ast.AssignStmt:
			record(n.Lhs, n.Rhs)
		case *ast.ValueSpec:
			lhs := make([]ast.Expr, len(n.Names))
			for i, name := range n.Names {
				lhs[i] = name
			}
			record(lhs, n.Values)
		}
	}
	return v
}

// only returns the one expression ever assigned to obj; a variable assigned more than once, or
// never (a parameter), has no value to follow.
func (v *values) only(obj types.Object) (definition, bool) {
	if obj == nil || len(v.defs[obj]) != 1 {
		return definition{}, false
	}
	return v.defs[obj][0], true
}

// rootVar returns the variable expr denotes: obj, (obj) or &obj. Anything else (a field, an
// index, a call) is nil: the analyzers follow objects by variable identity only.
func rootVar(info *types.Info, expr ast.Expr) *types.Var {
	expr = ast.Unparen(expr)
	if u, ok := expr.(*ast.UnaryExpr); ok && u.Op == token.AND {
		expr = ast.Unparen(u.X)
	}
	id, ok := expr.(*ast.Ident)
	if !ok {
		return nil
	}
	v, _ := info.ObjectOf(id).(*types.Var)
	return v
}

// usedObject returns the object an identifier or a selector (pkg.Name, x.Field) refers to.
func usedObject(info *types.Info, expr ast.Expr) types.Object {
	switch e := ast.Unparen(expr).(type) {
	case *ast.Ident:
		return info.ObjectOf(e)
	case *ast.SelectorExpr:
		return info.ObjectOf(e.Sel)
	}
	return nil
}

// isFunc reports whether obj is the package-level function pkg.name.
func isFunc(obj types.Object, pkg, name string) bool {
	// typeutil.StaticCallee's nil *types.Func arrives here as a non-nil types.Object.
	fn, ok := obj.(*types.Func)
	return ok && fn != nil && fn.Signature().Recv() == nil && inPackage(fn, pkg) && fn.Name() == name
}

// isMethod reports whether obj is a method called name declared in pkg, on a type or interface.
func isMethod(obj types.Object, pkg, name string) bool {
	fn, ok := obj.(*types.Func)
	return ok && fn != nil && fn.Signature().Recv() != nil && inPackage(fn, pkg) && fn.Name() == name
}

// isPkgVar reports whether obj is the package-level variable pkg.name.
func isPkgVar(obj types.Object, pkg, name string) bool {
	v, ok := obj.(*types.Var)
	return ok && !v.IsField() && inPackage(v, pkg) && v.Name() == name && v.Parent() == v.Pkg().Scope()
}

// isNamed reports whether t is the named type pkg.name, or an alias of that name on the way to
// its type: controller-runtime v0.25 declares client.Object as an alias of cacheapi.Object.
func isNamed(t types.Type, pkg, name string) bool {
	for {
		switch tt := t.(type) {
		case *types.Alias:
			if tt == nil {
				return false
			}
			if inPackage(tt.Obj(), pkg) && tt.Obj().Name() == name {
				return true
			}
			t = tt.Rhs()
		case *types.Named:
			// namedOf's nil *types.Named (a type parameter, an unnamed type) arrives typed.
			return tt != nil && inPackage(tt.Obj(), pkg) && tt.Obj().Name() == name
		default:
			return false
		}
	}
}

func inPackage(obj types.Object, pkg string) bool {
	return obj.Pkg() != nil && obj.Pkg().Path() == pkg
}

// namedOf returns the named type of t or of what t points to, or nil.
func namedOf(t types.Type) *types.Named {
	named, _ := deref(t).(*types.Named)
	return named
}
