package proof

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/ssakit/ssakit/internal/testcluster"
)

const (
	lostController = "lost-answer"
	lostFinal      = "lost-answer.ssakit.dev/cleanup"
	// lostHold is a finalizer of the user's that keeps a Widget terminating after the
	// controller's removal.
	lostHold = "user.example.com/hold"
	// lostManagedLabel marks the Widgets the controller's cache sees: a successor created
	// without it is invisible to the controller, so anything written to it is the retry of a
	// write meant for the Widget it replaced.
	lostManagedLabel = "proof.ssakit.dev/lost-answer"
	// lostWithin bounds the waits of the lost-answer tests; far above what each takes.
	lostWithin = 30 * time.Second
)

// lostElections are the two ways the controller runs: without leader election, where every
// cleanup reads the live object first; and as the elected leader with reconcile.New's
// Options.LeaderElection, where a cleanup may trust a cached copy newer than the revision read
// after the election, unless the step sent a removal of the object whose answer it did not get.
var lostElections = []struct {
	name     string
	election *leaderElection
}{
	{"without leader election", nil},
	{"elected, with Options.LeaderElection", &leaderElection{id: "ssakit-lost-answer", releaseOnCancel: true, leaseDuration: handoffLease, renewDeadline: handoffRenew, retryPer: handoffRetry}},
}

// What the user does while the answer of the controller's write is lost, before the retry.
const (
	lostNothing  = "nothing"  // the retry meets the Widget as the write left it
	lostDeleted  = "deleted"  // the Widget is gone: the user stripped the finalizer and deleted it
	lostReplaced = "replaced" // gone, and another Widget, the successor, holds its name
	lostHeld     = "held"     // terminating, kept by the user's own finalizer (a removal's case)
)

// lostCase is one Widget whose write's answer is lost.
type lostCase struct {
	meanwhile string // lostNothing, lostDeleted, lostReplaced or lostHeld
	widget    *testcluster.Widget
	successor *testcluster.Widget // as the user created it
	fault     *fault
	fired     wireRequest // the write the fault caught
}

// lostRun is a running controller whose writes of one kind lose their answer, one Widget per
// case.
type lostRun struct {
	ns      string
	write   string
	wire    *wire
	ledger  *ledger
	watch   *uidWatch
	user    *widgetUser
	lagging *laggingClient
	cases   map[string]*lostCase // by Widget name
}

// lostOutcome is how a case ended.
type lostOutcome struct {
	// Served is the server's status code for the write whose answer was lost: it was made.
	Served int
	// Live is the Widget under the name at the end, briefly: "none", or its finalizers, whether
	// it terminates, and its status phase.
	Live string
	// Successor is what changed on the successor since the user created it; empty when nothing.
	Successor string
	// Cleanups is how many times the cleanup of the Widget completed.
	Cleanups int
}

