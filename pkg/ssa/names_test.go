package ssa_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ssakit/ssakit/internal/fixtures"
	"github.com/ssakit/ssakit/pkg/ssa"
)

func TestValidateFinalizerName(t *testing.T) {
	for _, tc := range fixtures.FinalizerNames {
		t.Run(tc.Name, func(t *testing.T) {
			strictWarnings, strictErr := ssa.ValidateFinalizerName(tc.Name, false)
			legacyWarnings, legacyErr := ssa.ValidateFinalizerName(tc.Name, true)

			var want, got struct {
				StrictRefused, LegacyRefused bool
				StrictWarnings, Warnings     []string
			}
			want.StrictRefused = tc.Verdict != fixtures.Qualified
			want.LegacyRefused = tc.Verdict == fixtures.Invalid || tc.Verdict == fixtures.Reserved
			if tc.Warning != "" {
				want.Warnings = []string{tc.Warning}
			}
			got.StrictRefused, got.LegacyRefused = strictErr != nil, legacyErr != nil
			got.StrictWarnings, got.Warnings = strictWarnings, legacyWarnings
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("verdict %s (-want +got):\n%s\nstrict error: %v\nlegacy error: %v", tc.Verdict, d, strictErr, legacyErr)
			}
			for _, err := range []error{strictErr, legacyErr} {
				var nameErr *ssa.InvalidNameError
				if err != nil && (!errors.As(err, &nameErr) || nameErr.Name != tc.Name || len(nameErr.Reasons) == 0) {
					t.Errorf("want an *InvalidNameError for %q with reasons, got %#v", tc.Name, err)
				}
			}
		})
	}
}

func TestValidateFinalizerName_ExplainsWhatToDo(t *testing.T) {
	for name, want := range map[string]string{
		"legacy-finalizer": `invalid finalizer name "legacy-finalizer": it has no path: built-in types refuse it and custom resources warn on it; use a domain-qualified name such as example.com/cleanup, or, for a name already on existing objects, declare it with AllowLegacyName and migrate to a qualified name`,
		"orphan":           `invalid finalizer name "orphan": it is reserved for Kubernetes itself (garbage collection and namespace deletion act on it); use a domain-qualified name such as example.com/cleanup`,
		"Foo_bar!":         `invalid finalizer name "Foo_bar!": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`,
	} {
		_, err := ssa.ValidateFinalizerName(name, false)
		if err == nil {
			t.Errorf("ValidateFinalizerName(%q): no error", name)
			continue
		}
		if d := cmp.Diff(want, err.Error()); d != "" {
			t.Errorf("ValidateFinalizerName(%q) (-want +got):\n%s", name, d)
		}
	}
}
