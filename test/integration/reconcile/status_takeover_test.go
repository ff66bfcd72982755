package reconcile

import (
	"errors"
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/ssakit/ssakit/internal/testcluster"
	ssareconcile "github.com/ssakit/ssakit/pkg/reconcile"
	"github.com/ssakit/ssakit/pkg/ssa"
)

// applyStatusAs applies status to w as manager, as the controller's earlier release did.
func applyStatusAs(t *testing.T, w *testcluster.Widget, manager string, status map[string]any) {
	t.Helper()
	config := &unstructured.Unstructured{Object: map[string]any{"status": status}}
	config.SetGroupVersionKind(testcluster.WidgetGVK)
	config.SetNamespace(w.Namespace)
	config.SetName(w.Name)
	if err := cluster.Client.Status().Apply(t.Context(), client.ApplyConfigurationFromUnstructured(config), client.FieldOwner(manager)); err != nil {
		t.Fatalf("applying status as %s: %v", manager, err)
	}
}

// liveOwnership parses the managedFields of the live widget.
func liveOwnership(t *testing.T, w *testcluster.Widget) *ssa.Ownership {
	t.Helper()
	live, _, err := getWidget(t.Context(), w)
	if err != nil {
		t.Fatal(err)
	}
	ownership, err := ssa.ParseOwnership(live.GetManagedFields())
	if err != nil {
		t.Fatal(err)
	}
	return ownership
}

// statusOwners returns the managers that own path through a status entry of the live widget.
func statusOwners(t *testing.T, w *testcluster.Widget, path ...any) []string {
	t.Helper()
	var owners []string
	for _, e := range liveOwnership(t, w).Entries {
		if e.Subresource == "status" && e.Fields.Has(fieldpath.MakePathOrDie(path...)) {
			owners = append(owners, e.Manager)
		}
	}
	return owners
}

// A field the old manager applied with the value the new one applies is shared (row 2), and
// would stay if the new manager stopped applying it; LegacyManagers makes it the new
// manager's alone, and leaves the old manager's other fields to it.
func TestStatusApplier_TakesOverExactlyTheFieldsItAppliesFromANamedLegacyManager(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	w := createWidget(t, ns, "status-takeover")
	applyStatusAs(t, w, "widgets-v1", map[string]any{"phase": "Ready", "selector": map[string]any{"app": "demo"}})
	g.Expect(cluster.Client.Get(t.Context(), client.ObjectKeyFromObject(w), w)).To(Succeed())
	applier := ssareconcile.NewStatusApplier(cluster.Client, "widgets-v2", ssareconcile.StatusApplierOptions{TypeConverters: []managedfields.TypeConverter{widgetTypes(t)}, LegacyManagers: []string{"widgets-v1"}})

	g.Expect(applier.Apply(t.Context(), w, map[string]any{"phase": "Ready"})).To(Succeed())

	diff(t, "owners of status.phase", []string{"widgets-v2"}, statusOwners(t, w, "status", "phase"))
	diff(t, "owners of status.selector", []string{"widgets-v1"}, statusOwners(t, w, "status", "selector"))
}

// A conflict with a named legacy Apply manager is forced; one with another Apply manager is not.
func TestStatusApplier_ForcesAConflictOnlyWithANamedLegacyManager(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	w := createWidget(t, ns, "status-conflict")
	applyStatusAs(t, w, "widgets-v1", map[string]any{"phase": "Old"})
	g.Expect(cluster.Client.Get(t.Context(), client.ObjectKeyFromObject(w), w)).To(Succeed())

	err := ssareconcile.NewStatusApplier(cluster.Client, "widgets-v2", ssareconcile.StatusApplierOptions{LegacyManagers: []string{"someone-else"}}).Apply(t.Context(), w, map[string]any{"phase": "Ready"})
	_, conflict := errors.AsType[*ssa.ConflictError](err)
	g.Expect(conflict).To(BeTrue(), "error %v", err)

	g.Expect(ssareconcile.NewStatusApplier(cluster.Client, "widgets-v2", ssareconcile.StatusApplierOptions{LegacyManagers: []string{"widgets-v1"}}).Apply(t.Context(), w, map[string]any{"phase": "Ready"})).To(Succeed())

	g.Expect(w.Status.Phase).To(Equal("Ready"))
	diff(t, "owners of status.phase", []string{"widgets-v2"}, statusOwners(t, w, "status", "phase"))
}

