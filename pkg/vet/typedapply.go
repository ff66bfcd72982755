package vet

import (
	"cmp"
	"fmt"
	"go/ast"
	"go/types"
	"reflect"
	"slices"
	"strings"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/passes/inspect"
	"golang.org/x/tools/go/ast/inspector"
	"golang.org/x/tools/go/types/typeutil"
)

// TypedApply reports typed Go objects sent as Server-Side Apply configurations: they send the
// zero value of every field their JSON encoding keeps, which the field manager then applies and
// owns (https://github.com/kubernetes-sigs/controller-runtime/issues/1669).
var TypedApply = &analysis.Analyzer{
	Name: "typedapply",
	Doc: `report typed objects applied with their zero values

A typed Go struct cannot leave out what it was not told: it sends every field
its JSON encoding keeps, zero values included (a number or string without
omitempty, an intstr.IntOrString or resource.Quantity even with omitempty, as a
Service port's targetPort: 0). Applied with Server-Side Apply, each of them is
set, and owned by the field manager, though the controller never meant to set
it (https://github.com/kubernetes-sigs/controller-runtime/issues/1669). An apply configuration sends only what was set:
one generated with +kubebuilder:ac:generate=true or from client-go, applied
with Client.Apply, or client.ApplyConfigurationFromUnstructured of an
Unstructured holding only the fields to set.

Reported:

  - a typed object patched with client.Apply, by a client or by its status
    writer;
  - client.ApplyConfigurationFromUnstructured, and client.Apply patches, of an
    Unstructured made from a typed object with
    runtime.DefaultUnstructuredConverter.ToUnstructured in the same package;
  - ssakit's reconcile.StatusApplier.Apply given the object's own typed status
    (it accepts any value whose JSON form is an object).

The message names the fields sent even when unset that the types show: those of
the object itself, and optional ones (omitempty) that list items send anyway.
A client.Apply patch of a typed object that sends none is still reported, for
client.Apply as a patch type is deprecated in controller-runtime v0.25.
metav1.PartialObjectMetadata is not reported: its every field is left out when
zero. Nor is an object whose type is an interface. Client.Apply itself and
ssa.Applier take only a runtime.ApplyConfiguration, which no typed object
implements.`,
	URL:      "https://pkg.go.dev/github.com/ssakit/ssakit/pkg/vet#TypedApply",
	Requires: []*analysis.Analyzer{inspect.Analyzer},
	Run:      runTypedApply,
}

// applyDeprecated is what is left to say of a client.Apply patch whose typed object sends no
// zero value: controller-runtime v0.25 deprecates client.Apply as a patch type for Client.Apply
// and SubResource(...).Apply, which take apply configurations.
const applyDeprecated = "client.Apply as a patch type is deprecated in controller-runtime v0.25"

// applyAdvice ends the messages about typed objects applied whole.
const applyAdvice = "apply an apply configuration with Client.Apply instead (controller-runtime v0.22 or later; generated with +kubebuilder:ac:generate=true, or client-go's), " +
	"or client.ApplyConfigurationFromUnstructured of an Unstructured holding only the fields to set"

func runTypedApply(pass *analysis.Pass) (any, error) {
	pass = reporting(pass)
	insp := pass.ResultOf[inspect.Analyzer].(*inspector.Inspector)
	vals := valuesOf(pass, insp)
	info := pass.TypesInfo
	for cur := range insp.Root().Preorder((*ast.CallExpr)(nil)) {
		call := cur.Node().(*ast.CallExpr)
		if w, ok := writeOf(info, call); ok {
			if kind, _ := vals.patchOf(w.patch); w.method == "Patch" && kind == applyPatch {
				checkAppliedObject(pass, vals, w)
			}
			continue
		}
		fn := typeutil.Callee(info, call)
		switch {
		case isFunc(fn, clientPkg, "ApplyConfigurationFromUnstructured"):
			if source, at, ok := vals.typedSource(call.Args[0]); ok {
				reportConverted(pass, call, "client.ApplyConfigurationFromUnstructured", source, at, nil)
			}
		case isStatusApplierApply(fn):
			obj, status := info.TypeOf(call.Args[1]), info.TypeOf(call.Args[2])
			if statusType := statusFieldType(obj); statusType != nil && types.Identical(deref(status), statusType) {
				fields := zeroSent(status)
				for i, f := range fields {
					fields[i] = "status." + f
				}
				pass.Reportf(call.Args[2].Pos(), "reconcile.StatusApplier.Apply of typed status %s sends every field its JSON encoding keeps, zero values included%s, and the controller comes to own them (https://github.com/kubernetes-sigs/controller-runtime/issues/1669); pass the status apply configuration generated with +kubebuilder:ac:generate=true instead",
					typeName(pass, status), unsetFields(fields))
			}
		}
	}
	return nil, nil
}

