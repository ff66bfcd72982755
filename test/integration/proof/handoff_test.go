package proof

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/ssakit/ssakit/internal/testcluster"
)

const (
	handoffController = "handoff"
	handoffFinal      = "handoff.ssakit.dev/cleanup"
	// handoffWidgets is how many Widgets live and die across the handoff.
	handoffWidgets = 6
	// handoffAt is the cleanup at which the leader stops: the third, so that the leader has
	// released Widgets before it and the follower has Widgets to clean up after it.
	handoffAt = 3
	// handoffWithin bounds every wait of the handoff tests; far above what each takes.
	handoffWithin = 30 * time.Second
)

// handoff is a running pair of replicas of one Widget controller (reconcile.New), under
// controller-runtime's Lease-based leader election, and the Widgets a user gives them.
type handoff struct {
	ns               string
	wire             *wire
	ledger           *ledger
	watch            *uidWatch
	user             *widgetUser
	leader, follower *widgetReplica
	// behind is the follower's client: its first read of each Widget returns the copy the
	// leader read last.
	behind  *laggingClient
	widgets []*testcluster.Widget
}

// startHandoff starts the leader, waits until it leads, starts the follower, and has the user
// create the Widgets and wait until the leader has put its finalizer on every one. arm, called
// before anything starts, arms the wire's faults and the ledger's hooks.
//
// Every Widget also carries a finalizer of the user's (lostHold), released only once the
// controller has removed its own from all: so the Widgets the leader released are still there,
// terminating, when the follower takes over, and the follower's first read of each is the copy
// the leader read last (a cache behind the leader's last writes): for those, terminating with the
// controller's finalizer, which the leader has removed.
func startHandoff(t *testing.T, releaseOnCancel bool, arm func(*handoff)) *handoff {
	t.Helper()
	h := &handoff{ns: cluster.Namespace(t), wire: &wire{}}
	h.ledger = newLedger(h.wire, handoffFinal)
	h.watch = watchUIDs(t.Context(), t, h.ns, h.ledger)
	h.user = newWidgetUser(h.ns)
	arm(h)
	schemas, err := cluster.ServerTypeConverter(testcluster.WidgetGVK.GroupVersion())
	if err != nil {
		t.Fatal(err)
	}
	election := &leaderElection{id: "ssakit-handoff", releaseOnCancel: releaseOnCancel, leaseDuration: handoffLease, renewDeadline: handoffRenew, retryPer: handoffRetry}
	replica := func(name string, lagging *laggingClient) *widgetReplica {
		return startWidgetReplica(t, h.wire, h.ledger, replicaOptions{name: name, controller: handoffController, ns: h.ns, election: election, types: schemas, lagging: lagging})
	}
	ahead := newLaggingClient()
	h.leader = replica("leader", ahead)
	select {
	case <-h.leader.mgr.Elected():
	case <-time.After(handoffWithin):
		t.Fatal("the first replica was not elected")
	}
	h.behind = newLaggingClient()
	h.behind.behindOf = ahead
	h.follower = replica("follower", h.behind)
	for i := range handoffWidgets {
		h.widgets = append(h.widgets, h.user.create(t.Context(), t, fmt.Sprintf("handoff-%d", i), nil, lostHold))
	}
	waitFor(t, handoffWithin, "the leader's finalizer on every Widget", func() bool {
		list := &testcluster.WidgetList{}
		if err := cluster.Client.List(t.Context(), list, client.InNamespace(h.ns)); err != nil {
			return false
		}
		return !slices.ContainsFunc(list.Items, func(w testcluster.Widget) bool { return !controllerutil.ContainsFinalizer(&w, handoffFinal) })
	})
	return h
}

// deleteAll has the user delete every Widget.
func (h *handoff) deleteAll(t *testing.T) {
	t.Helper()
	for _, w := range h.widgets {
		h.user.delete(t.Context(), t, w)
	}
}

// handoffOutcome is what went wrong; the zero value is a pass.
type handoffOutcome struct {
	Stuck      []string // left when the wait for every Widget to go ended
	Lost       []string // vanished, or lost the finalizer, before their cleanup completed
	Recreated  []string // a name seen with a UID the user did not create
	NotSeen    []string // UIDs the test's watch did not see vanish
	Violations []string // the cleanup ran where Handler.Cleanup says it does not
	// Cleanups are the replicas whose cleanup completed, by Widget.
	Cleanups map[string][]string
}

