package proof

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ssakit/ssakit/internal/testcluster"
)

const (
	churnController = "churn"
	churnFinal      = "churn.ssakit.dev/cleanup"
	churnWidgets    = 5
	// churnEvery is how often the other writer changes every Widget's labels.
	churnEvery = 100 * time.Millisecond
	// churnTicks is how many times the other writer changes the labels between two spec changes
	// (and before the deletes), once the statuses converged: the controller reconciles on
	// each change, and must write nothing.
	churnTicks = 5
	// churnWork is how long a reconcile works between its read of the Widget and its status
	// apply (on other systems, say): a label change in that window makes the apply stale. At
	// 20 ms, one worker for five Widgets is near saturation, and one run in six had a status
	// stale eleven times in a row, with five ERROR lines from StaleRetry (reported, issue 26).
	churnWork = 5 * time.Millisecond
	// churnWithin bounds the waits of the churn test; far above what each takes.
	churnWithin = 30 * time.Second
	// churnFewReconciles is the most reconciles a status may take to converge: the reconcile
	// that first reads the generation and StaleRetry's five quiet retries (pkg/reconcile's
	// maxStaleRetries), after which a stale copy is an error, logged.
	churnFewReconciles = 6
)

// churnColors are the spec.color values the user gives the Widgets in turn, the first at their
// create: each is a generation whose status must converge.
var churnColors = []string{"blue", "green", "red", "yellow"}

// labelChurn is another writer that changes the labels of every Widget of a namespace every
// churnEvery, with a merge patch, until stopped.
type labelChurn struct {
	writes atomic.Int64
	ticks  atomic.Int64
	stop   context.CancelFunc
	done   chan struct{}
}

func churnLabels(ctx context.Context, ns string) *labelChurn {
	ctx, cancel := context.WithCancel(ctx)
	c := &labelChurn{stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		ticker := time.NewTicker(churnEvery)
		defer ticker.Stop()
		for tick := 0; ; tick++ {
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
			}
			list := &testcluster.WidgetList{}
			if err := cluster.Client.List(ctx, list, client.InNamespace(ns)); err != nil {
				continue
			}
			patch := client.RawPatch(types.MergePatchType, fmt.Appendf(nil, `{"metadata":{"labels":{"churn":"tick-%d"}}}`, tick))
			for i := range list.Items {
				if cluster.Client.Patch(ctx, &list.Items[i], patch, client.FieldOwner("label-churner")) == nil {
					c.writes.Add(1)
				}
			}
			c.ticks.Add(1)
		}
	}()
	return c
}

// waitTicks waits until the other writer has changed the labels n more times.
func (c *labelChurn) waitTicks(t *testing.T, n int) {
	t.Helper()
	until := c.ticks.Load() + int64(n)
	waitFor(t, churnWithin, fmt.Sprintf("%d more label changes", n), func() bool { return c.ticks.Load() >= until })
}

func (c *labelChurn) halt() int {
	c.stop()
	<-c.done
	return int(c.writes.Load())
}

