package proof

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/managedfields"
	toolscache "k8s.io/client-go/tools/cache"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	ctrlcontroller "sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/ssakit/ssakit/internal/testcluster"
	ssareconcile "github.com/ssakit/ssakit/pkg/reconcile"
	"github.com/ssakit/ssakit/pkg/ssa"
)

// widgetOwner is the field manager of the user's writes in the fault tests.
const widgetOwner = "widget-user"

// ledger is the Handler of a test's Widget controller, shared by its replicas. Its Cleanup reads
// the Widget live and records, by UID, every attempt and completion, and a violation when it runs
// on a Widget that is gone, not terminating or released, or again after it completed with no
// failed finalizer removal since (Handler.Cleanup: "it runs again whenever the finalizer could
// not be removed after it"). Its Reconcile applies the status the test's Widgets should show and
// counts, by UID and generation, the reconciles a status needed.
type ledger struct {
	live  client.Reader // the API server, uncached and outside the wire
	wire  *wire
	final string
	// wait, when set, decides a cleanup attempt before it reads the Widget: waits reports whether
	// the cleanup is not done yet (Waiting, RequeueAfter an hour).
	wait func(ctx context.Context, replica string, w *testcluster.Widget) (waits bool)
	// work is how long Reconcile works (on other systems, say) between its read of the Widget
	// and its status apply.
	work time.Duration

	mu          sync.Mutex
	attempts    map[types.UID]int
	completed   map[types.UID]int
	completedAt map[types.UID]int // the wire's mark at the last completion
	// pending holds, by replica and Widget, the UID whose cleanup the running reconcile
	// completed; failedAfter, the UIDs whose reconcile that completed the cleanup returned an
	// error: the finalizer removal after it failed, as the controller saw it (a removal refused
	// before it reached the wire, on a context cancelled by the leader's stop, say).
	pending     map[string]types.UID
	failedAfter map[types.UID]bool
	ranOn       map[types.UID][]string // the replicas whose cleanup completed, in order
	violations  []string
	reconciles  map[generationOf]*statusRun
}

// generationOf is a Widget's generation, as a reconcile read it.
type generationOf struct {
	uid        types.UID
	generation int64
}

// statusRun counts the reconciles of one generation of a Widget: those before the first whose
// status apply succeeded (sent, or proved unneeded), and those refused as stale.
type statusRun struct {
	reconciles, stale int
	done              bool
}

func newLedger(w *wire, final string) *ledger {
	return &ledger{live: cluster.Client, wire: w, final: final, attempts: map[types.UID]int{}, completed: map[types.UID]int{},
		completedAt: map[types.UID]int{}, ranOn: map[types.UID][]string{}, reconciles: map[generationOf]*statusRun{},
		pending: map[string]types.UID{}, failedAfter: map[types.UID]bool{}}
}

// ledgerHandler is one replica's Handler: the ledger, the replica's name and its status applier.
type ledgerHandler struct {
	l       *ledger
	replica string
	status  *ssareconcile.StatusApplier
}

// Reconcile applies the status {phase: spec.color} (and observedGeneration, the applier's
// default).
func (h ledgerHandler) Reconcile(ctx context.Context, w *testcluster.Widget) (reconcile.Result, error) {
	time.Sleep(h.l.work)
	err := h.status.Apply(ctx, w, map[string]any{"phase": w.Spec.Color})
	h.l.mu.Lock()
	defer h.l.mu.Unlock()
	key := generationOf{w.UID, w.Generation}
	run := h.l.reconciles[key]
	if run == nil {
		run = &statusRun{}
		h.l.reconciles[key] = run
	}
	if !run.done {
		run.reconciles++
	}
	switch {
	case err == nil:
		run.done = true
	case errors.Is(err, ssa.ErrStale):
		run.stale++
	}
	return reconcile.Result{}, err
}

