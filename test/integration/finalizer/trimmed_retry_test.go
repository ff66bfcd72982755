package finalizer

import (
	"context"
	"testing"

	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ssakit/ssakit/internal/testcluster"
	"github.com/ssakit/ssakit/pkg/ssa"
)

// trimmedReads reads as a manager's client does from a cache that keeps only some managedFields
// entries (ssa.KeepManagedFieldsOf).
type trimmedReads struct {
	client.Client
	keep []string
}

func (c *trimmedReads) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if err := c.Client.Get(ctx, key, obj, opts...); err != nil {
		return err
	}
	_, err := ssa.KeepManagedFieldsOf(c.keep...)(obj)
	return err
}

// The takeover patch met a newer object, and the finalizer's client reads from a cache that keeps
// only the finalizer's and the legacy writer's entries, as a controller's does: the retry computes
// the patch again from an apply's answer, never from such a read, or the patch, which sets the
// whole list, would drop the creator's entry. (Killed mutant: takeover-from-a-trimmed-copy,
// test/mutants/mutants.txt.)
func TestRemove_RetriesATakeoverFromAnAnswerNeverFromACachedRead(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	obj := legacyWidget(t, ns, "trimmed-retry")
	c := &trimmedReads{Client: &writeBeforeFirstJSONPatch{Client: cluster.Client, write: labelByUser(t, obj)}, keep: []string{finalizerManager, legacyManager}}

	g.Expect(newFinalizer(t, c, cleanup, ssa.FinalizerOptions{TakeOverLegacy: true}).Remove(t.Context(), obj)).Error().To(Succeed())

	after := live(t, testcluster.WidgetGVK, obj)
	g.Expect(after.GetFinalizers()).To(BeEmpty())
	g.Expect(ownedBy(t, after, userManager)).To(ContainElement(".metadata.labels.edited"), "the user's ownership of the label it wrote meanwhile")
	g.Expect(ownedBy(t, after, userManager)).To(ContainElement(".metadata.labels.app"), "the creator's ownership of what it created")
	g.Expect(ownedBy(t, after, legacyManager)).To(ContainElements(legacySpec), "the legacy writer's")
}
