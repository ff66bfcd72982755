package ssa

import (
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// NameClass is what the API server makes of a finalizer name (docs/ssa-semantics.md rows 14 to
// 17). pkg/vet, kubectl ssakit and the project's tests all classify names with
// CheckFinalizerName.
type NameClass string

const (
	// NameQualified is a domain-qualified name with a path (example.com/cleanup): accepted on
	// every kind, without a warning (row 14).
	NameQualified NameClass = "qualified"
	// NameUnqualified is a qualified name without a "/" path (my-finalizer, or
	// finalizer.example.com): built-in types refuse it, custom resources accept it with a
	// warning (row 15). NewFinalizer accepts it only with FinalizerOptions.AllowUnqualifiedName.
	NameUnqualified NameClass = "unqualified"
	// NameInvalid is not a qualified name at all: the API server refuses it on every kind
	// (row 16).
	NameInvalid NameClass = "invalid"
	// NameReserved is a finalizer Kubernetes itself acts on: kubernetes, orphan,
	// foregroundDeletion (row 17).
	NameReserved NameClass = "reserved"
)

// NameCheck is the verdict of CheckFinalizerName on one name.
type NameCheck struct {
	Class NameClass
	// Warning is the warning the API server sends each time an unqualified name is added to a
	// custom resource, in its own words (since Kubernetes 1.29; with the "including a path"
	// wording for dotted names since 1.32). Empty for every other class.
	Warning string
	// Err is the *InvalidNameError NewFinalizer returns for the name: nil for a qualified
	// name; for an unqualified one, lifted by FinalizerOptions.AllowUnqualifiedName.
	Err error
}

// reservedFinalizers are the finalizers Kubernetes itself acts on: the garbage collector for
// orphan and foregroundDeletion, the namespace controller for kubernetes (row 17).
var reservedFinalizers = []string{metav1.FinalizerOrphanDependents, metav1.FinalizerDeleteDependents, "kubernetes"}

// CheckFinalizerName classifies name by the API server's rules, with the server's own messages
// where it has them (apimachinery's validation.IsQualifiedName, which the server uses).
func CheckFinalizerName(name string) NameCheck {
	if msgs := validation.IsQualifiedName(name); len(msgs) > 0 {
		return NameCheck{Class: NameInvalid, Err: &InvalidNameError{Name: name, Class: NameInvalid, Reasons: msgs}}
	}
	if slices.Contains(reservedFinalizers, name) {
		return NameCheck{Class: NameReserved, Err: &InvalidNameError{Name: name, Class: NameReserved, Reasons: []string{
			"it is reserved for Kubernetes itself (garbage collection and namespace deletion act on it); use a domain-qualified name such as example.com/cleanup",
		}}}
	}
	if strings.Contains(name, "/") {
		return NameCheck{Class: NameQualified}
	}
	warning := fmt.Sprintf("metadata.finalizers: %q: prefer a domain-qualified finalizer name to avoid accidental conflicts with other finalizer writers", name)
	if strings.Contains(name, ".") {
		warning = fmt.Sprintf("metadata.finalizers: %q: prefer a domain-qualified finalizer name including a path (/) to avoid accidental conflicts with other finalizer writers", name)
	}
	return NameCheck{Class: NameUnqualified, Warning: warning, Err: &InvalidNameError{Name: name, Class: NameUnqualified, Reasons: []string{
		"it has no path: built-in types refuse it and custom resources warn on it; use a domain-qualified name such as example.com/cleanup, " +
			"or, for a name already on existing objects, declare it with FinalizerOptions.AllowUnqualifiedName and migrate to a qualified name (FinalizerOptions.FormerNames)",
	}}}
}
