package reconcile

import (
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ssakit/ssakit/internal/testcluster"
	ssareconcile "github.com/ssakit/ssakit/pkg/reconcile"
	"github.com/ssakit/ssakit/pkg/ssa"
)

// stripped is obj as a cache that strips managedFields (client-go's TransformStripManagedFields)
// hands it over.
func stripped(obj *testcluster.Widget) *testcluster.Widget {
	c := obj.DeepCopyObject().(*testcluster.Widget)
	c.ManagedFields = nil
	return c
}

// recordingStep is a step of ns's controller that applies through a client whose requests are
// recorded.
func recordingStep(t *testing.T, ns string) (*ssareconcile.Step, *testcluster.Recorder) {
	t.Helper()
	c, recorder := cluster.RecordingClient(t)
	step, err := ssareconcile.NewStep(c, controllerName(ns), cleanupFinalizer, ssareconcile.StepOptions{FinalizerOptions: ssa.FinalizerOptions{APIReader: cluster.Client}})
	if err != nil {
		t.Fatal(err)
	}
	return step, recorder
}

// A cache that strips managedFields hands the step the object its own add answered with, without
// the entries that prove the finalizer owned: same UID, same resourceVersion, the same object. The
// resyncs send nothing.
func TestStep_SendsNothingForAStrippedCopyOfTheObjectItsAddAnswered(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	step, recorder := recordingStep(t, ns)
	w := createWidget(t, ns, "stripped-resyncs")
	outcome, _, err := step.Handle(t.Context(), stripped(w), nil)
	g.Expect(outcome, err).To(Equal(ssareconcile.Proceed))
	answered, _, err := getWidget(t.Context(), w)
	g.Expect(err).NotTo(HaveOccurred())
	recorder.Reset()

	for range 3 {
		outcome, _, err = step.Handle(t.Context(), stripped(answered), nil)
		g.Expect(outcome, err).To(Equal(ssareconcile.Proceed))
	}

	g.Expect(recorder.Requests()).To(BeEmpty(), "requests of three resyncs of a stripped copy of the step's own answer")
}

// Someone wrote the object since the step's add: the stripped copy has another resourceVersion,
// nothing proves the finalizer still owned, and the step applies again.
func TestStep_AppliesForAStrippedCopyWrittenSinceItsAdd(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	step, recorder := recordingStep(t, ns)
	w := createWidget(t, ns, "stripped-written-since")
	outcome, _, err := step.Handle(t.Context(), stripped(w), nil)
	g.Expect(outcome, err).To(Equal(ssareconcile.Proceed))
	label := client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"labels":{"written":"since"}}}`))
	g.Expect(cluster.Client.Patch(t.Context(), w, label, client.FieldOwner("someone-else"))).To(Succeed())
	recorder.Reset()

	outcome, _, err = step.Handle(t.Context(), stripped(w), nil)

	g.Expect(outcome, err).To(Equal(ssareconcile.Proceed))
	g.Expect(recorder.Writes()).To(HaveLen(1), "writes for a stripped copy written by someone else since the add")
}

// The reconcile that the controller's own status write brings often reads the object from a cache
// that has not seen the write: a copy older than the applier's last answer. Its apply would be
// refused with a 409 after the server's merge; the applier refuses it itself, without a request.
func TestStatusApplier_RefusesACopyOlderThanItsOwnLastWriteWithoutARequest(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	c, recorder := cluster.RecordingClient(t)
	applier := ssareconcile.NewStatusApplier(c, controllerName(ns), ssareconcile.StatusApplierOptions{})
	w := createWidget(t, ns, "older-than-own-write")
	fromLaggingCache := w.DeepCopyObject().(*testcluster.Widget)
	g.Expect(applier.Apply(t.Context(), w, map[string]any{"phase": "Ready"})).To(Succeed())
	recorder.Reset()

	err := applier.Apply(t.Context(), fromLaggingCache, map[string]any{"phase": "Done"})

	g.Expect(err).To(MatchError(ssa.ErrStale))
	g.Expect(recorder.Requests()).To(BeEmpty(), "requests for a copy older than the applier's own last write")
}