// runLostAnswer runs the controller (one replica, reading through a lagging client, its cache
// limited to the Widgets labelled lostManagedLabel; under leader election when election is set),
// arms, for each case, a fault that drops the answer to a write of the kind on the case's Widget,
// and plays the cases at once: created, finalized and deleted, or given a new spec, by the user
// as the write needs. While the answer is lost, the user does what the case says, and the
// controller's next read of the Widget returns the copy its failed reconcile read (a cache that
// has not caught up), so its retry meets the stale copy. It returns once every fault fired and
// the controller has been idle a while.
func runLostAnswer(t *testing.T, write string, election *leaderElection, cases ...string) *lostRun {
	t.Helper()
	r := &lostRun{ns: cluster.Namespace(t), write: write, wire: &wire{}, lagging: newLaggingClient(), cases: map[string]*lostCase{}}
	r.ledger = newLedger(r.wire, lostFinal)
	r.watch = watchUIDs(t.Context(), t, r.ns, r.ledger)
	r.user = newWidgetUser(r.ns)
	for _, meanwhile := range cases {
		name := strings.ReplaceAll(write, " ", "-") + "-" + meanwhile
		c := &lostCase{meanwhile: meanwhile}
		// A status apply is caught after a spec change (armed below, once the first status is
		// on), so that the reconcile read the Widget with the finalizer already on, and the
		// retry's copy is the one the status was applied on (the first reconcile's status apply
		// is made on the add's answer).
		if write != writeStatus {
			c.fault = r.armFor(t, name, c)
		}
		r.cases[name] = c
	}
	schemas, err := cluster.ServerTypeConverter(testcluster.WidgetGVK.GroupVersion())
	if err != nil {
		t.Fatal(err)
	}
	startWidgetReplica(t, r.wire, r.ledger, replicaOptions{name: "controller", controller: lostController, ns: r.ns,
		only: labels.SelectorFromSet(labels.Set{lostManagedLabel: "managed"}), lagging: r.lagging, types: schemas, election: election})
	managed := map[string]string{lostManagedLabel: "managed"}
	for name, c := range r.cases {
		var finalizers []string
		if c.meanwhile == lostHeld {
			finalizers = []string{lostHold}
		}
		c.widget = r.user.create(t.Context(), t, name, managed, finalizers...)
	}
	for name, c := range r.cases {
		switch write {
		case writeRemoval:
			// The reconcile that added the finalizer applies the first status after it: the
			// user deletes once both are on, so that the held case's status says which.
			waitFor(t, lostWithin, "the finalizer and the first status on "+name, func() bool {
				live := &testcluster.Widget{}
				return cluster.Client.Get(t.Context(), client.ObjectKeyFromObject(c.widget), live) == nil &&
					controllerutil.ContainsFinalizer(live, lostFinal) && live.Status.Phase == "blue"
			})
			r.user.delete(t.Context(), t, c.widget)
		case writeStatus:
			waitFor(t, lostWithin, "the first status of "+name, func() bool {
				live := &testcluster.Widget{}
				return cluster.Client.Get(t.Context(), client.ObjectKeyFromObject(c.widget), live) == nil && live.Status.Phase == "blue"
			})
			// Armed now, not to count a status apply before the spec change: the retry of a
			// reconcile that met a cache from before the first status, say.
			c.fault = r.armFor(t, name, c)
			recolor := client.RawPatch(types.MergePatchType, []byte(`{"spec":{"color":"green"}}`))
			if err := cluster.Client.Patch(t.Context(), c.widget.DeepCopyObject().(client.Object), recolor, client.FieldOwner(widgetOwner)); err != nil {
				t.Fatalf("changing the color of %s: %v", name, err)
			}
		}
	}
	for name, c := range r.cases {
		select {
		case c.fired = <-c.fault.fired:
		case <-time.After(lostWithin):
			t.Fatalf("the controller sent no %s of %s", write, name)
		}
	}
	waitControllerIdle(t, lostController, 500*time.Millisecond)
	return r
}

// armFor arms the fault of the case name: the answer to its next write of the run's kind is
// lost, and meanwhile runs.
func (r *lostRun) armFor(t *testing.T, name string, c *lostCase) *fault {
	return r.wire.arm(&fault{write: r.write, path: widgetPath(r.ns, name), n: 1, meanwhile: func() { r.meanwhile(t, c) }})
}

