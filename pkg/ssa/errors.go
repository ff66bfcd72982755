package ssa

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
)

var (
	// ErrGone means the object the caller observed no longer exists: an apply that carried its
	// UID found no object (docs/ssa-semantics.md row 9). Nothing was created.
	ErrGone = errors.New("object no longer exists")
	// ErrReplaced means the object the caller observed was deleted and another object now has its
	// name: an apply carrying the old UID was refused (row 10). The new object was not touched.
	ErrReplaced = errors.New("object was replaced by another object with the same name")
	// ErrTerminating means a finalizer cannot be added because the object is being deleted
	// (row 12).
	ErrTerminating = errors.New("object is being deleted")
	// ErrStale means an apply that carried the observed resourceVersion was refused because the
	// object was written, or deleted and recreated, since it was read (row 11), or that
	// Applier.ApplyChild found its child otherwise than the cache showed it (made, deleted or
	// replaced since). Nothing was written; a newer copy reaches a controller's cache soon, and
	// reconcile.New retries such a reconcile without an error log.
	ErrStale = errors.New("object changed since it was read")
	// ErrNoManagedFields means a step that moves ownership needed the managedFields of the API
	// server's answer to an apply, and the answer carried none: the client asks the server to
	// leave them out of its responses (KEP-5958, docs/ssa-semantics.md row 32), or something
	// between them removes them. An apply's answer always has the applier's entry, or
	// before-first-apply's (row 24), so an empty list is never the object's own state. Nothing
	// was taken over; ssakit never computes ownership from an answer that lacks it.
	ErrNoManagedFields = errors.New("the API server's answer carries no managedFields")
	// ErrNotControlled means an object of a child's name exists that its owner does not control
	// (Applier.ApplyChild): it was not created for the owner, and ssakit leaves it as it is
	// rather than adopt it. Nothing was written.
	ErrNotControlled = errors.New("object is not controlled by its owner")
)

// ObjectRef names the object an error is about.
type ObjectRef struct {
	GroupVersionKind schema.GroupVersionKind
	Namespace        string
	Name             string
	UID              types.UID
}

// refOf names obj, with its kind from obj itself (unstructured, metadata-only) or from scheme
// (typed objects), through controller-runtime's apiutil.GVKForObject.
func refOf(obj client.Object, scheme *runtime.Scheme) (ObjectRef, error) {
	gvk, err := apiutil.GVKForObject(obj, scheme)
	if err != nil {
		return ObjectRef{}, fmt.Errorf("cannot tell the kind of %T %s/%s: %w; register its type in the client's scheme", obj, obj.GetNamespace(), obj.GetName(), err)
	}
	return ObjectRef{GroupVersionKind: gvk, Namespace: obj.GetNamespace(), Name: obj.GetName(), UID: obj.GetUID()}, nil
}

// String renders the object as Kind namespace/name.
func (r ObjectRef) String() string {
	if r.Namespace == "" {
		return r.GroupVersionKind.Kind + " " + r.Name
	}
	return r.GroupVersionKind.Kind + " " + r.Namespace + "/" + r.Name
}

// ObjectError is an error about one object: it wraps one of [ErrGone], [ErrReplaced],
// [ErrTerminating], [ErrStale] or [ErrNoManagedFields], and the API server's answer when there
// was one.
type ObjectError struct {
	// Object is the object as the caller observed it.
	Object ObjectRef
	// Reason is ErrGone, ErrReplaced, ErrTerminating, ErrStale or ErrNoManagedFields.
	Reason error
	// Detail says what happened and what to do.
	Detail string
	// Err is the API server's error, or nil when ssakit refused without a request.
	Err error
}

// Error implements error.
func (e *ObjectError) Error() string {
	if e.Object.UID == "" {
		return fmt.Sprintf("%s: %v: %s", e.Object, e.Reason, e.Detail)
	}
	return fmt.Sprintf("%s (uid %s): %v: %s", e.Object, e.Object.UID, e.Reason, e.Detail)
}

// Unwrap returns the reason and the API server's error, so errors.Is matches either.
func (e *ObjectError) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Reason}
	}
	return []error{e.Reason, e.Err}
}

// CoOwnedError reports a finalizer that is still on the object after its manager let it go,
// because other managers also own it (docs/ssa-semantics.md rows 3 and 24). The finalizer was not
// removed.
type CoOwnedError struct {
	Object    ObjectRef
	Finalizer string
	// Manager is the finalizer's own field manager.
	Manager string
	// CoOwners are the managers of the other entries that own the finalizer item, sorted: it holds
	// Manager itself when an Update entry of that name owns it. It is empty when nobody's
	// ownership is recorded (managedFields were reset), which keeps the item as well.
	CoOwners []string
}

