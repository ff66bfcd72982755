package finalizer

import (
	"errors"
	"net/http"
	"testing"

	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ssakit/ssakit/pkg/ssa"
)

// Row 4: releasing the manager's only finalizer removes it and the manager's entry.
func TestRemove_RemovesTheFinalizerAndTheManagersEntry(t *testing.T) {
	for _, fl := range flavours {
		t.Run(fl.name, func(t *testing.T) {
			g := NewWithT(t)
			ns := cluster.Namespace(t)
			obj := fl.create(t, ns, "remove")
			c, rec := cluster.RecordingClient(t)
			f := newFinalizer(t, c, cleanup, ssa.FinalizerOptions{})
			g.Expect(f.Add(t.Context(), obj)).Error().To(Succeed())
			rec.Reset()

			g.Expect(f.Remove(t.Context(), obj)).Error().To(Succeed())

			diff(t, "requests", []string{http.MethodPatch}, methods(rec.Requests()))
			after := live(t, fl.gvk, obj)
			g.Expect(after.GetFinalizers()).To(BeEmpty())
			g.Expect(entryFields(after, finalizerManager)).To(BeEmpty(), "the manager's entry")
			g.Expect(obj.GetFinalizers()).To(BeEmpty(), "finalizers of the object passed in")
		})
	}
}

// Rows 3 and 4: two finalizers of one controller have a manager each; removing one keeps the other
// and the other's entry.
func TestRemove_KeepsTheOtherFinalizerOfTheSameController(t *testing.T) {
	for _, fl := range flavours {
		t.Run(fl.name, func(t *testing.T) {
			g := NewWithT(t)
			ns := cluster.Namespace(t)
			obj := fl.create(t, ns, "remove-one")
			first := newFinalizer(t, cluster.Client, cleanup, ssa.FinalizerOptions{})
			second := newFinalizer(t, cluster.Client, "example.com/backup", ssa.FinalizerOptions{})
			g.Expect(first.Add(t.Context(), obj)).Error().To(Succeed())
			g.Expect(second.Add(t.Context(), obj)).Error().To(Succeed())
			diff(t, "finalizers after both adds", []string{cleanup, "example.com/backup"}, fl.get(t, obj).GetFinalizers())

			g.Expect(first.Remove(t.Context(), obj)).Error().To(Succeed())

			after := live(t, fl.gvk, obj)
			diff(t, "finalizers", []string{"example.com/backup"}, after.GetFinalizers())
			g.Expect(entryFields(after, finalizerManager)).To(BeEmpty(), "the removed finalizer's entry")
			g.Expect(entryFields(after, second.FieldOwner())).To(MatchJSON(`{"f:metadata":{"f:finalizers":{"v:\"example.com/backup\"":{}}}}`))
		})
	}
}

// Remove sends its release even when the object passed in does not show the finalizer: that copy
// may be older than the finalizer, and Remove never reports success while it is on the object.
func TestRemove_OnACopyReadBeforeTheFinalizerWasAddedRemovesIt(t *testing.T) {
	for _, fl := range flavours {
		t.Run(fl.name, func(t *testing.T) {
			g := NewWithT(t)
			ns := cluster.Namespace(t)
			obj := fl.create(t, ns, "remove-older-copy")
			older := fl.get(t, obj)
			f := newFinalizer(t, cluster.Client, cleanup, ssa.FinalizerOptions{})
			g.Expect(f.Add(t.Context(), fl.get(t, obj))).Error().To(Succeed())

			g.Expect(f.Remove(t.Context(), older)).Error().To(Succeed())

			g.Expect(fl.get(t, obj).GetFinalizers()).To(BeEmpty())
		})
	}
}

