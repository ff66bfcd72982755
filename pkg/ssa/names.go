package ssa

import (
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// reservedFinalizers are the finalizers Kubernetes itself acts on: the garbage collector for
// orphan and foregroundDeletion, the namespace controller for kubernetes (docs/ssa-semantics.md row 17).
var reservedFinalizers = []string{metav1.FinalizerOrphanDependents, metav1.FinalizerDeleteDependents, "kubernetes"}

// ValidateFinalizerName checks name against the API server's rules and ssakit's policy, and
// returns the warnings a custom resource would get for it.
//
//   - Not a qualified name (docs/ssa-semantics.md row 16): an error with the server's own messages, from
//     apimachinery's validation.IsQualifiedName, which the server uses.
//   - kubernetes, orphan, foregroundDeletion (row 17): an error; they belong to Kubernetes.
//   - No "/" (row 15): built-in types refuse such a name and custom resources warn on it, so it is
//     an error unless allowLegacy is true; then it is accepted with the custom-resource warning
//     (since Kubernetes 1.29; with the "including a path" wording for dotted names since 1.32).
func ValidateFinalizerName(name string, allowLegacy bool) (warnings []string, err error) {
	if msgs := validation.IsQualifiedName(name); len(msgs) > 0 {
		return nil, &InvalidNameError{Name: name, Reasons: msgs}
	}
	if slices.Contains(reservedFinalizers, name) {
		return nil, &InvalidNameError{Name: name, Reasons: []string{
			"it is reserved for Kubernetes itself (garbage collection and namespace deletion act on it); use a domain-qualified name such as example.com/cleanup",
		}}
	}
	if strings.Contains(name, "/") {
		return nil, nil
	}
	warning := fmt.Sprintf("metadata.finalizers: %q: prefer a domain-qualified finalizer name to avoid accidental conflicts with other finalizer writers", name)
	if strings.Contains(name, ".") {
		warning = fmt.Sprintf("metadata.finalizers: %q: prefer a domain-qualified finalizer name including a path (/) to avoid accidental conflicts with other finalizer writers", name)
	}
	if !allowLegacy {
		return nil, &InvalidNameError{Name: name, Reasons: []string{
			"it has no path: built-in types refuse it and custom resources warn on it; use a domain-qualified name such as example.com/cleanup, " +
				"or, for a name already on existing objects, declare it with AllowLegacyName and migrate to a qualified name",
		}}
	}
	return []string{warning}, nil
}
