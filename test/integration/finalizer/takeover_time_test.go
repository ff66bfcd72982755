package finalizer

import (
	"testing"

	"github.com/ssakit/ssakit/pkg/ssa"
)

// The finalizer manager's entry carries the time of the takeover. Migrate first applies the
// finalizer a legacy Update put on; that apply changes no value, and the server records the
// manager's new entry without a time. The takeover patch stamps it, and the server keeps it.
func TestTakeOverLegacy_TheManagersEntryCarriesItsTime(t *testing.T) {
	obj := legacyWidget(t, cluster.Namespace(t), "w")
	f := newFinalizer(t, cluster.Client, cleanup, ssa.FinalizerOptions{TakeOverLegacy: true})

	m, err := f.Migrate(t.Context(), obj)
	if err != nil {
		t.Fatal(err)
	}

	diff(t, "taken from", []string{legacyManager}, m.TakeFrom)
	found := false
	for _, e := range obj.GetManagedFields() {
		if e.Manager != finalizerManager {
			continue
		}
		found = true
		if e.Time == nil || e.Time.IsZero() {
			t.Errorf("the entry of %s (%s) has no time", e.Manager, e.Operation)
		}
	}
	if !found {
		t.Errorf("no entry of %s in %v", finalizerManager, obj.GetManagedFields())
	}
}