// Rows 9 and 13: a Remove that comes after the object is gone succeeds and does not resurrect it.
func TestRemove_OnAnObjectThatIsGoneSucceedsAndRecreatesNothing(t *testing.T) {
	for _, fl := range flavours {
		t.Run(fl.name, func(t *testing.T) {
			g := NewWithT(t)
			ns := cluster.Namespace(t)
			obj := fl.create(t, ns, "remove-gone")
			c, rec := cluster.RecordingClient(t)
			f := newFinalizer(t, c, cleanup, ssa.FinalizerOptions{})
			g.Expect(f.Add(t.Context(), obj)).Error().To(Succeed())
			stale := obj.DeepCopyObject().(client.Object)
			g.Expect(cluster.Client.Delete(t.Context(), obj)).To(Succeed())
			g.Expect(newFinalizer(t, cluster.Client, cleanup, ssa.FinalizerOptions{}).Remove(t.Context(), fl.get(t, obj))).Error().To(Succeed(), "someone else's removal")
			expectGone(t, fl, obj)
			rec.Reset()

			g.Expect(f.Remove(t.Context(), stale)).Error().To(Succeed())

			expectGone(t, fl, obj)
			requests := rec.Requests()
			g.Expect(requests).To(HaveLen(1))
			g.Expect(requests[0].StatusCode).To(Equal(http.StatusConflict), "the uid precondition refused the apply")
		})
	}
}

// Row 10: Remove on an object replaced under the same name is ErrReplaced; the new one is untouched.
func TestRemove_RefusesAnObjectReplacedUnderTheSameName(t *testing.T) {
	for _, fl := range flavours {
		t.Run(fl.name, func(t *testing.T) {
			g := NewWithT(t)
			ns := cluster.Namespace(t)
			old := fl.create(t, ns, "remove-replaced")
			f := newFinalizer(t, cluster.Client, cleanup, ssa.FinalizerOptions{})
			g.Expect(f.Add(t.Context(), old)).Error().To(Succeed())
			stale := old.DeepCopyObject().(client.Object)
			g.Expect(cluster.Client.Delete(t.Context(), old)).To(Succeed())
			g.Expect(f.Remove(t.Context(), fl.get(t, old))).Error().To(Succeed())
			successor := fl.create(t, ns, "remove-replaced")
			addByUpdate(t.Context(), t, successor, legacyManager, cleanup)
			before := live(t, fl.gvk, successor)

			_, err := f.Remove(t.Context(), stale)

			g.Expect(err).To(MatchError(ssa.ErrReplaced))
			after := live(t, fl.gvk, successor)
			g.Expect(after.GetResourceVersion()).To(Equal(before.GetResourceVersion()), "the successor was written")
			diff(t, "the successor's finalizers", []string{cleanup}, after.GetFinalizers())
		})
	}
}

// Row 3: a finalizer co-owned by a legacy Update manager stays when the Finalizer releases it, and
// Remove says so, naming the co-owner.
func TestRemove_ReportsCoOwnersInsteadOfSuccess(t *testing.T) {
	for _, fl := range flavours {
		t.Run(fl.name, func(t *testing.T) {
			g := NewWithT(t)
			ns := cluster.Namespace(t)
			obj := fl.create(t, ns, "remove-co-owned")
			addByUpdate(t.Context(), t, obj, legacyManager, cleanup)
			f := newFinalizer(t, cluster.Client, cleanup, ssa.FinalizerOptions{})
			g.Expect(f.Add(t.Context(), obj)).Error().To(Succeed(), "taking co-ownership")
			g.Expect(entryFields(obj, finalizerManager)).NotTo(BeEmpty())

			_, err := f.Remove(t.Context(), obj)

			var coOwned *ssa.CoOwnedError
			g.Expect(errors.As(err, &coOwned)).To(BeTrue(), "error %v", err)
			diff(t, "co-owners", []string{legacyManager}, coOwned.CoOwners)
			g.Expect(err.Error()).To(ContainSubstring(`it is also owned by "legacy-operator"`))
			diff(t, "finalizers", []string{cleanup}, live(t, fl.gvk, obj).GetFinalizers())
		})
	}
}

// Row 3: a finalizer that only another manager owns cannot be removed by this one: the release
// (one apply that changes nothing) answers with the finalizer still there, and Remove names the
// owner from that answer.
func TestRemove_ReportsAFinalizerOwnedOnlyByOthers(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	obj := typedWidget.create(t, ns, "remove-not-owned")
	addByUpdate(t.Context(), t, obj, legacyManager, cleanup)
	c, rec := cluster.RecordingClient(t)

	_, err := newFinalizer(t, c, cleanup, ssa.FinalizerOptions{}).Remove(t.Context(), obj)

	var coOwned *ssa.CoOwnedError
	g.Expect(errors.As(err, &coOwned)).To(BeTrue(), "error %v", err)
	diff(t, "co-owners", []string{legacyManager}, coOwned.CoOwners)
	diff(t, "requests", []string{http.MethodPatch}, methods(rec.Requests()))
	diff(t, "finalizers", []string{cleanup}, typedWidget.get(t, obj).GetFinalizers())
}

