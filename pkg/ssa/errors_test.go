package ssa_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/ssakit/ssakit/pkg/ssa"
)

var configMapRef = ssa.ObjectRef{
	GroupVersionKind: schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"},
	Namespace:        "demo", Name: "settings", UID: "0b5c",
}

// The API errors below have the shapes kube-apiserver answers with (docs/ssa-semantics.md rows 9 to 12);
// test/integration checks the same classification on real answers.
func TestFromApplyError_ClassifiesObjectErrors(t *testing.T) {
	configMaps := schema.GroupResource{Resource: "configmaps"}
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{{
		name: "row 9, uid mismatch",
		err:  apierrors.NewConflict(configMaps, "settings", errors.New("uid mismatch: the provided object specified uid 0b5c, and no existing object was found")),
		want: ssa.ErrGone,
	}, {
		name: "row 10, immutable uid",
		err:  apierrors.NewInvalid(schema.GroupKind{Kind: "ConfigMap"}, "settings", field.ErrorList{field.Invalid(field.NewPath("metadata", "uid"), "0b5c", "field is immutable")}),
		want: ssa.ErrReplaced,
	}, {
		name: "row 12, no new finalizers",
		err: apierrors.NewInvalid(schema.GroupKind{Kind: "ConfigMap"}, "settings", field.ErrorList{field.Forbidden(field.NewPath("metadata", "finalizers"),
			`no new finalizers can be added if the object is being deleted, found new finalizers []string{"example.com/x"}`)}),
		want: ssa.ErrTerminating,
	}, {
		name: "row 11, stale resourceVersion",
		err:  apierrors.NewConflict(configMaps, "settings", errors.New("the object has been modified; please apply your changes to the latest version and try again")),
		want: ssa.ErrStale,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got := ssa.FromApplyError(configMapRef, tc.err)

			if !errors.Is(got, tc.want) {
				t.Errorf("errors.Is(%v, %v) = false", got, tc.want)
			}
			if !errors.Is(got, tc.err) {
				t.Errorf("the API error is not wrapped: %v", got)
			}
			var objErr *ssa.ObjectError
			if !errors.As(got, &objErr) || objErr.Object != configMapRef {
				t.Errorf("want an *ObjectError about %v, got %#v", configMapRef, got)
			}
		})
	}
}

func TestFromApplyError_ParsesFieldManagerConflicts(t *testing.T) {
	apiErr := apierrors.NewApplyConflict([]metav1.StatusCause{
		{Type: metav1.CauseTypeFieldManagerConflict, Message: `conflict with "user"`, Field: ".spec.color"},
		{Type: metav1.CauseTypeFieldManagerConflict, Message: `conflict with "legacy" using v1`, Field: ".spec.replicas"},
		{Type: metav1.CauseTypeFieldManagerConflict, Message: `conflict with "user"`, Field: ".spec.color"},
	}, "Apply failed with 3 conflicts")

	err := ssa.FromApplyError(configMapRef, apiErr)

	var conflict *ssa.ConflictError
	if !errors.As(err, &conflict) {
		t.Fatalf("want *ConflictError, got %v", err)
	}
	want := []ssa.Conflict{
		{Manager: "user", Path: ".spec.color", Message: `conflict with "user"`},
		{Manager: "legacy", Path: ".spec.replicas", Message: `conflict with "legacy" using v1`, ByUpdate: true},
	}
	if d := cmp.Diff(want, conflict.Conflicts); d != "" {
		t.Errorf("conflicts (-want +got):\n%s", d)
	}
	if !apierrors.IsConflict(err) {
		t.Error("the API error is not wrapped")
	}
}

func TestFromApplyError_TurnsARefusedLegacyNameIntoAnInvalidNameError(t *testing.T) {
	apiErr := apierrors.NewInvalid(schema.GroupKind{Kind: "ConfigMap"}, "settings", field.ErrorList{
		field.Invalid(field.NewPath("metadata", "finalizers").Index(0), "legacy-finalizer", "name is neither a standard finalizer name nor is it fully qualified"),
	})

	err := ssa.FromApplyError(configMapRef, apiErr)

	invalid, ok := errors.AsType[*ssa.InvalidNameError](err)
	if !ok {
		t.Fatalf("want *InvalidNameError, got %v", err)
	}
	if invalid.Name != "legacy-finalizer" || !errors.Is(err, apiErr) {
		t.Errorf("name %q, wraps the API error: %v", invalid.Name, errors.Is(err, apiErr))
	}
}

func TestFromApplyError_LeavesOtherErrorsAlone(t *testing.T) {
	forbidden := apierrors.NewForbidden(schema.GroupResource{Resource: "configmaps"}, "settings", errors.New("RBAC says no"))
	// A 404 is not "gone": a version or subresource the server does not serve answers 404 too.
	notFound := apierrors.NewNotFound(schema.GroupResource{Resource: "configmaps"}, "settings")
	plain := fmt.Errorf("connection refused")
	for _, err := range []error{nil, forbidden, notFound, plain} {
		if got := ssa.FromApplyError(configMapRef, err); got != err { //nolint:errorlint // identity is the point
			t.Errorf("FromApplyError(%v) = %v, want it unchanged", err, got)
		}
	}
}

func TestErrorMessagesSayWhatToDo(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{{
		err:  &ssa.CoOwnedError{Object: configMapRef, Finalizer: "example.com/x", Manager: "op/finalizer", CoOwners: []string{"legacy-operator"}},
		want: `finalizer "example.com/x" is still on ConfigMap demo/settings: it is also owned by "legacy-operator", so field manager "op/finalizer" cannot remove it alone; if those are earlier writers of this same finalizer, declare it with ssa.FinalizerOptions{TakeOverLegacy: true} (naming any Apply managers among them in LegacyManagers) to move their claims to "op/finalizer"; otherwise have the other writers remove it`,
	}, {
		err:  &ssa.ConflictError{Conflicts: []ssa.Conflict{{Manager: "user", Path: ".spec.color"}}},
		want: `apply conflict: .spec.color is owned by "user"; leave those fields out of the apply, or take them over with client.ForceOwnership if this manager is meant to own them`,
	}, {
		err:  &ssa.ObjectError{Object: configMapRef, Reason: ssa.ErrGone, Detail: "nothing left to do"},
		want: `ConfigMap demo/settings (uid 0b5c): object no longer exists: nothing left to do`,
	}} {
		if d := cmp.Diff(tc.want, tc.err.Error()); d != "" {
			t.Errorf("(-want +got):\n%s", d)
		}
	}
}
