package ssa_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ssakit/ssakit/internal/fixtures"
	"github.com/ssakit/ssakit/pkg/ssa"
)

func TestCheckFinalizerName_ClassifiesEveryFixture(t *testing.T) {
	for _, tc := range fixtures.FinalizerNames {
		t.Run(tc.Name, func(t *testing.T) {
			check := ssa.CheckFinalizerName(tc.Name)

			want := struct {
				Class   ssa.NameClass
				Warning string
				Refused bool
			}{tc.Class, tc.Warning, tc.Class != ssa.NameQualified}
			got := want
			got.Class, got.Warning, got.Refused = check.Class, check.Warning, check.Err != nil
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("(-want +got):\n%s\nerror: %v", d, check.Err)
			}
			var nameErr *ssa.InvalidNameError
			if check.Err != nil && (!errors.As(check.Err, &nameErr) || nameErr.Name != tc.Name || nameErr.Class != tc.Class || len(nameErr.Reasons) == 0) {
				t.Errorf("want an *InvalidNameError for %q of class %s with reasons, got %#v", tc.Name, tc.Class, check.Err)
			}
		})
	}
}

func TestCheckFinalizerName_ExplainsWhatToDo(t *testing.T) {
	for name, want := range map[string]string{
		"legacy-finalizer": `invalid finalizer name "legacy-finalizer": it has no path: built-in types refuse it and custom resources warn on it; use a domain-qualified name such as example.com/cleanup, or, for a name already on existing objects, declare it with FinalizerOptions.AllowUnqualifiedName and migrate to a qualified name (FinalizerOptions.FormerNames)`,
		"orphan":           `invalid finalizer name "orphan": it is reserved for Kubernetes itself (garbage collection and namespace deletion act on it); use a domain-qualified name such as example.com/cleanup`,
		"Foo_bar!":         `invalid finalizer name "Foo_bar!": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`,
	} {
		err := ssa.CheckFinalizerName(name).Err
		if err == nil {
			t.Errorf("CheckFinalizerName(%q): no error", name)
			continue
		}
		if d := cmp.Diff(want, err.Error()); d != "" {
			t.Errorf("CheckFinalizerName(%q) (-want +got):\n%s", name, d)
		}
	}
}

func TestNewFinalizer_AcceptsAnUnqualifiedNameOnlyWhenAllowed(t *testing.T) {
	got := map[bool]bool{}
	for _, allow := range []bool{false, true} {
		_, err := ssa.NewFinalizer(nil, "op", "legacy-finalizer", ssa.FinalizerOptions{AllowUnqualifiedName: allow})
		got[allow] = err == nil
	}
	if d := cmp.Diff(map[bool]bool{false: false, true: true}, got); d != "" {
		t.Errorf("accepted, by AllowUnqualifiedName (-want +got):\n%s", d)
	}
}

func TestNewFinalizer_RefusesInvalidAndReservedNamesEvenWhenUnqualifiedNamesAreAllowed(t *testing.T) {
	for _, name := range []string{"Foo_bar!", "orphan"} {
		if _, err := ssa.NewFinalizer(nil, "op", name, ssa.FinalizerOptions{AllowUnqualifiedName: true}); err == nil {
			t.Errorf("NewFinalizer(%q) with AllowUnqualifiedName: no error", name)
		}
	}
}
