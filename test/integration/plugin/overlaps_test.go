package plugin

import (
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ssakit/ssakit/internal/testcluster"
	"github.com/ssakit/ssakit/pkg/ssa"
)

// coOwnedWidget is a Widget whose finalizer a legacy Update and an ssakit finalizer both own: the
// state of a controller that moved to ssakit without FinalizerOptions.TakeOverLegacy.
func coOwnedWidget(t *testing.T, namespace, name string) {
	t.Helper()
	w := legacyFinalizer(t, userWidget(t, namespace, name), cleanup)
	f, err := ssa.NewFinalizer(cluster.Client, "widgets", cleanup, ssa.FinalizerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// A stripped copy makes Add apply.
	w.SetManagedFields(nil)
	if _, err := f.Add(t.Context(), client.Object(w)); err != nil {
		t.Fatal(err)
	}
}

// A field owned by two managers is listed with both, and the exit code is 1, so that a CI job
// fails on it.
func TestOverlaps_ListsSharedFieldsAndExitsOne(t *testing.T) {
	ns := cluster.Namespace(t)
	coOwnedWidget(t, ns, "co-owned")
	userWidget(t, ns, "alone")

	r := plugin(t, ns, "overlaps", widgets)

	diff(t, "exit code", 1, r.code)
	diff(t, "output", [][]string{
		{"NAMESPACE", "OBJECT", "FIELD", "MANAGERS"},
		{ns, "widget.test.ssakit.dev/co-owned", `.metadata.finalizers[="example.com/cleanup"]`, "legacy-operator", "(Update),", "widgets/finalizer/example.com/cleanup", "(Apply)"},
	}, table(r.stdout))
	diff(t, "summary", "1 shared field(s) on 1 of 2 object(s)\n", r.stderr)
}

// With --manager, only fields those managers share count: the user and the finalizer's manager
// share nothing, so the exit code is 0.
func TestOverlaps_AmongNamedManagersOnlyExitsZeroWhenTheyShareNothing(t *testing.T) {
	ns := cluster.Namespace(t)
	coOwnedWidget(t, ns, "co-owned")

	r := plugin(t, ns, "overlaps", widgets, "--manager", userManager+",widgets/finalizer/example.com/cleanup", "-o", "json")

	diff(t, "exit code", 0, r.code)
	var out []any
	decodeList(t, r.stdout, &out)
	diff(t, "objects with shared fields", []any{}, out)
}

// A manager that owns a field through both an Apply and an Update entry cannot release it with an
// apply alone (a controller that moved to ssakit under its old name): that is an overlap too.
func TestOverlaps_FindsOneManagerOwningAFieldThroughApplyAndUpdate(t *testing.T) {
	ns := cluster.Namespace(t)
	w := legacyFinalizerAs(t, userWidget(t, ns, "same-name"), cleanup, finalizerManager)
	cluster.ApplyFinalizers(t, testcluster.WidgetGVK, w, finalizerManager, cleanup)

	r := plugin(t, ns, "overlaps", widgets, "-o", "json")

	diff(t, "exit code", 1, r.code)
	var out []struct {
		Shared []struct {
			Path   string
			Owners []string
		}
	}
	decodeList(t, r.stdout, &out)
	diff(t, "shared fields", []struct {
		Path   string
		Owners []string
	}{{`.metadata.finalizers[="example.com/cleanup"]`, []string{finalizerManager + " (Apply)", finalizerManager + " (Update)"}}}, out[0].Shared)
}