// isStatusApplierApply reports whether obj is ssakit's (*reconcile.StatusApplier).Apply.
func isStatusApplierApply(obj types.Object) bool {
	if !isMethod(obj, reconcilePkg, "Apply") {
		return false
	}
	named := namedOf(obj.(*types.Func).Signature().Recv().Type())
	return named != nil && named.Obj().Name() == "StatusApplier"
}

// statusFieldType returns the type of the Status field of obj's struct type, or nil.
func statusFieldType(obj types.Type) types.Type {
	st, ok := deref(obj).Underlying().(*types.Struct)
	if !ok {
		return nil
	}
	for f := range st.Fields() {
		if f.Name() == "Status" {
			return types.Unalias(f.Type())
		}
	}
	return nil
}

// checkAppliedObject reports the object of a client.Apply patch when it is typed, or an
// Unstructured converted from a typed object.
func checkAppliedObject(pass *analysis.Pass, vals *values, w write) {
	// A subresource writer's apply reaches the status only; the object's own apply does not,
	// when the kind has a status subresource, as custom resources made with kubebuilder do.
	counts := func(top string) bool { return top != "status" }
	if w.subresource {
		counts = func(top string) bool { return top == "status" }
	}
	how := types.ExprString(w.call.Fun) + " with client.Apply"
	t := pass.TypesInfo.TypeOf(w.obj)
	if isNamed(namedOf(t), unstructuredPkg, "Unstructured") {
		if source, at, ok := vals.typedSource(w.obj); ok {
			reportConverted(pass, w.call, how, source, at, counts)
		}
		return
	}
	if !isTyped(t) {
		return
	}
	fields := topFields(zeroSent(t), counts)
	if len(fields) == 0 {
		pass.Reportf(w.obj.Pos(), "%s of typed %s: %s; %s", how, typeName(pass, t), applyDeprecated, applyAdvice)
		return
	}
	pass.Reportf(w.obj.Pos(), "%s of typed %s sends every field its JSON encoding keeps, zero values included%s, and the field manager comes to own them (https://github.com/kubernetes-sigs/controller-runtime/issues/1669); %s",
		how, typeName(pass, t), unsetFields(fields), applyAdvice)
}

// isTyped reports whether t is a typed object whose JSON encoding can carry values nobody set:
// a struct, or a pointer to one, other than an Unstructured, and other than
// metav1.PartialObjectMetadata, whose every field is left out when zero.
func isTyped(t types.Type) bool {
	named := namedOf(t)
	if named == nil || isNamed(named, unstructuredPkg, "Unstructured") || isNamed(named, metav1Pkg, "PartialObjectMetadata") {
		return false
	}
	_, isStruct := named.Underlying().(*types.Struct)
	return isStruct
}

// reportConverted reports an apply of an Unstructured that runtime.DefaultUnstructuredConverter
// made, at the call at, from an object of the typed source type. counts, when not nil, tells the
// top-level fields that reach the server, of a client.Apply patch.
func reportConverted(pass *analysis.Pass, call *ast.CallExpr, how string, source types.Type, at *ast.CallExpr, counts func(top string) bool) {
	fields := zeroSent(source)
	if counts != nil {
		fields = topFields(fields, counts)
		if len(fields) == 0 {
			pass.Report(analysis.Diagnostic{
				Pos: call.Pos(), End: call.End(),
				Message: fmt.Sprintf("%s of an Unstructured converted from typed %s (line %d): %s; %s",
					how, typeName(pass, source), line(pass, at), applyDeprecated, applyAdvice),
			})
			return
		}
	}
	pass.Report(analysis.Diagnostic{
		Pos: call.Pos(), End: call.End(),
		Message: fmt.Sprintf("%s of an Unstructured converted from typed %s (line %d) sends every field that type's JSON encoding keeps, zero values included%s, and the field manager comes to own them (https://github.com/kubernetes-sigs/controller-runtime/issues/1669); %s",
			how, typeName(pass, source), line(pass, at), unsetFields(fields), applyAdvice),
	})
}

