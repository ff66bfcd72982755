package finalizer

import (
	"testing"

	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ssakit/ssakit/pkg/ssa"
)

// Rows 9 and 10: the object a caller holds was deleted and released, and another object now has
// its name and carries the same finalizer. IsOnLive reads the successor, which is not the object
// held: the finalizer of the object held is not on anything, and a cleanup decided from the old
// copy must not run again. (Killed mutant: isonlive-ignores-uid, test/mutants/mutants.txt.)
func TestIsOnLive_IsFalseWhenASuccessorUnderTheNameCarriesTheFinalizer(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	f := newFinalizer(t, cluster.Client, cleanup, ssa.FinalizerOptions{APIReader: cluster.Client})
	old := typedWidget.create(t, ns, "replaced")
	g.Expect(f.Add(t.Context(), old)).Error().To(Succeed())
	g.Expect(cluster.Client.Delete(t.Context(), old)).To(Succeed())
	held := old.DeepCopyObject().(client.Object) // terminating or not, as a cache that lags holds it
	g.Expect(f.Remove(t.Context(), old)).Error().To(Succeed())
	expectGone(t, typedWidget, old)
	successor := typedWidget.create(t, ns, "replaced")
	g.Expect(f.Add(t.Context(), successor)).Error().To(Succeed())
	g.Expect(successor.GetUID()).NotTo(Equal(held.GetUID()))

	onLive, err := f.IsOnLive(t.Context(), held)

	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(onLive).To(BeFalse(), "the finalizer of %s (uid %s), read through its successor (uid %s)", client.ObjectKeyFromObject(held), held.GetUID(), successor.GetUID())
	g.Expect(f.IsOnLive(t.Context(), successor)).To(BeTrue(), "the successor's own finalizer")
}