// While another writer changes the labels of five Widgets every 100 ms, a reconcile.New
// controller (one replica) adds its finalizer, applies each Widget's status (phase: spec.color,
// observedGeneration) through a StatusApplier guarded by the resourceVersion of its cached copy,
// 5 ms after its read (its work), follows three spec changes of each, and cleans each up when
// the user deletes it; between the changes, the labels change five times. A label write between
// a reconcile's read and its status apply makes the apply stale: refused with a 409, and retried
// quietly (StaleRetry). Then:
//
//   - every status converges: the status of each generation of each Widget lands, within
//     churnFewReconciles reconciles of that generation (StaleRetry's quiet retries suffice);
//   - no error storm: the controller's logger writes no ERROR line; its 409s are counted;
//   - every Widget is cleaned up once and gone.
func TestChurn_StatusConvergesWithinAFewReconcilesAndLogsNoErrorWhileAnotherWriterChangesLabels(t *testing.T) {
	ns := cluster.Namespace(t)
	w := &wire{}
	l := newLedger(w, churnFinal)
	l.work = churnWork
	errs := newErrorLines()
	schemas, err := cluster.ServerTypeConverter(testcluster.WidgetGVK.GroupVersion())
	if err != nil {
		t.Fatal(err)
	}
	churn := churnLabels(t.Context(), ns)
	defer churn.halt()
	replica := startWidgetReplica(t, w, l, replicaOptions{name: "controller", controller: churnController, ns: ns, logger: logr.New(errs), types: schemas})
	user := newWidgetUser(ns)
	var widgets []*testcluster.Widget
	for i := range churnWidgets {
		widgets = append(widgets, user.create(t.Context(), t, fmt.Sprintf("churn-%d", i), nil))
	}
	converged := func(color string) func() bool {
		return func() bool {
			list := &testcluster.WidgetList{}
			if err := cluster.Client.List(t.Context(), list, client.InNamespace(ns)); err != nil || len(list.Items) != churnWidgets {
				return false
			}
			return !slices.ContainsFunc(list.Items, func(w testcluster.Widget) bool {
				return w.Status.Phase != color || w.Status.ObservedGeneration != w.Generation
			})
		}
	}
	waitFor(t, churnWithin, "every status to show "+churnColors[0], converged(churnColors[0]))
	for _, color := range churnColors[1:] {
		churn.waitTicks(t, churnTicks)
		patch := client.RawPatch(types.MergePatchType, fmt.Appendf(nil, `{"spec":{"color":%q}}`, color))
		for _, widget := range widgets {
			if err := cluster.Client.Patch(t.Context(), widget.DeepCopyObject().(client.Object), patch, client.FieldOwner(widgetOwner)); err != nil {
				t.Fatalf("changing the color of %s: %v", widget.Name, err)
			}
		}
		waitFor(t, churnWithin, "every status to show "+color, converged(color))
	}
	churn.waitTicks(t, churnTicks)
	for _, widget := range widgets {
		user.delete(t.Context(), t, widget)
	}
	waitFor(t, churnWithin, "every Widget to be gone", func() bool {
		list := &testcluster.WidgetList{}
		return cluster.Client.List(t.Context(), list, client.InNamespace(ns)) == nil && len(list.Items) == 0
	})
	labelWrites := churn.halt()
	replica.stop()

	runs, most, stale := l.statusRuns()
	if d := cmp.Diff([]string(nil), errs.all()); d != "" {
		t.Errorf("the controller's ERROR log lines (-want +got):\n%s", d)
	}
	if want := churnWidgets * len(churnColors); runs != want || most > churnFewReconciles {
		t.Errorf("%d generations' statuses converged, the slowest in %d reconciles; want %d, in at most %d", runs, most, want, churnFewReconciles)
	}
	var cleanups []int
	for _, widget := range widgets {
		cleanups = append(cleanups, l.completions(widget.UID))
	}
	if d := cmp.Diff(slices.Repeat([]int{1}, churnWidgets), cleanups); d != "" {
		t.Errorf("cleanups completed by Widget (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string(nil), l.violated()); d != "" {
		t.Errorf("the cleanups (-want +got):\n%s", d)
	}
	line := fmt.Sprintf("churn: %d label writes by another writer (every %s) on %d Widgets; %d statuses converged, the slowest in %d reconciles; %d stale refusals (409s on /status: %d; 409s in all: %d); %d ERROR lines; %d status applies sent",
		labelWrites, churnEvery, churnWidgets, runs, most, stale, w.count(0, http.StatusConflict, writeStatus), w.count(0, http.StatusConflict, ""), len(errs.all()), w.attempts(writeStatus))
	t.Log(line)
	fmt.Println(line)
}

// statusRuns returns how many generations' statuses converged, the most reconciles one took, and
// how many status applies were refused as stale in all.
func (l *ledger) statusRuns() (converged, most, stale int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, run := range l.reconciles {
		if run.done {
			converged++
			most = max(most, run.reconciles)
		}
		stale += run.stale
	}
	return converged, most, stale
}