// typedSource follows expr, an *unstructured.Unstructured or its content, back to
// runtime.DefaultUnstructuredConverter.ToUnstructured of a typed object, through variables
// assigned once and &unstructured.Unstructured{Object: ...} literals. It returns the typed
// object's type and the conversion.
func (v *values) typedSource(expr ast.Expr) (types.Type, *ast.CallExpr, bool) {
	return v.typedSourceAfter(expr, 0)
}

func (v *values) typedSourceAfter(expr ast.Expr, hops int) (types.Type, *ast.CallExpr, bool) {
	switch e := ast.Unparen(expr).(type) {
	case *ast.Ident:
		// m, err := ToUnstructured(obj) assigns m the call's first result.
		if def, ok := v.only(v.info.ObjectOf(e)); ok && def.index == 0 && hops < maxHops {
			return v.typedSourceAfter(def.expr, hops+1)
		}
	case *ast.UnaryExpr:
		return v.typedSourceAfter(e.X, hops)
	case *ast.CompositeLit:
		if !isNamed(v.info.TypeOf(e), unstructuredPkg, "Unstructured") {
			return nil, nil, false
		}
		for _, elt := range e.Elts {
			if kv, ok := elt.(*ast.KeyValueExpr); ok && isIdent(kv.Key, "Object") {
				return v.typedSourceAfter(kv.Value, hops)
			}
		}
	case *ast.CallExpr:
		if !isMethod(typeutil.Callee(v.info, e), runtimePkg, "ToUnstructured") || len(e.Args) != 1 {
			return nil, nil, false
		}
		if source := v.info.TypeOf(e.Args[0]); isTyped(source) {
			return source, e, true
		}
	}
	return nil, nil, false
}

// zeroSent returns the JSON paths of fields that t (a struct or a pointer to one) sends with a
// value, not null, even when the field was never set: every number, string and bool without
// omitempty, and every struct-kind value with an encoding of its own (omitempty cannot leave
// those out), following nested structs. In list items, map values and structs behind pointers,
// which exist only when the caller made them, it names only fields marked omitempty that are
// sent anyway (a port's targetPort: 0): by the API conventions, the others are required and set.
// Paths through a list read "ports[].targetPort", through a map "byName[*].targetPort".
func zeroSent(t types.Type) []string {
	if t == nil {
		return nil
	}
	st, ok := deref(t).Underlying().(*types.Struct)
	if !ok {
		return nil
	}
	w := &zeroSentWalk{seen: map[types.Type]bool{deref(t): true}}
	w.fields(st, "", false)
	paths := w.paths
	// A message names the first few: the object's own fields, before those deep in list items.
	slices.SortStableFunc(paths, func(a, b string) int {
		return cmp.Compare(strings.Count(a, ".")+strings.Count(a, "["), strings.Count(b, ".")+strings.Count(b, "["))
	})
	return paths
}

// topFields keeps the paths whose top-level field counts.
func topFields(paths []string, counts func(top string) bool) []string {
	return slices.DeleteFunc(paths, func(p string) bool {
		top, _, _ := strings.Cut(p, ".")
		top, _, _ = strings.Cut(top, "[")
		return !counts(top)
	})
}

// zeroSentWalk collects zeroSent's paths, in the order of the fields. seen holds the struct
// types on the way, against recursive types.
type zeroSentWalk struct {
	seen  map[types.Type]bool
	paths []string
}

// fields adds st's fields that are sent though never set; inItem is true inside a list item, map
// value or pointed-to struct.
func (w *zeroSentWalk) fields(st *types.Struct, prefix string, inItem bool) {
	for i := range st.NumFields() {
		f := st.Field(i)
		name, opts, _ := strings.Cut(reflect.StructTag(st.Tag(i)).Get("json"), ",")
		ft := types.Unalias(f.Type())
		switch {
		case name == "-" && opts == "":
			// encoding/json leaves it out.
		case f.Embedded() && name == "":
			// encoding/json inlines an embedded struct's fields (TypeMeta); an embedded pointer
			// is nil when zero.
			if structType, ok := ft.Underlying().(*types.Struct); ok {
				w.nested(structType, ft, prefix, inItem)
			}
		case !f.Exported() || hasOption(opts, "omitzero"):
			// encoding/json leaves it out, or leaves it out when zero.
		default:
			if name == "" {
				name = f.Name()
			}
			path := name
			if prefix != "" {
				path = prefix + "." + name
			}
			w.field(ft, path, hasOption(opts, "omitempty"), inItem)
		}
	}
}