// Error implements error.
func (e *CoOwnedError) Error() string {
	owners := "no manager is recorded as owning it (managedFields were reset)"
	if len(e.CoOwners) > 0 {
		owners = "it is also owned by " + quoteAll(e.CoOwners)
	}
	if slices.Contains(e.CoOwners, e.Manager) {
		owners += fmt.Sprintf(" (%q through an Update entry, not its apply)", e.Manager)
	}
	return fmt.Sprintf("finalizer %q is still on %s: %s, so field manager %q cannot remove it alone; "+
		"if those are earlier writers of this same finalizer, declare it with ssa.FinalizerOptions{TakeOverLegacy: true} (naming any Apply managers among them in LegacyManagers) to move their claims to %q; "+
		"otherwise have the other writers remove it",
		e.Finalizer, e.Object, owners, e.Manager, e.Manager)
}

// InvalidNameError reports a finalizer name that ssakit refuses to declare, or that the API server
// refused for an object's kind.
type InvalidNameError struct {
	Name string
	// Class is the name's class: NameUnqualified when the server refused a name without a path
	// for an object's kind.
	Class NameClass
	// Reasons are the broken rules, in the words of the API server's validation where it has
	// them.
	Reasons []string
	// Err is the API server's error when the server refused the name, nil otherwise.
	Err error
}

// Error implements error.
func (e *InvalidNameError) Error() string {
	return fmt.Sprintf("invalid finalizer name %q: %s", e.Name, strings.Join(e.Reasons, "; "))
}

// Unwrap returns the API server's error, if any.
func (e *InvalidNameError) Unwrap() error { return e.Err }

// Conflict is one field another manager owns with a different value, from the causes of a 409
// answer to an apply.
type Conflict struct {
	// Manager is the manager that owns the field.
	Manager string
	// Path is the field, as the server renders it (".spec.replicas").
	Path string
	// Message is the server's text for this conflict.
	Message string
	// ByUpdate is true when Manager wrote the field with an Update or a patch (a legacy
	// controller, `kubectl edit`), not with an apply: apimachinery then names the manager
	// `"x" using <apiVersion>`.
	ByUpdate bool
}

// ConflictError is an apply refused because other managers own some of the applied fields with
// different values. Applying finalizers never conflicts (row 2); other applies can.
type ConflictError struct {
	Conflicts []Conflict
	// Err is the API server's error.
	Err error
}

// Error implements error.
func (e *ConflictError) Error() string {
	parts := make([]string, 0, len(e.Conflicts))
	for _, c := range e.Conflicts {
		parts = append(parts, fmt.Sprintf("%s is owned by %q", c.Path, c.Manager))
	}
	return fmt.Sprintf("apply conflict: %s; leave those fields out of the apply, or take them over with client.ForceOwnership if this manager is meant to own them",
		strings.Join(parts, ", "))
}

// Unwrap returns the API server's error.
func (e *ConflictError) Unwrap() error { return e.Err }

// Has reports whether path (as the server renders it, ".status.phase") is among the conflicts.
func (e *ConflictError) Has(path string) bool {
	return slices.ContainsFunc(e.Conflicts, func(c Conflict) bool { return c.Path == path })
}

// OnlyByUpdates reports whether every conflicting field was written with an Update or a patch
// (Conflict.ByUpdate): by a legacy writer or a person, not by another manager's apply.
func (e *ConflictError) OnlyByUpdates() bool {
	return len(e.Conflicts) > 0 && !slices.ContainsFunc(e.Conflicts, func(c Conflict) bool { return !c.ByUpdate })
}

// FromApplyError turns the API server's answer to an apply of obj into ssakit's typed errors:
// a "uid mismatch" 409 into [ErrGone], a 422 on metadata.uid into [ErrReplaced], a 422 that
// forbids new finalizers into [ErrTerminating], a resourceVersion 409 ("the object has been
// modified") into [ErrStale], a 422 that refuses a finalizer name into an [*InvalidNameError],
// and a field-manager 409 into a [*ConflictError]. Any other error, a 404 included (a version or
// subresource the server does not serve answers 404 too), is returned as it is; nil stays nil.
func FromApplyError(obj ObjectRef, err error) error {
	if err == nil {
		return nil
	}
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		return err
	}
	s := status.Status()
	switch s.Code {
	case http.StatusConflict:
		return fromConflict(obj, s, err)
	case http.StatusUnprocessableEntity:
		return fromUnprocessable(obj, s, err)
	}
	return err
}