// Row 3: a controller that kept its field manager's name when it moved to ssakit still has an
// Update entry under that name; Remove names it, and says it is an Update entry.
func TestRemove_NamesAnUpdateEntryUnderTheFinalizersOwnManagerName(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	obj := typedWidget.create(t, ns, "same-name")
	addByUpdate(t.Context(), t, obj, "kept-name", cleanup)
	f := newFinalizerFor(t, cluster.Client, "kept", cleanup, ssa.FinalizerOptions{FieldOwner: "kept-name"})
	g.Expect(f.Add(t.Context(), obj)).Error().To(Succeed())

	_, err := f.Remove(t.Context(), obj)

	coOwned, ok := errors.AsType[*ssa.CoOwnedError](err)
	g.Expect(ok).To(BeTrue(), "error %v", err)
	diff(t, "co-owners", []string{"kept-name"}, coOwned.CoOwners)
	g.Expect(err.Error()).To(ContainSubstring(`"kept-name" through an Update entry`))
}

func expectGone(t *testing.T, fl flavour, obj client.Object) {
	t.Helper()
	err := cluster.Client.Get(t.Context(), client.ObjectKeyFromObject(obj), fl.empty())
	if !apierrors.IsNotFound(err) {
		t.Fatalf("want %s NotFound, got %v", client.ObjectKeyFromObject(obj), err)
	}
}

// IsOnLive answers from one uncached metadata read, so a stale copy cannot fool it.
func TestIsOnLive_ReadsTheLiveObject(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	obj := typedWidget.create(t, ns, "held")
	f := newFinalizer(t, cluster.Client, cleanup, ssa.FinalizerOptions{})
	g.Expect(f.Add(t.Context(), obj)).Error().To(Succeed())
	stale := obj.DeepCopyObject().(client.Object)
	c, rec := cluster.RecordingClient(t)
	reader := newFinalizer(t, c, cleanup, ssa.FinalizerOptions{APIReader: c})

	g.Expect(reader.IsOnLive(t.Context(), obj)).To(BeTrue(), "while it is there")
	g.Expect(f.Remove(t.Context(), obj)).Error().To(Succeed())
	g.Expect(reader.IsOnLive(t.Context(), stale)).To(BeFalse(), "after its removal, from a stale copy")
	g.Expect(cluster.Client.Delete(t.Context(), obj)).To(Succeed())
	g.Expect(reader.IsOnLive(t.Context(), obj)).To(BeFalse(), "once the object is gone")

	diff(t, "requests", []string{http.MethodGet, http.MethodGet, http.MethodGet}, methods(rec.Requests()))
}

// A stale object without managedFields (a stripped cache) still lists a finalizer that is gone
// from the live object: the release changes nothing, and the answer shows the finalizer gone.
func TestRemove_OnAStaleObjectWhoseFinalizerIsAlreadyGoneSucceeds(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	obj := typedWidget.create(t, ns, "remove-stale")
	f := newFinalizer(t, cluster.Client, cleanup, ssa.FinalizerOptions{})
	g.Expect(f.Add(t.Context(), obj)).Error().To(Succeed())
	stale := obj.DeepCopyObject().(client.Object)
	stale.SetManagedFields(nil)
	g.Expect(f.Remove(t.Context(), obj)).Error().To(Succeed())
	c, rec := cluster.RecordingClient(t)

	g.Expect(newFinalizer(t, c, cleanup, ssa.FinalizerOptions{}).Remove(t.Context(), stale)).Error().To(Succeed())

	diff(t, "requests", []string{http.MethodPatch}, methods(rec.Requests()))
	g.Expect(stale.GetFinalizers()).To(BeEmpty(), "the object passed in, replaced by the answer")
}