// Cleanup implements ssareconcile.Handler.
func (h ledgerHandler) Cleanup(ctx context.Context, w *testcluster.Widget) (reconcile.Result, error) {
	l := h.l
	if l.wait != nil && l.wait(ctx, h.replica, w) {
		l.mu.Lock()
		l.attempts[w.UID]++
		l.mu.Unlock()
		return reconcile.Result{RequeueAfter: time.Hour}, nil
	}
	live := &testcluster.Widget{}
	err := l.live.Get(ctx, client.ObjectKeyFromObject(w), live)
	if err != nil && !apierrors.IsNotFound(err) {
		return reconcile.Result{}, fmt.Errorf("the cleanup could not read the Widget: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.attempts[w.UID]++
	switch {
	case err != nil || live.UID != w.UID:
		l.violations = append(l.violations, fmt.Sprintf("%s (uid %s): the cleanup ran on %s after the Widget was gone", w.Name, w.UID, h.replica))
	case live.DeletionTimestamp.IsZero():
		l.violations = append(l.violations, fmt.Sprintf("%s: the cleanup ran on %s while the Widget was not terminating", w.Name, h.replica))
	case !controllerutil.ContainsFinalizer(live, l.final):
		l.violations = append(l.violations, fmt.Sprintf("%s: the cleanup ran on %s after the finalizer was removed (finalizers %v)", w.Name, h.replica, live.Finalizers))
	}
	if n := l.completed[w.UID]; n > 0 && !l.failedAfter[w.UID] && !l.wire.removalFailedSince(widgetPath(w.Namespace, w.Name), l.completedAt[w.UID]) {
		l.violations = append(l.violations, fmt.Sprintf("%s: the cleanup ran again on %s after it completed %d time(s) on %v, and no finalizer removal failed since", w.Name, h.replica, n, l.ranOn[w.UID]))
	}
	l.completed[w.UID]++
	l.completedAt[w.UID] = l.wire.len()
	l.failedAfter[w.UID] = false
	l.pending[h.replica+"/"+w.Name] = w.UID
	l.ranOn[w.UID] = append(l.ranOn[w.UID], h.replica)
	return reconcile.Result{}, nil
}

// reconciled records how a replica's reconcile of the Widget name ended.
func (l *ledger) reconciled(replica, name string, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if uid, ok := l.pending[replica+"/"+name]; ok {
		delete(l.pending, replica+"/"+name)
		l.failedAfter[uid] = err != nil
	}
}

func (l *ledger) completions(uid types.UID) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.completed[uid]
}

// cleanups returns, by name of the UIDs given, the replicas whose cleanup completed, in order.
func (l *ledger) cleanups(uids map[string]types.UID) map[string][]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string][]string{}
	for name, uid := range uids {
		out[name] = slices.Clone(l.ranOn[uid])
	}
	return out
}

func (l *ledger) violated() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.violations)
}

// uidWatch is the test's own view of the Widgets of a namespace: an informer that sees every
// version and deletion. It records each UID seen under each name, and a Widget lost: seen
// terminating without the finalizer, or vanished, before its cleanup completed, unless the test
// excused it (the user stripped the finalizer on purpose).
type uidWatch struct {
	ledger *ledger

	mu      sync.Mutex
	uids    map[string][]types.UID
	gone    map[types.UID]bool
	excused map[types.UID]bool
	lost    []string
}

func watchUIDs(ctx context.Context, t *testing.T, ns string, l *ledger) *uidWatch {
	t.Helper()
	w := &uidWatch{ledger: l, uids: map[string][]types.UID{}, gone: map[types.UID]bool{}, excused: map[types.UID]bool{}}
	watchWidgets(ctx, t, cluster.Config, cache.Options{Scheme: cluster.Scheme, Mapper: cluster.Mapper, DefaultNamespaces: map[string]cache.Config{ns: {}}}, w.seen, w.vanished)
	return w
}

func (w *uidWatch) seen(obj *testcluster.Widget) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !slices.Contains(w.uids[obj.Name], obj.UID) {
		w.uids[obj.Name] = append(w.uids[obj.Name], obj.UID)
	}
	if !obj.DeletionTimestamp.IsZero() && !controllerutil.ContainsFinalizer(obj, w.ledger.final) && w.ledger.completions(obj.UID) == 0 && !w.excused[obj.UID] {
		w.lost = append(w.lost, obj.Name+": terminating without the finalizer before its cleanup completed")
	}
}

