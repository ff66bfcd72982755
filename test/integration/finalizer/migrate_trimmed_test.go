package finalizer

import (
	"testing"

	. "github.com/onsi/gomega"

	"github.com/ssakit/ssakit/internal/testcluster"
	"github.com/ssakit/ssakit/pkg/ssa"
)

// A copy from a cache that keeps only some managedFields entries (here the creator's) shows the
// finalizer owned by nobody it could take from; the server's answer to Migrate's apply shows the
// legacy writer. Migrate plans its takeover again from that answer, never from the copy: the
// legacy writer's claim moves to the finalizer's manager. (Killed mutant:
// migrate-plans-from-the-copy, test/mutants/mutants.txt.)
func TestMigrate_OnATrimmedCopyTakesOverWhatTheAnswerShows(t *testing.T) {
	g := NewWithT(t)
	obj := legacyWidget(t, cluster.Namespace(t), "trimmed")
	trimmed := live(t, testcluster.WidgetGVK, obj)
	_, err := ssa.KeepManagedFieldsOf(userManager)(trimmed)
	g.Expect(err).NotTo(HaveOccurred())
	f := newFinalizer(t, cluster.Client, cleanup, ssa.FinalizerOptions{TakeOverLegacy: true})

	done, err := f.Migrate(t.Context(), trimmed)

	g.Expect(err).NotTo(HaveOccurred())
	diff(t, "migration", ssa.Migration{Object: done.Object, Apply: true, TakeFrom: []string{legacyManager}}, done)
	after := live(t, testcluster.WidgetGVK, obj)
	ownership, err := ssa.ParseOwnership(after.GetManagedFields())
	g.Expect(err).NotTo(HaveOccurred())
	diff(t, "owners of the finalizer", []string{finalizerManager}, ownership.Owners(ssa.FinalizerPath(cleanup)))
	g.Expect(ownedBy(t, after, legacyManager)).To(ContainElements(legacySpec), "the legacy manager keeps its spec")
}
