// Package vet holds the analyzers of ssakit-vet, which find the code a controller needs to change
// to use ssakit: finalizers written with Update or a merge patch ([FinalizerUpdate]), which
// records them under an Update field-manager entry that no apply can release (ssa-semantics
// row 3), a merge patch without an optimistic lock also losing another writer's; finalizer names
// the API server refuses or warns on ([FinalizerName]); and typed objects applied with their zero
// values, or with the deprecated client.Apply patch ([TypedApply]).
//
// They are golang.org/x/tools/go/analysis analyzers, built on its inspect pass (the
// go/ast/inspector cursor), go/types/typeutil, go/cfg for whether a write can follow a
// finalizer change, and a fact on each function that changes a parameter's finalizers for its
// caller to write; cmd/ssakit-vet runs them with the multichecker, standalone or as
// `go vet -vettool`. Calls are recognized by their packages' import paths and
// signatures (controller-runtime's client and controllerutil, apimachinery's runtime and
// unstructured, ssakit's ssa and reconcile), and objects by variable identity, never by the names
// a file gives them. Finalizer names are classified by [ssa.CheckFinalizerName] itself.
//
// None of the findings has a suggested fix: each needs a decision a tool cannot make (a
// ssa.Finalizer declared with the controller's client and name, a domain for a name, an apply
// configuration type).
package vet