// meanwhile runs while the answer to the case's write is lost: the controller's next read of
// the Widget will return the copy its failed reconcile read, and the user does what the case
// says.
func (r *lostRun) meanwhile(t *testing.T, c *lostCase) {
	ctx := t.Context()
	r.lagging.behind(client.ObjectKeyFromObject(c.widget))
	if c.meanwhile != lostDeleted && c.meanwhile != lostReplaced {
		return
	}
	if r.write != writeRemoval {
		// The Widget carries the controller's finalizer: the user strips it (a merge patch drops
		// it from every manager, row 5) and deletes the Widget, which goes at once.
		r.watch.excuse(c.widget.UID)
		strip := client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`))
		if err := cluster.Client.Patch(ctx, c.widget.DeepCopyObject().(client.Object), strip, client.FieldOwner(widgetOwner)); err != nil {
			t.Errorf("stripping the finalizers of %s: %v", c.widget.Name, err)
		}
		r.user.delete(ctx, t, c.widget)
	}
	if c.meanwhile == lostReplaced {
		// The successor lacks the label, so the controller never reconciles it. After a lost
		// removal, it carries the controller's finalizer (a manifest copied from the old
		// Widget, say), so that a live read by name alone would find the finalizer on it.
		var finalizers []string
		if r.write == writeRemoval {
			finalizers = []string{lostFinal}
		}
		c.successor = r.user.create(ctx, t, c.widget.Name, nil, finalizers...)
	}
}

// outcomes returns how each case ended, by Widget name.
func (r *lostRun) outcomes(t *testing.T) map[string]lostOutcome {
	t.Helper()
	got := map[string]lostOutcome{}
	for name, c := range r.cases {
		live := &testcluster.Widget{}
		err := cluster.Client.Get(t.Context(), client.ObjectKeyFromObject(c.widget), live)
		o := lostOutcome{Served: c.fired.served, Cleanups: r.ledger.completions(c.widget.UID)}
		switch {
		case apierrors.IsNotFound(err):
			o.Live = "none"
		case err != nil:
			t.Fatalf("reading %s: %v", name, err)
		case c.successor != nil:
			o.Live = "the successor"
			o.Successor = changedSince(c.successor, live)
		default:
			o.Live = brief(live)
		}
		got[name] = o
	}
	return got
}

// brief describes a Widget by its finalizers, whether it terminates, and its status.
func brief(w *testcluster.Widget) string {
	s := fmt.Sprintf("finalizers %v, phase %q, observedGeneration %d of %d", w.Finalizers, w.Status.Phase, w.Status.ObservedGeneration, w.Generation)
	if !w.DeletionTimestamp.IsZero() {
		s = "terminating, " + s
	}
	return s
}

// changedSince describes what changed on a Widget since created, the create's answer: nothing,
// when its resourceVersion is the same.
func changedSince(created, live *testcluster.Widget) string {
	if live.UID != created.UID {
		return fmt.Sprintf("another Widget holds the name: uid %s, not the successor's %s", live.UID, created.UID)
	}
	if live.ResourceVersion == created.ResourceVersion {
		return ""
	}
	var managers []string
	for _, e := range live.ManagedFields {
		managers = append(managers, e.Manager+"/"+string(e.Operation)+"/"+e.Subresource)
	}
	return fmt.Sprintf("written since the user created it: %s, managers %v", brief(live), managers)
}

// check compares the cases' outcomes with want and the test's watch, the ledger and the lagging
// client with a run where nothing goes wrong, and prints the figures.
func (r *lostRun) check(t *testing.T, want map[string]lostOutcome) {
	t.Helper()
	var uids []types.UID
	for _, c := range r.cases {
		if c.meanwhile != lostNothing && c.meanwhile != lostHeld {
			uids = append(uids, c.widget.UID)
		}
	}
	got := r.outcomes(t)
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("after a %s whose answer was lost, by Widget (-want +got):\n%s", r.write, d)
	}
	lost, recreated, notGone := r.watch.outcome(r.user.created(), uids)
	if d := cmp.Diff(struct{ Lost, Recreated, NotSeenGone, Violations []string }{}, struct{ Lost, Recreated, NotSeenGone, Violations []string }{lost, recreated, notGone, r.ledger.violated()}); d != "" {
		t.Errorf("after a %s whose answer was lost (-want +got):\n%s", r.write, d)
	}
	if got, want := r.lagging.stale(), len(r.cases); got != want {
		t.Errorf("%d retries met the copy their failed reconcile read, want %d: one a case", got, want)
	}
	again := 0
	for _, o := range got {
		again += max(o.Cleanups-1, 0)
	}
	var retries []string
	for _, name := range slices.Sorted(maps.Keys(r.cases)) {
		retries = append(retries, name+": "+r.retried(r.cases[name]))
	}
	line := fmt.Sprintf("lost answer: %d Widgets whose %s was made and its answer dropped, each retried from the stale copy; %d recreated, %d successors written, %d cleanups run again, %d violations; "+
		"the controller's writes of them after the fault: %s",
		len(r.cases), r.write, len(recreated), successorsWritten(got), again, len(r.ledger.violated()), strings.Join(retries, "; "))
	t.Log(line)
	fmt.Println(line)
}

// retried lists the controller's writes of the case's Widget after the one whose answer was lost,
// with the status codes they got.
func (r *lostRun) retried(c *lostCase) string {
	var writes []string
	after := false
	for _, req := range r.wire.since(0) {
		switch {
		case req == c.fired:
			after = true
		case after && req.write != "" && strings.TrimSuffix(req.path, "/status") == strings.TrimSuffix(c.fired.path, "/status"):
			writes = append(writes, fmt.Sprintf("%s %d", req.write, req.status))
		}
	}
	if len(writes) == 0 {
		return "none"
	}
	return strings.Join(writes, ", ")
}

func successorsWritten(got map[string]lostOutcome) int {
	n := 0
	for _, o := range got {
		if o.Successor != "" {
			n++
		}
	}
	return n
}

// The controller's finalizer add is made and its answer lost (a connection reset after the server
// answered 200). The retry reads the copy from before the add (a cache behind) and applies the
// finalizer again, guarded by the Widget's UID:
//
//   - nothing else happened: the second add changes nothing, and the Widget lives with the
//     finalizer and the status of its generation;
//   - meanwhile the user stripped the finalizer and deleted the Widget: the retry's apply finds
//     no object of that UID (row 9) and creates nothing;
//   - and created a successor under the name: the retry's apply is refused (row 10) and the
//     successor is untouched (its resourceVersion is the one its create returned).
//
// No name is ever seen with a UID the user did not create, and no cleanup runs.
func TestLostAnswer_ARetriedFinalizerAddRecreatesNothingAndWritesNoSuccessor(t *testing.T) {
	for _, e := range lostElections {
		t.Run(e.name, func(t *testing.T) {
			r := runLostAnswer(t, writeAdd, e.election, lostNothing, lostDeleted, lostReplaced)
			r.check(t, map[string]lostOutcome{
				"finalizer-add-nothing":  {Served: 200, Live: `finalizers [lost-answer.ssakit.dev/cleanup], phase "blue", observedGeneration 1 of 1`},
				"finalizer-add-deleted":  {Served: 200, Live: "none"},
				"finalizer-add-replaced": {Served: 200, Live: "the successor"},
			})
		})
	}
}

// The controller's finalizer removal, after a cleanup that completed, is made and its answer
// lost. The retry reads the copy from before the removal (terminating, with the finalizer):
//
//   - the user's own finalizer keeps the Widget terminating: the step's live read finds the
//     controller's finalizer gone, and the cleanup does not run again;
//   - the removal deleted the Widget: the live read finds none;
//   - and the user created a successor that carries the controller's finalizer: the live read
//     finds another UID under the name, and neither runs the cleanup again nor writes the
//     successor.
//
// Handler.Cleanup allows a cleanup to run again when its removal has to be retried; none needs
// to be, and none runs again. No Widget is recreated.
func TestLostAnswer_ARetriedFinalizerRemovalRunsNoCleanupAgainAndWritesNoSuccessor(t *testing.T) {
	for _, e := range lostElections {
		t.Run(e.name, func(t *testing.T) {
			r := runLostAnswer(t, writeRemoval, e.election, lostHeld, lostDeleted, lostReplaced)
			r.check(t, map[string]lostOutcome{
				"finalizer-removal-held":     {Served: 200, Live: `terminating, finalizers [user.example.com/hold], phase "blue", observedGeneration 1 of 2`, Cleanups: 1},
				"finalizer-removal-deleted":  {Served: 200, Live: "none", Cleanups: 1},
				"finalizer-removal-replaced": {Served: 200, Live: "the successor", Cleanups: 1},
			})
		})
	}
}

// The controller's status apply for a new spec (the Widget's second status) is made and its
// answer lost. The retry reads the copy the status was applied on, which shows the finalizer
// (no add is sent), and applies the status again, guarded by that copy's resourceVersion:
//
//   - nothing else happened: the retry is refused as stale (409), retried quietly, and the status
//     is the one of the Widget's generation;
//   - meanwhile the user stripped the finalizer and deleted the Widget: the /status apply cannot
//     create it;
//   - and created a successor: the apply carries the old Widget's resourceVersion and is refused;
//     the successor gets no status (on /status the UID alone would not stop it, row 27).
func TestLostAnswer_ARetriedStatusApplyWritesNoSuccessor(t *testing.T) {
	for _, e := range lostElections {
		t.Run(e.name, func(t *testing.T) {
			r := runLostAnswer(t, writeStatus, e.election, lostNothing, lostDeleted, lostReplaced)
			r.check(t, map[string]lostOutcome{
				"status-apply-nothing":  {Served: 200, Live: `finalizers [lost-answer.ssakit.dev/cleanup], phase "green", observedGeneration 2 of 2`},
				"status-apply-deleted":  {Served: 200, Live: "none"},
				"status-apply-replaced": {Served: 200, Live: "the successor"},
			})
		})
	}
}