func (w *uidWatch) vanished(obj any) {
	if tombstone, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = tombstone.Obj
	}
	widget := obj.(*testcluster.Widget)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.gone[widget.UID] = true
	if w.ledger.completions(widget.UID) == 0 && !w.excused[widget.UID] {
		w.lost = append(w.lost, widget.Name+": vanished before its cleanup completed")
	}
}

// excuse marks uid as a Widget whose finalizer the user strips: its going is not a loss.
func (w *uidWatch) excuse(uid types.UID) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.excused[uid] = true
}

// outcome compares what the watch saw with the UIDs the user created, by name: lost Widgets,
// names seen with a UID the user did not create, and Widgets of wantGone not seen vanish.
func (w *uidWatch) outcome(created map[string][]types.UID, wantGone []types.UID) (lost, recreated, notGone []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for name, uids := range w.uids {
		for _, uid := range uids {
			if !slices.Contains(created[name], uid) {
				recreated = append(recreated, fmt.Sprintf("%s: uid %s, created as %v", name, uid, created[name]))
			}
		}
	}
	for _, uid := range wantGone {
		if !w.gone[uid] {
			notGone = append(notGone, string(uid))
		}
	}
	slices.Sort(recreated)
	slices.Sort(notGone)
	return slices.Clone(w.lost), recreated, notGone
}

// widgetUser creates and deletes Widgets as a user would, and keeps the UIDs it created, by name.
type widgetUser struct {
	ns string

	mu   sync.Mutex
	uids map[string][]types.UID
}

func newWidgetUser(ns string) *widgetUser {
	return &widgetUser{ns: ns, uids: map[string][]types.UID{}}
}