// A status that is unchanged, given from a cache that keeps only some managedFields entries, is
// not taken over from that copy (the patch would drop the entries the cache trimmed): Apply sends
// the no-op apply and takes over from the server's answer. Every other entry stays.
func TestStatusApplier_TakesOverFromTheServersAnswerNeverFromATrimmedCopy(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	w := createWidget(t, ns, "trimmed-takeover")
	applier := ssareconcile.NewStatusApplier(cluster.Client, "widgets-v2", ssareconcile.StatusApplierOptions{TypeConverters: []managedfields.TypeConverter{widgetTypes(t)}, LegacyManagers: []string{"widgets-v1"}})
	g.Expect(applier.Apply(t.Context(), w, map[string]any{"phase": "Ready"})).To(Succeed())
	applyStatusAs(t, w, "widgets-v1", map[string]any{"phase": "Ready", "selector": map[string]any{"app": "demo"}})
	cached, _, err := getWidget(t.Context(), w)
	g.Expect(err).NotTo(HaveOccurred())
	trimmed, err := ssa.KeepManagedFieldsOf("widgets-v2", "widgets-v1")(cached)
	g.Expect(err).NotTo(HaveOccurred())

	g.Expect(applier.Apply(t.Context(), trimmed.(*testcluster.Widget), map[string]any{"phase": "Ready"})).To(Succeed())

	diff(t, "owners of status.phase", []string{"widgets-v2"}, statusOwners(t, w, "status", "phase"))
	live, _, err := getWidget(t.Context(), w)
	g.Expect(err).NotTo(HaveOccurred())
	var managers []string
	for _, e := range live.ManagedFields {
		managers = append(managers, e.Manager)
	}
	g.Expect(managers).To(ContainElement("user"), "the creator's entry, which the cache had trimmed")
}

// A controller that kept its name wrote status with Status().Update before; naming itself takes
// the fields from that Update entry, never from its own apply, and a second Apply sends nothing.
func TestStatusApplier_NamingItselfTakesOverOnlyItsOldUpdateEntry(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	w := createWidget(t, ns, "same-name-status")
	w.Status.Phase = "Ready"
	g.Expect(cluster.Client.Status().Update(t.Context(), w, client.FieldOwner("widgets"))).To(Succeed())
	c, rec := cluster.RecordingClient(t)
	applier := ssareconcile.NewStatusApplier(c, "widgets", ssareconcile.StatusApplierOptions{TypeConverters: []managedfields.TypeConverter{widgetTypes(t)}, LegacyManagers: []string{"widgets"}})

	g.Expect(applier.Apply(t.Context(), w, map[string]any{"phase": "Ready"})).To(Succeed())
	rec.Reset()
	g.Expect(applier.Apply(t.Context(), w, map[string]any{"phase": "Ready"})).To(Succeed())

	g.Expect(rec.Requests()).To(BeEmpty(), "the second Apply proves the status unchanged")
	live, _, err := getWidget(t.Context(), w)
	g.Expect(err).NotTo(HaveOccurred())
	ownership, err := ssa.ParseOwnership(live.ManagedFields)
	g.Expect(err).NotTo(HaveOccurred())
	var phaseOwners []string
	for _, e := range ownership.Entries {
		if e.Fields.Has(fieldpath.MakePathOrDie("status", "phase")) {
			phaseOwners = append(phaseOwners, e.Manager+"/"+string(e.Operation))
		}
	}
	// The Update entry may keep the status map itself (".", which no apply lists), nothing more.
	diff(t, "owners of status.phase", []string{"widgets/Apply"}, phaseOwners)
}

// A Status().Update writer owns the status struct it created with its fields; once the applier
// has taken over every field it wrote, it owns nothing any more, and no entry names it.
func TestStatusApplier_LeavesAStatusUpdateWriterNoStatusStructItOwnedOnlyForItsFields(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	w := createWidget(t, ns, "status-update-writer")
	w.Status.Phase = "Ready"
	g.Expect(cluster.Client.Status().Update(t.Context(), w, client.FieldOwner("widgets-v1"))).To(Succeed())
	g.Expect(statusEntryPaths(t, w, "widgets-v1")).To(Equal([]string{".status", ".status.phase"}))
	applier := ssareconcile.NewStatusApplier(cluster.Client, "widgets-v2", ssareconcile.StatusApplierOptions{TypeConverters: []managedfields.TypeConverter{widgetTypes(t)}, LegacyManagers: []string{"widgets-v1"}})

	g.Expect(applier.Apply(t.Context(), w, map[string]any{"phase": "Ready"})).To(Succeed())

	diff(t, "what widgets-v1 owns of the status", []string{}, statusEntryPaths(t, w, "widgets-v1"))
	diff(t, "owners of status.phase", []string{"widgets-v2"}, statusOwners(t, w, "status", "phase"))
}

// statusEntryPaths returns the paths manager's status entries own on the live widget.
func statusEntryPaths(t *testing.T, w *testcluster.Widget, manager string) []string {
	t.Helper()
	set := &fieldpath.Set{}
	for _, e := range liveOwnership(t, w).Entries {
		if e.Manager == manager && e.Subresource == "status" {
			set = set.Union(e.Fields)
		}
	}
	return testcluster.FieldPaths(set)
}