// finish waits until the controller's finalizer is off every Widget, releases the user's, waits
// until every Widget is gone and the watch saw each go, stops the follower, and returns what
// happened.
func (h *handoff) finish(t *testing.T) handoffOutcome {
	t.Helper()
	released := func() bool {
		list := &testcluster.WidgetList{}
		if err := cluster.Client.List(t.Context(), list, client.InNamespace(h.ns)); err != nil {
			return false
		}
		return !slices.ContainsFunc(list.Items, func(w testcluster.Widget) bool { return controllerutil.ContainsFinalizer(&w, handoffFinal) })
	}
	for deadline := time.Now().Add(handoffWithin); !released() && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	strip := client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`))
	for _, w := range h.widgets {
		live := &testcluster.Widget{}
		if err := cluster.Client.Get(t.Context(), client.ObjectKeyFromObject(w), live); err != nil || !slices.Equal(live.Finalizers, []string{lostHold}) {
			continue // the outcome says what is left
		}
		if err := cluster.Client.Patch(t.Context(), live, strip, client.FieldOwner(widgetOwner)); err != nil {
			t.Errorf("releasing the user's finalizer on %s: %v", w.Name, err)
		}
	}
	var uids []types.UID
	byName := map[string]types.UID{}
	for _, w := range h.widgets {
		uids = append(uids, w.UID)
		byName[w.Name] = w.UID
	}
	var got handoffOutcome
	for deadline := time.Now().Add(handoffWithin); ; time.Sleep(50 * time.Millisecond) {
		list := &testcluster.WidgetList{}
		err := cluster.Client.List(t.Context(), list, client.InNamespace(h.ns))
		got.Stuck = nil
		for _, w := range list.Items {
			got.Stuck = append(got.Stuck, fmt.Sprintf("%s %v terminating=%t", w.Name, w.Finalizers, !w.DeletionTimestamp.IsZero()))
		}
		got.Lost, got.Recreated, got.NotSeen = h.watch.outcome(h.user.created(), uids)
		if err == nil && len(list.Items) == 0 && len(got.NotSeen) == 0 || time.Now().After(deadline) {
			break
		}
	}
	h.follower.stop()
	got.Violations = h.ledger.violated()
	got.Cleanups = h.ledger.cleanups(byName)
	return got
}

// cleanedUpOnce is the outcome of a handoff with nothing wrong, where the cleanup of each Widget
// completed once, on either replica, or on the leader and then the follower after the leader's
// removal failed, except for those in exactly, whose cleanups completed on the replicas it gives,
// in that order.
func cleanedUpOnce(got handoffOutcome, exactly map[string][]string) handoffOutcome {
	want := handoffOutcome{Cleanups: map[string][]string{}}
	for name, replicas := range got.Cleanups {
		want.Cleanups[name] = replicas
		// Once on either replica; or on the leader and again on the follower, when the leader's
		// removal after it failed (the stop cancels a removal in flight): the ledger's
		// Violations hold any run again without a failed removal.
		if len(replicas) != 1 && !slices.Equal(replicas, []string{"leader", "follower"}) {
			want.Cleanups[name] = []string{"leader or follower, once; or leader, then follower after a failed removal"}
		}
	}
	maps.Copy(want.Cleanups, exactly)
	return want
}

// tally counts the Widgets whose cleanup completed on each replica.
func tally(cleanups map[string][]string) (leader, follower int) {
	for _, replicas := range cleanups {
		for _, r := range replicas {
			if r == "leader" {
				leader++
			} else {
				follower++
			}
		}
	}
	return leader, follower
}

// Two replicas of a reconcile.New controller (Options.LeaderElection) under controller-runtime's
// Lease-based leader election (short Lease times; released on cancel, and not). The user deletes
// six Widgets; the leader, with one worker, cleans them up one by one, and stops right after the
// third cleanup completed, before its finalizer removal reached the server: the wire holds that
// request until the leader's context ends, so it is never sent. The follower takes over, by the
// released Lease or once it expired, and its first read of each Widget is the copy the leader
// read last: for the Widgets the leader released, a terminating copy that still shows the
// finalizer, which the follower must not trust. Then: none stuck (every Widget gone), none lost (the test's watch saw none
// vanish or lose the finalizer before its cleanup completed, and each cleanup read the Widget
// live, terminating with the finalizer), none recreated (one UID per name, the user's); the
// cleanup of each Widget completed once, on either replica, and that of the
// Widget whose removal the stop cut completed again on the follower, as Handler.Cleanup says
// ("it runs again whenever the finalizer could not be removed after it"): on the leader, then on
// the follower, and nowhere else.
func TestHandoff_ALeaderStoppedBetweenACleanupAndItsRemovalLeavesTheFollowerToRunItAgainAndFinish(t *testing.T) {
	for _, release := range []bool{true, false} {
		t.Run(fmt.Sprintf("LeaderElectionReleaseOnCancel=%t", release), func(t *testing.T) {
			var cut *fault
			h := startHandoff(t, release, func(h *handoff) {
				cut = h.wire.arm(&fault{write: writeRemoval, n: handoffAt, hold: true})
			})
			h.deleteAll(t)
			var held wireRequest
			select {
			case held = <-cut.fired:
			case <-time.After(handoffWithin):
				t.Fatalf("the leader sent no %s %d", writeRemoval, handoffAt)
			}
			stopped := time.Now()
			h.leader.stop()
			name := held.path[strings.LastIndex(held.path, "/")+1:]
			got := h.finish(t)
			took := time.Since(stopped)

			want := cleanedUpOnce(got, map[string][]string{name: {"leader", "follower"}})
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("after the leader stopped between the cleanup of %s and its removal (-want +got):\n%s", name, d)
			}
			leader, follower := tally(got.Cleanups)
			line := fmt.Sprintf("handoff (release on cancel %t): %d Widgets; the leader stopped after the cleanup of %s, its removal held and never sent; "+
				"the follower first read %d copies the leader read last; cleanups completed %d on the leader, %d on the follower (%s's twice); %d stuck, %d lost, %d recreated, %d violations; stop to all gone %s",
				release, handoffWidgets, name, h.behind.stale(), leader, follower, name, len(got.Stuck), len(got.Lost), len(got.Recreated), len(got.Violations), took.Round(100*time.Millisecond))
			t.Log(line)
			fmt.Println(line)
		})
	}
}

// As above, but the leader stops while the cleanup of the third Widget waits: that cleanup has
// started an external deletion that takes long, and returned Result{RequeueAfter: time.Hour}
// (Waiting: the finalizer stays). The external deletion ends after the leader stopped; the
// follower takes over and its cleanup of that Widget completes. Then: none stuck, none lost,
// none recreated, and the cleanup of every Widget completed once (or, for one whose removal the
// leader's stop cut, again on the follower), that of the waiting one on the follower, after one
// waiting attempt on the leader.
func TestHandoff_ALeaderStoppedWhileACleanupWaitsLeavesTheFollowerToCompleteItOnce(t *testing.T) {
	for _, release := range []bool{true, false} {
		t.Run(fmt.Sprintf("LeaderElectionReleaseOnCancel=%t", release), func(t *testing.T) {
			var (
				mu       sync.Mutex
				seen     []types.UID
				waiting  types.UID
				deleted  bool // the external deletion of the waiting Widget is over
				waitedOn []string
			)
			waits := make(chan string, 1)
			h := startHandoff(t, release, func(h *handoff) {
				h.ledger.wait = func(_ context.Context, replica string, w *testcluster.Widget) bool {
					mu.Lock()
					defer mu.Unlock()
					if !slices.Contains(seen, w.UID) {
						seen = append(seen, w.UID)
						if len(seen) == handoffAt {
							waiting = w.UID
							defer func() { waits <- w.Name }()
						}
					}
					if w.UID != waiting || deleted {
						return false
					}
					waitedOn = append(waitedOn, replica)
					return true
				}
			})
			h.deleteAll(t)
			var name string
			select {
			case name = <-waits:
			case <-time.After(handoffWithin):
				t.Fatalf("no cleanup %d began", handoffAt)
			}
			stopped := time.Now()
			h.leader.stop()
			mu.Lock()
			deleted = true
			mu.Unlock()
			got := h.finish(t)
			took := time.Since(stopped)

			want := cleanedUpOnce(got, map[string][]string{name: {"follower"}})
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("after the leader stopped while the cleanup of %s waited (-want +got):\n%s", name, d)
			}
			mu.Lock()
			if d := cmp.Diff([]string{"leader"}, waitedOn); d != "" {
				t.Errorf("the replicas whose cleanup of %s waited (-want +got):\n%s", name, d)
			}
			mu.Unlock()
			leader, follower := tally(got.Cleanups)
			line := fmt.Sprintf("handoff (release on cancel %t): %d Widgets; the leader stopped while the cleanup of %s waited; "+
				"the follower first read %d copies the leader read last; cleanups completed %d on the leader, %d on the follower, each once; %d stuck, %d lost, %d recreated, %d violations; stop to all gone %s",
				release, handoffWidgets, name, h.behind.stale(), leader, follower, len(got.Stuck), len(got.Lost), len(got.Recreated), len(got.Violations), took.Round(100*time.Millisecond))
			t.Log(line)
			fmt.Println(line)
		})
	}
}