// create creates a Widget with the labels and finalizers given, or fails the test.
func (u *widgetUser) create(ctx context.Context, t *testing.T, name string, labels map[string]string, finalizers ...string) *testcluster.Widget {
	t.Helper()
	w := &testcluster.Widget{ObjectMeta: metav1.ObjectMeta{Namespace: u.ns, Name: name, Labels: labels, Finalizers: finalizers}, Spec: testcluster.WidgetSpec{Color: "blue"}}
	if err := cluster.Client.Create(ctx, w, client.FieldOwner(widgetOwner)); err != nil {
		t.Errorf("creating the Widget %s: %v", name, err)
		return w
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.uids[name] = append(u.uids[name], w.UID)
	return w
}

// delete deletes w, guarded by its UID.
func (u *widgetUser) delete(ctx context.Context, t *testing.T, w *testcluster.Widget) {
	t.Helper()
	if err := cluster.Client.Delete(ctx, w.DeepCopyObject().(client.Object), client.Preconditions{UID: &w.UID}); err != nil {
		t.Errorf("deleting the Widget %s: %v", w.Name, err)
	}
}

func (u *widgetUser) created() map[string][]types.UID {
	u.mu.Lock()
	defer u.mu.Unlock()
	return maps.Clone(u.uids)
}

// replicaOptions say how to run one replica of a test's Widget controller.
type replicaOptions struct {
	name       string // the replica's name on the wire
	controller string // the controller's name: its field managers, its metrics' label
	ns         string
	// election, when set, runs the replica under controller-runtime's Lease-based leader election,
	// and tells reconcile.New so (Options.LeaderElection), as its doc says to.
	election *leaderElection
	// only, when set, is the label selector of the replica's cache: it sees no other Widget.
	only labels.Selector
	// lagging, when set, wraps the replica's client (the reads the reconciles make).
	lagging *laggingClient
	logger  logr.Logger
	types   managedfields.TypeConverter // the Widget's schema, for the status applier
}

// The replicas' Lease (leaderElection): short, so that a handoff takes seconds (controller-runtime's defaults are
// 15 s, 10 s and 2 s). When the leader does not release the Lease on its way out, the follower
// takes over once the Lease expires.
const (
	handoffLease = 3 * time.Second
	handoffRenew = 2 * time.Second
	handoffRetry = 250 * time.Millisecond
)

// leaderElection is one Lease for the replicas of a controller.
type leaderElection struct {
	id                                     string
	releaseOnCancel                        bool
	leaseDuration, renewDeadline, retryPer time.Duration
}

// widgetReplica is a running replica: a controller-runtime Manager with the Widget controller,
// built with pkg/reconcile's New.
type widgetReplica struct {
	mgr  manager.Manager
	stop func()
}

// startWidgetReplica starts a replica of the ledger's controller, stopped when t ends at the
// latest.
func startWidgetReplica(t *testing.T, w *wire, l *ledger, o replicaOptions) *widgetReplica {
	t.Helper()
	opts := ctrl.Options{
		Scheme:                 cluster.Scheme,
		Cache:                  cache.Options{DefaultNamespaces: map[string]cache.Config{o.ns: {}}},
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             config.Controller{SkipNameValidation: new(true)},
		Logger:                 o.logger,
	}
	if o.logger.GetSink() == nil {
		opts.Logger = logr.Discard()
	}
	if o.only != nil {
		opts.Cache.ByObject = map[client.Object]cache.ByObject{&testcluster.Widget{}: {Label: o.only}}
	}
	if e := o.election; e != nil {
		opts.LeaderElection, opts.LeaderElectionID, opts.LeaderElectionNamespace = true, e.id, o.ns
		opts.LeaderElectionReleaseOnCancel = e.releaseOnCancel
		opts.LeaseDuration, opts.RenewDeadline, opts.RetryPeriod = &e.leaseDuration, &e.renewDeadline, &e.retryPer
	}
	mgr, err := ctrl.NewManager(w.config(cluster.Config, o.name), opts)
	if err != nil {
		t.Fatal(err)
	}
	var c ssareconcile.Cluster = mgr
	if o.lagging != nil {
		o.lagging.Client = mgr.GetClient()
		c = laggingCluster{client: o.lagging, reader: mgr.GetAPIReader()}
	}
	var converters []managedfields.TypeConverter
	if o.types != nil {
		converters = append(converters, o.types)
	}
	h := ledgerHandler{l: l, replica: o.name, status: ssareconcile.NewStatusApplier(mgr.GetClient(), o.controller, ssareconcile.StatusApplierOptions{TypeConverters: converters})}
	r, err := ssareconcile.New[*testcluster.Widget](c, h, ssareconcile.Options{Controller: o.controller, Finalizer: l.final, Recorder: mgr.GetEventRecorder(o.controller),
		LeaderElection: o.election != nil})
	if err != nil {
		t.Fatal(err)
	}
	observed := reconcile.Func(func(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
		result, err := r.Reconcile(ctx, req)
		l.reconciled(o.name, req.Name, err)
		return result, err
	})
	if err := ctrl.NewControllerManagedBy(mgr).For(&testcluster.Widget{}).Named(o.controller).WithOptions(ctrlcontroller.Options{}).Complete(observed); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("the replica %s stopped with: %v", o.name, err)
			}
		})
	}
	t.Cleanup(stop)
	return &widgetReplica{mgr: mgr, stop: stop}
}

// laggingCluster is what reconcile.New uses of a replica's Manager, with a lagging client.
type laggingCluster struct {
	client client.Client
	reader client.Reader
}

func (c laggingCluster) GetClient() client.Client    { return c.client }
func (c laggingCluster) GetAPIReader() client.Reader { return c.reader }

// laggingClient is a replica's cached client that can lag on purpose: after behind(key), the
// next read of that Widget returns the copy the read before it returned, as a cache that has not
// caught up with a write still holds it. A cache usually catches up within milliseconds, before
// the retry of a failed reconcile; serving the older copy makes the lag certain, so that the
// retry meets the stale copy every time.
//
// With behindOf, the first read of each Widget returns instead the copy that another replica's
// lagging client read last, if that copy is terminating: a follower's cache that is behind the
// writes the leader made just before it stopped (a removal, say).
type laggingClient struct {
	client.Client
	behindOf *laggingClient

	mu        sync.Mutex
	last      map[client.ObjectKey]*testcluster.Widget
	replay    map[client.ObjectKey]bool
	inherited map[client.ObjectKey]bool
	served    int
}