// field adds the field at path, of type ft, when it is sent though never set, and the fields of
// the structs it holds.
func (w *zeroSentWalk) field(ft types.Type, path string, omitEmpty, inItem bool) {
	structType, isStruct := ft.Underlying().(*types.Struct)
	switch {
	case isNamed(ft, metav1Pkg, "Time") || isNamed(ft, metav1Pkg, "MicroTime"):
		// A zero time is written as null.
	case marshals(ft):
		if encodedZeroSent(isStruct, omitEmpty, inItem) {
			w.paths = append(w.paths, path)
		}
	case isStruct:
		w.nested(structType, ft, path, inItem)
	default:
		if _, basic := ft.Underlying().(*types.Basic); basic && !omitEmpty && !inItem {
			w.paths = append(w.paths, path)
		}
		if elem, item := itemStruct(ft); item != nil {
			w.nested(item, elem, path+itemPath(ft), true)
		}
	}
}

// encodedZeroSent tells whether a field with an encoding of its own (resource.Quantity "0",
// intstr.IntOrString 0) is named: omitempty leaves out only the empty values of kinds other than
// struct, and in an item only the fields marked omitempty are named (see zeroSent).
func encodedZeroSent(isStruct, omitEmpty, inItem bool) bool {
	if isStruct {
		return omitEmpty || !inItem
	}
	return !omitEmpty && !inItem
}

// itemPath is what a path adds to step into a slice's items, "[]", or a map's values, "[*]"; into
// what a pointer points to, nothing.
func itemPath(t types.Type) string {
	switch t.Underlying().(type) {
	case *types.Slice:
		return "[]"
	case *types.Map:
		return "[*]"
	}
	return ""
}

// nested adds the fields of a nested struct, once per struct type on the way.
func (w *zeroSentWalk) nested(st *types.Struct, t types.Type, prefix string, inItem bool) {
	if w.seen[t] {
		return
	}
	w.seen[t] = true
	w.fields(st, prefix, inItem)
	delete(w.seen, t)
}

// itemStruct returns the struct a slice's items, a map's values or a pointer hold, when they
// are structs without an encoding of their own.
func itemStruct(t types.Type) (types.Type, *types.Struct) {
	var elem types.Type
	switch u := t.Underlying().(type) {
	case *types.Slice:
		elem = u.Elem()
	case *types.Map:
		elem = u.Elem()
	case *types.Pointer:
		elem = u.Elem()
	default:
		return nil, nil
	}
	elem = deref(elem)
	st, ok := elem.Underlying().(*types.Struct)
	if !ok || marshals(elem) {
		return nil, nil
	}
	return elem, st
}

// deref returns what t points to, or t; without aliases.
func deref(t types.Type) types.Type {
	t = types.Unalias(t)
	if ptr, ok := t.(*types.Pointer); ok {
		return types.Unalias(ptr.Elem())
	}
	return t
}

// marshals reports whether encoding/json encodes t with its own MarshalJSON or MarshalText: on
// t, or on *t, which a field of an object passed by pointer is addressable as.
func marshals(t types.Type) bool {
	for _, typ := range []types.Type{t, types.NewPointer(t)} {
		methods := types.NewMethodSet(typ)
		if methods.Lookup(nil, "MarshalJSON") != nil || methods.Lookup(nil, "MarshalText") != nil {
			return true
		}
	}
	return false
}

func hasOption(opts, option string) bool {
	return slices.Contains(strings.Split(opts, ","), option)
}

// unsetFields names up to three of fields, for a message: " (spec.size and spec.paused even
// when unset)", or nothing when there are none.
func unsetFields(fields []string) string {
	const shown = 3
	switch {
	case len(fields) == 0:
		return ""
	case len(fields) == 1:
		return " (" + fields[0] + " even when unset)"
	case len(fields) <= shown:
		return " (" + strings.Join(fields[:len(fields)-1], ", ") + " and " + fields[len(fields)-1] + " even when unset)"
	default:
		return fmt.Sprintf(" (%s and %d more even when unset)", strings.Join(fields[:shown], ", "), len(fields)-shown)
	}
}

// typeName writes t with package names, as a reader of the file knows them: *v1.Guestbook.
func typeName(pass *analysis.Pass, t types.Type) string {
	return types.TypeString(t, func(p *types.Package) string {
		if p == pass.Pkg {
			return ""
		}
		return p.Name()
	})
}
