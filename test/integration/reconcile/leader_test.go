package reconcile

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/resourceversion"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/ssakit/ssakit/internal/testcluster"
	ssareconcile "github.com/ssakit/ssakit/pkg/reconcile"
	"github.com/ssakit/ssakit/pkg/ssa"
)

// countingReader counts the Gets of the API reader a step reads the live object with.
type countingReader struct {
	client.Reader
	gets atomic.Int64
}

func (r *countingReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	r.gets.Add(1)
	return r.Reader.Get(ctx, key, obj, opts...)
}

// electedStep is the step of a process that was elected leader of ns's controller, reading the
// live objects through reader, and applying through c.
func electedStep(t *testing.T, ns string, c client.Client, reader client.Reader) *ssareconcile.Step {
	t.Helper()
	step, err := ssareconcile.NewStep(c, controllerName(ns), cleanupFinalizer, ssareconcile.StepOptions{
		FinalizerOptions: ssa.FinalizerOptions{APIReader: reader},
		LeaderElection:   true,
	})
	if err != nil {
		t.Fatal(err)
	}
	return step
}

// terminatingWidget creates a widget, lets step add its finalizer and another writer add one of
// its own (so the widget outlives the step's removal), deletes it and returns it as read then.
func terminatingWidget(t *testing.T, step *ssareconcile.Step, ns, name string) *testcluster.Widget {
	t.Helper()
	g := NewWithT(t)
	w := createWidget(t, ns, name)
	outcome, _, err := step.Handle(t.Context(), w, nil)
	g.Expect(outcome, err).To(Equal(ssareconcile.Proceed))
	hold := client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"finalizers":["`+cleanupFinalizer+`","test.ssakit.dev/hold"]}}`))
	g.Expect(cluster.Client.Patch(t.Context(), w, hold, client.FieldOwner("someone-else"))).To(Succeed())
	g.Expect(cluster.Client.Delete(t.Context(), w)).To(Succeed())
	terminating, _, err := getWidget(t.Context(), w)
	g.Expect(err).NotTo(HaveOccurred())
	return terminating
}

// The previous leader cleaned the widget up and removed its finalizer; the new leader's cache
// lags and hands it the terminating copy from before the removal, older than its election. Only
// the live read can tell, so it must be made, and the cleanup must not run a second time.
func TestStep_UnderLeaderElectionDoesNotCleanUpAgainWhatAnEarlierLeaderReleased(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	previous := electedStep(t, ns, cluster.Client, cluster.Client)
	terminating := terminatingWidget(t, previous, ns, "handed-over")
	fromLaggingCache := terminating.DeepCopyObject().(*testcluster.Widget)
	var cleanups []string
	cleanup := func(context.Context) (reconcile.Result, error) {
		cleanups = append(cleanups, "cleanup")
		return reconcile.Result{}, nil
	}
	outcome, _, err := previous.Handle(t.Context(), terminating, cleanup)
	g.Expect(outcome, err).To(Equal(ssareconcile.Released))
	next := electedStep(t, ns, cluster.Client, cluster.Client) // a new process, elected after the removal

	outcome, _, err = next.Handle(t.Context(), fromLaggingCache, cleanup)

	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(outcome).To(Equal(ssareconcile.NotHeld), "the new leader's outcome for a copy from before the previous leader's removal")
	if diff := cmp.Diff([]string{"cleanup"}, cleanups); diff != "" {
		t.Errorf("cleanups (-want +got):\n%s", diff)
	}
}

// A widget deleted after the leader's election: its cached copy is newer than the revision read
// after the election, has seen every earlier leader's removal, and the cleanup runs without the
// live read.
func TestStep_UnderLeaderElectionCleansUpACopyNewerThanItsElectionWithoutReadingIt(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	reader := &countingReader{Reader: cluster.Client}
	step := electedStep(t, ns, cluster.Client, reader)
	noop := func(context.Context) (reconcile.Result, error) { return reconcile.Result{}, nil }
	first := terminatingWidget(t, step, ns, "deleted-before-the-revision-was-read")
	outcome, _, err := step.Handle(t.Context(), first, noop) // reads the revision, then this older copy live
	g.Expect(outcome, err).To(Equal(ssareconcile.Released))
	second := terminatingWidget(t, step, ns, "deleted-after")
	before := reader.gets.Load()

	outcome, _, err = step.Handle(t.Context(), second, noop)

	g.Expect(outcome, err).To(Equal(ssareconcile.Released))
	g.Expect(reader.gets.Load()-before).To(BeZero(), "live reads before the cleanup of a copy newer than the election")
	g.Expect(finalizersOf(t.Context(), second)()).To(Equal([]string{"test.ssakit.dev/hold"}))
}

// answerLost is a client whose applies that release a finalizer are written, but whose answer is
// lost on the way back (a timeout after the server wrote it), so the step cannot know the outcome.
type answerLost struct{ client.Client }

var errAnswerLost = errors.New("the answer was lost: context deadline exceeded")

func (c answerLost) Apply(ctx context.Context, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
	u, ok := obj.(interface{ GetFinalizers() []string })
	release := ok && len(u.GetFinalizers()) == 0 // before the answer replaces the configuration
	if err := c.Client.Apply(ctx, obj, opts...); err != nil || !release {
		return err
	}
	return errAnswerLost
}

// The leader's own removal was written, but its answer was lost: the step cannot remember it as
// done, and its cache, lagging, hands it the terminating copy again, newer than the election. The
// step must read the live object before that cleanup, not trust the revision.
func TestStep_UnderLeaderElectionReadsTheObjectAfterItsOwnRemovalWhoseAnswerWasLost(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	step := electedStep(t, ns, answerLost{cluster.Client}, cluster.Client)
	noop := func(context.Context) (reconcile.Result, error) { return reconcile.Result{}, nil }
	first := terminatingWidget(t, step, ns, "read-the-revision")
	outcome, _, err := step.Handle(t.Context(), first, noop)
	g.Expect(errors.Is(err, errAnswerLost)).To(BeTrue(), "the first removal's error: %v", err)
	g.Expect(outcome).To(Equal(ssareconcile.Failed))
	terminating := terminatingWidget(t, step, ns, "removal-answer-lost")
	fromLaggingCache := terminating.DeepCopyObject().(*testcluster.Widget)
	cleanups := 0
	cleanup := func(context.Context) (reconcile.Result, error) { cleanups++; return reconcile.Result{}, nil }
	outcome, _, err = step.Handle(t.Context(), terminating, cleanup)
	g.Expect(errors.Is(err, errAnswerLost)).To(BeTrue(), "the removal's error: %v", err)
	g.Expect(outcome).To(Equal(ssareconcile.Failed))

	outcome, _, err = step.Handle(t.Context(), fromLaggingCache, cleanup)

	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(outcome).To(Equal(ssareconcile.NotHeld), "the outcome for a copy from before a removal whose answer was lost")
	g.Expect(cleanups).To(Equal(1), "cleanups")
}

// Row 34: resourceVersions of one resource compare as integers, a List's (a consistent read) is
// at least that of every write before it, and every later write's is larger.
func TestRow34_AListsResourceVersionIsAtLeastEveryEarlierWriteAndBelowEveryLaterOne(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	earlier := createWidget(t, ns, "earlier")
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(testcluster.WidgetGVK.GroupVersion().WithKind("WidgetList"))
	g.Expect(cluster.Client.List(t.Context(), list, client.InNamespace(ns), client.Limit(1))).To(Succeed())
	later := createWidget(t, ns, "later")

	got := map[string]int{}
	for name, rv := range map[string]string{"earlier": earlier.ResourceVersion, "later": later.ResourceVersion} {
		order, err := resourceversion.CompareResourceVersion(rv, list.ResourceVersion)
		g.Expect(err).NotTo(HaveOccurred())
		got[name] = order
	}

	g.Expect(got["earlier"]).To(BeNumerically("<=", 0), "the earlier write against the list (%s, %s)", earlier.ResourceVersion, list.ResourceVersion)
	g.Expect(got["later"]).To(Equal(1), "the later write against the list (%s, %s)", later.ResourceVersion, list.ResourceVersion)
}