func newLaggingClient() *laggingClient {
	return &laggingClient{last: map[client.ObjectKey]*testcluster.Widget{}, replay: map[client.ObjectKey]bool{}, inherited: map[client.ObjectKey]bool{}}
}

// lastOf returns a copy of what the last read of key returned; nil if none.
func (c *laggingClient) lastOf(key client.ObjectKey) *testcluster.Widget {
	c.mu.Lock()
	defer c.mu.Unlock()
	if last := c.last[key]; last != nil {
		return last.DeepCopyObject().(*testcluster.Widget)
	}
	return nil
}

// Get implements client.Client.
func (c *laggingClient) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	w, ok := obj.(*testcluster.Widget)
	if !ok {
		return c.Client.Get(ctx, key, obj, opts...)
	}
	c.mu.Lock()
	last := c.last[key]
	if !c.replay[key] {
		last = nil
	}
	if c.behindOf != nil && !c.inherited[key] {
		// Only a terminating copy: a cache behind catches up with a later event that brings
		// the reconcile again, but a live copy served once, after the event of the newest
		// version, would leave a deletion that no event brings any more.
		c.inherited[key] = true
		if inherited := c.behindOf.lastOf(key); inherited != nil && !inherited.DeletionTimestamp.IsZero() {
			last = inherited
		}
	}
	if last != nil {
		delete(c.replay, key)
		c.served++
		c.mu.Unlock()
		*w = *last.DeepCopyObject().(*testcluster.Widget)
		return nil
	}
	c.mu.Unlock()
	err := c.Client.Get(ctx, key, obj, opts...)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err == nil {
		c.last[key] = w.DeepCopyObject().(*testcluster.Widget)
	}
	return err
}

// behind makes the next read of key return the copy the last one returned.
func (c *laggingClient) behind(key client.ObjectKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.replay[key] = true
}

func (c *laggingClient) stale() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.served
}

// errorLines is a logr.LogSink that keeps the ERROR lines of a controller's logger and drops
// the rest.
type errorLines struct {
	mu    *sync.Mutex
	lines *[]string
	names string
}

func newErrorLines() errorLines { return errorLines{mu: &sync.Mutex{}, lines: new([]string)} }

func (e errorLines) Init(logr.RuntimeInfo)          {}
func (e errorLines) Enabled(level int) bool         { return level == 0 }
func (e errorLines) Info(int, string, ...any)       {}
func (e errorLines) WithValues(...any) logr.LogSink { return e }
func (e errorLines) WithName(name string) logr.LogSink {
	e.names += name + "/"
	return e
}

func (e errorLines) Error(err error, msg string, _ ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	*e.lines = append(*e.lines, fmt.Sprintf("%s%s: %v", e.names, msg, err))
}

func (e errorLines) all() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(*e.lines)
}

// waitFor polls cond until it holds, or fails the test after within, naming what it waited for.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(within); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", within, what)
		}
	}
}

// waitControllerIdle waits until the controller's work queue has been empty, and no worker
// busy, for quiet: longer than the requeues the tests' controllers schedule soon (StaleRetry's
// first, 100ms; the rate limiter's first, 5ms).
func waitControllerIdle(t *testing.T, controller string, quiet time.Duration) {
	t.Helper()
	since := time.Time{}
	waitFor(t, 30*time.Second, "the controller "+controller+" to become idle", func() bool {
		idle := testcluster.MetricSum(t, "workqueue_depth", controller) == 0 && testcluster.MetricSum(t, "controller_runtime_active_workers", controller) == 0
		switch {
		case !idle:
			since = time.Time{}
		case since.IsZero():
			since = time.Now()
		}
		return !since.IsZero() && time.Since(since) > quiet
	})
}