// fromConflict classifies a 409 answer to an apply.
func fromConflict(obj ObjectRef, s metav1.Status, err error) error {
	switch {
	case s.Reason == metav1.StatusReasonConflict && hasCause(s, metav1.CauseTypeFieldManagerConflict):
		return &ConflictError{Conflicts: conflictsOf(s), Err: err}
	case strings.Contains(s.Message, "uid mismatch"):
		return &ObjectError{Object: obj, Reason: ErrGone, Err: err,
			Detail: "it was deleted after it was read; there is nothing left to do for it"}
	case s.Reason == metav1.StatusReasonConflict:
		// After the field-manager and uid cases, a 409 on an apply is a stale resourceVersion
		// ("the object has been modified"; controller-runtime's fake client words it otherwise).
		return &ObjectError{Object: obj, Reason: ErrStale, Err: err,
			Detail: "it was written since it was read, and nothing was applied; apply again to a fresh read (a controller's next reconcile does)"}
	}
	return err
}

// fromUnprocessable classifies a 422 answer to an apply.
func fromUnprocessable(obj ObjectRef, s metav1.Status, err error) error {
	switch {
	case hasCauseField(s, "metadata.uid"):
		return &ObjectError{Object: obj, Reason: ErrReplaced, Err: err,
			Detail: "ssakit did not touch the new object; read it again and reconcile that one"}
	case strings.Contains(s.Message, "no new finalizers can be added if the object is being deleted"):
		return &ObjectError{Object: obj, Reason: ErrTerminating, Err: err,
			Detail: "the API server refuses new finalizers once deletion has started; run the cleanup instead"}
	case strings.Contains(s.Message, unqualifiedNameRefused):
		return &InvalidNameError{Name: refusedName(s), Class: NameUnqualified, Err: err, Reasons: []string{
			"the API server refuses a finalizer name without a path on " + obj.GroupVersionKind.Kind + " (built-in types accept only domain-qualified names such as example.com/cleanup; AllowUnqualifiedName is for custom resources)",
		}}
	}
	return err
}

// unqualifiedNameRefused is how kube-apiserver refuses a finalizer name without a path on a built-in
// type (docs/ssa-semantics.md row 15).
const unqualifiedNameRefused = "name is neither a standard finalizer name nor is it fully qualified"

// refusedName returns the finalizer name a unqualifiedNameRefused cause quotes.
func refusedName(s metav1.Status) string {
	if s.Details == nil {
		return ""
	}
	for _, c := range s.Details.Causes {
		if !strings.Contains(c.Message, unqualifiedNameRefused) {
			continue
		}
		if _, rest, ok := strings.Cut(c.Message, "Invalid value: "); ok {
			if quoted, err := strconv.QuotedPrefix(rest); err == nil {
				name, _ := strconv.Unquote(quoted)
				return name
			}
		}
	}
	return ""
}

func hasCause(s metav1.Status, t metav1.CauseType) bool {
	if s.Details == nil {
		return false
	}
	for _, c := range s.Details.Causes {
		if c.Type == t {
			return true
		}
	}
	return false
}

func hasCauseField(s metav1.Status, field string) bool {
	if s.Details == nil {
		return false
	}
	for _, c := range s.Details.Causes {
		if c.Field == field {
			return true
		}
	}
	return false
}

// conflictsOf reads the conflicts from the causes apimachinery's managedfields writes: the field
// path, and `conflict with "manager"`, then ` with subresource "s"` for a subresource's entry and
// ` using <apiVersion>` (and ` at <time>`) for an Update's (managedfields/internal/conflict.go).
func conflictsOf(s metav1.Status) []Conflict {
	var conflicts []Conflict
	for _, c := range s.Details.Causes {
		if c.Type != metav1.CauseTypeFieldManagerConflict {
			continue
		}
		conflict := Conflict{Path: c.Field, Message: c.Message}
		if rest, ok := strings.CutPrefix(c.Message, "conflict with "); ok {
			if quoted, err := strconv.QuotedPrefix(rest); err == nil {
				conflict.Manager, _ = strconv.Unquote(quoted)
				conflict.ByUpdate = strings.Contains(rest[len(quoted):], " using ")
			}
		}
		// kube-apiserver v1.36.3 was seen listing an answer's causes twice; do not repeat a conflict.
		if !slices.Contains(conflicts, conflict) {
			conflicts = append(conflicts, conflict)
		}
	}
	return conflicts
}

func quoteAll(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = strconv.Quote(n)
	}
	return strings.Join(quoted, ", ")
}
