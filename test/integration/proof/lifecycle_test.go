package proof

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/ssakit/ssakit/internal/testcluster"
	ssareconcile "github.com/ssakit/ssakit/pkg/reconcile"
	"github.com/ssakit/ssakit/pkg/ssa"
)

// The running controller: ssakit's reconcile lifecycle (reconcile.New) for Widgets, with a
// finalizer of its own, as an actor of the sequences.
const (
	lifecycleFinal = "proof.ssakit.dev/lifecycle"
	// opReconcile is its one action: a replica reconciles one Widget, once.
	opReconcile = "controller reconciles"
	// reconcileWithin bounds the wait for a reconcile asked for; far above what one takes.
	reconcileWithin = 30 * time.Second
)

// lifecycleManager is the field manager of the lifecycle's finalizer: a third one of ssakit's
// controller, beside first and second.
var lifecycleManager = ssa.FinalizerFieldOwner(controller, lifecycleFinal)

// The controller runs as one replica per cache, as during a rolling upgrade that changes how the
// cache is configured: each reconcile is made by the replica its action names, from the object
// its informer holds once caught up with the live one, or from the object as it was Age steps
// ago, trimmed as that cache trims it: what a cache that is behind holds. (A real informer
// catches up within the milliseconds between two steps, so it would almost never be behind;
// serving the recorded version makes the lag certain and the sequence replayable.)
const (
	cacheFull     = "full"     // every managedFields entry
	cacheStripped = "stripped" // none (cache.TransformStripManagedFields)
	cacheTrimmed  = "trimmed"  // the lifecycle's manager's only (ssa.KeepManagedFieldsOf)
)

var caches = []string{cacheFull, cacheStripped, cacheTrimmed}

// What the cleanup answers in a reconcile, chosen by the action.
const (
	cleanupDone  = "done"
	cleanupFails = "fails"
	cleanupWaits = "waits"
)

// cleanupAnswers weighs done double, so that most terminating Widgets are released.
var cleanupAnswers = []string{cleanupDone, cleanupDone, cleanupFails, cleanupWaits}

// widgets are the indexes of the objects the controller reconciles.
var widgets = slices.DeleteFunc([]int{0, 1, 2}, func(i int) bool { return !objects[i].isWidget() })

// lifecycle is the running controller: its replicas and the Handler they share.
type lifecycle struct {
	handler  *cleanupLog
	replicas map[string]*replica
	tally    lifecycleTally
	states   stateTally
}

// lifecycleTally counts what the reconciles met and did, to show that the sequences exercise the
// lifecycle: a proof whose controller never cleaned up would prove little.
type lifecycleTally struct {
	reconciles int
	behind     int // held an object other than the live one: its cache was behind
	added      int // put the finalizer on a live object
	cleanups   int // cleanup attempts
	released   int // removed the finalizer after a cleanup
}

func (t lifecycleTally) String() string {
	return fmt.Sprintf("%d reconciles by the running controller (%d from a cache behind the live object), %d finalizers added, %d cleanup attempts, %d finalizers released",
		t.reconciles, t.behind, t.added, t.cleanups, t.released)
}

// replica is one controller-runtime Manager running the Widget controller. Its only source is a
// channel that the proof feeds, and its reconciler hands every result to the proof and answers
// controller-runtime with success: so it reconciles when an action asks it to, once, and never
// writes between steps on its own (a requeue or a watch event would make writes the per-step
// checks could not attribute).
type replica struct {
	cache     cache.Cache
	transform toolscache.TransformFunc // what the cache does to an object; nil keeps it whole
	rec       *testcluster.Recorder    // the replica's requests
	held      *heldClient
	trigger   chan event.GenericEvent
	done      chan reconciled
	// catchUps counts the reconciles asked of a caught-up cache, lagged those at which the
	// cache was behind the live object when asked, longestLag the longest wait for it.
	catchUps, lagged int
	longestLag       time.Duration
}

// reconciled is what one reconcile returned to controller-runtime, before the replica swallowed it.
type reconciled struct {
	req    reconcile.Request
	result reconcile.Result
	err    error
}

// startLifecycle starts the replicas, stopped when t ends. They see every namespace: one Manager
// per cache, for all the sequences, costs less than a Manager per sequence.
func startLifecycle(t *testing.T) *lifecycle { return startLifecycleOn(t, servers{}) }

// servers says where the replicas' caches watch and where their other requests go (writes, and
// the live reads before a cleanup); nil for the cluster's kube-apiserver.
type servers struct{ cache, requests *rest.Config }

// startLifecycleOn is startLifecycle on servers.
func startLifecycleOn(t *testing.T, on servers) *lifecycle {
	t.Helper()
	lc := &lifecycle{handler: newCleanupLog(cluster.Client), replicas: map[string]*replica{}}
	for _, kind := range caches {
		lc.replicas[kind] = startReplica(t, kind, lc.handler, on)
	}
	return lc
}

// lag says how often the replicas' caches were behind the live object when a reconcile from a
// caught-up cache was asked for, and for how long at most.
func (lc *lifecycle) lag() string {
	asked, behind, longest := 0, 0, time.Duration(0)
	for _, p := range lc.replicas {
		asked, behind, longest = asked+p.catchUps, behind+p.lagged, max(longest, p.longestLag)
	}
	return fmt.Sprintf("the replicas' caches were behind the live object at %d of %d reconciles asked of a caught-up cache, by %s at most", behind, asked, longest.Round(time.Millisecond))
}

func startReplica(t *testing.T, kind string, h *cleanupLog, on servers) *replica {
	t.Helper()
	cfg, rec := testcluster.Recording(cluster.Config)
	cacheCfg, newClient, reader := cfg, client.NewClientFunc(nil), client.Reader(nil)
	if on.cache != nil {
		cacheCfg = on.cache
		requests, recorded := testcluster.Recording(on.requests)
		rec = recorded
		// The manager's client reads from the cache (its Options.Cache) and sends everything
		// else to the other server.
		newClient = func(_ *rest.Config, opts client.Options) (client.Client, error) {
			opts.HTTPClient = nil
			return client.New(requests, opts)
		}
		var err error
		if reader, err = client.New(requests, client.Options{Scheme: cluster.Scheme, Mapper: cluster.Mapper}); err != nil {
			t.Fatal(err)
		}
	}
	var transform toolscache.TransformFunc
	switch kind {
	case cacheStripped:
		transform = cache.TransformStripManagedFields()
	case cacheTrimmed:
		transform = ssa.KeepManagedFieldsOf(lifecycleManager)
	}
	mgr, err := ctrl.NewManager(cacheCfg, ctrl.Options{
		NewClient:              newClient,
		Scheme:                 cluster.Scheme,
		MapperProvider:         func(*rest.Config, *http.Client) (meta.RESTMapper, error) { return cluster.Mapper, nil },
		Cache:                  cache.Options{DefaultTransform: transform},
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             config.Controller{SkipNameValidation: new(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	p := &replica{cache: mgr.GetCache(), transform: transform, rec: rec, held: &heldClient{Client: mgr.GetClient()},
		trigger: make(chan event.GenericEvent), done: make(chan reconciled, 1)}
	if reader == nil {
		reader = mgr.GetAPIReader()
	}
	// Events are written asynchronously, between steps; the proof is about the Widgets.
	r, err := ssareconcile.New[*testcluster.Widget](lifecycleCluster{client: p.held, reader: reader}, h,
		ssareconcile.Options{Controller: controller, Finalizer: lifecycleFinal, Recorder: &events.FakeRecorder{}})
	if err != nil {
		t.Fatal(err)
	}
	err = ctrl.NewControllerManagedBy(mgr).Named("proof-lifecycle-" + kind).
		WatchesRawSource(source.Channel(p.trigger, &handler.EnqueueRequestForObject{})).
		Complete(reconcile.Func(func(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
			result, err := r.Reconcile(ctx, req)
			p.done <- reconciled{req: req, result: result, err: err}
			return reconcile.Result{}, nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-stopped; err != nil {
			t.Errorf("the %s replica stopped with: %v", kind, err)
		}
	})
	return p
}

// lifecycleCluster is what reconcile.New uses of the replica's Manager, with the client that
// remembers what the reconcile read.
type lifecycleCluster struct {
	client client.Client
	reader client.Reader
}

func (c lifecycleCluster) GetClient() client.Client    { return c.client }
func (c lifecycleCluster) GetAPIReader() client.Reader { return c.reader }

// heldClient is a replica's cached client. It keeps the Widget the reconcile read, the object
// the controller held, for the per-call invariants; and while behind is set, it reads Widgets
// from behind instead of the cache.
type heldClient struct {
	client.Client

	mu     sync.Mutex
	held   *testcluster.Widget // nil when the read found none
	behind *cacheBehind
}

// cacheBehind is what a cache that is behind holds of one Widget: obj, nil for none.
type cacheBehind struct{ obj *testcluster.Widget }

// Get implements client.Client.
func (c *heldClient) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	w, ok := obj.(*testcluster.Widget)
	if !ok {
		return c.Client.Get(ctx, key, obj, opts...)
	}
	c.mu.Lock()
	behind := c.behind
	c.mu.Unlock()
	var err error
	switch {
	case behind == nil:
		err = c.Client.Get(ctx, key, obj, opts...)
	case behind.obj == nil:
		err = apierrors.NewNotFound(schema.GroupResource{Group: testcluster.TestGroup, Resource: "widgets"}, key.Name)
	default:
		*w = *behind.obj.DeepCopyObject().(*testcluster.Widget)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.held = nil
	if err == nil {
		c.held = w.DeepCopyObject().(*testcluster.Widget)
	}
	return err
}

// prepare makes the next reads come from behind (nil: from the cache) and forgets the last.
func (c *heldClient) prepare(behind *cacheBehind) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.held, c.behind = nil, behind
}

func (c *heldClient) take() *testcluster.Widget {
	c.mu.Lock()
	defer c.mu.Unlock()
	held := c.held
	c.held = nil
	return held
}

// reconcileOnce has the replica reconcile key once, from its cache caught up with live, or, when
// old is not nil, from old's object (nil: none) as the cache would hold it. It returns the object
// the reconcile held (nil when it found none), what it returned, and whether it wrote anything.
func (p *replica) reconcileOnce(ctx context.Context, key client.ObjectKey, live *unstructured.Unstructured, old *cacheBehind) (view *unstructured.Unstructured, got reconciled, sent bool, err error) {
	if old == nil {
		if err := p.catchUp(ctx, key, live); err != nil {
			return nil, got, false, err
		}
	}
	p.rec.Reset()
	p.held.prepare(old)
	w := &testcluster.Widget{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}
	select {
	case p.trigger <- event.GenericEvent{Object: w}:
	case <-time.After(reconcileWithin):
		return nil, got, false, errors.New("the controller took no request")
	}
	timeout := time.After(reconcileWithin)
	for got.req.NamespacedName != key {
		select {
		case got = <-p.done:
		case <-timeout:
			return nil, got, false, fmt.Errorf("the controller did not reconcile %s within %s", key, reconcileWithin)
		}
	}
	if held := p.held.take(); held != nil {
		u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(held)
		if err != nil {
			return nil, got, false, err
		}
		view = &unstructured.Unstructured{Object: u}
	}
	return view, got, len(p.rec.Writes()) > 0, nil
}

// behind is what the replica's cache holds of snapshot, an object as it was some steps ago.
func (p *replica) behind(snapshot *unstructured.Unstructured) (*cacheBehind, error) {
	if snapshot == nil {
		return &cacheBehind{}, nil
	}
	w := &testcluster.Widget{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(snapshot.DeepCopy().Object, w); err != nil {
		return nil, err
	}
	if p.transform != nil {
		if _, err := p.transform(w); err != nil {
			return nil, err
		}
	}
	return &cacheBehind{obj: w}, nil
}

// catchUp waits until the replica's cache holds live's version of key (or nothing, when live is
// nil).
func (p *replica) catchUp(ctx context.Context, key client.ObjectKey, live *unstructured.Unstructured) error {
	start := time.Now()
	p.catchUps++
	for polls, deadline := 0, start.Add(reconcileWithin); ; polls++ {
		if polls > 0 {
			time.Sleep(2 * time.Millisecond)
		}
		cached := &testcluster.Widget{}
		err := p.cache.Get(ctx, key, cached)
		switch {
		case live == nil && apierrors.IsNotFound(err), live != nil && err == nil && cached.ResourceVersion == live.GetResourceVersion():
			if polls > 0 {
				p.lagged++
				p.longestLag = max(p.longestLag, time.Since(start))
			}
			return nil
		case time.Now().After(deadline):
			return fmt.Errorf("the controller's cache did not catch up with %s within %s (last read: %w)", key, reconcileWithin, err)
		}
	}
}

// cleanupLog is the controller's Handler. Its cleanup answers what the action chose, and checks,
// with a live read, invariant (h): it runs only on a terminating object that still carries the
// lifecycle's finalizer, and once it completed for a UID it runs again only when the removal
// that followed failed (Handler.Cleanup: it runs again whenever the finalizer could not be
// removed after it). Its Reconcile checks invariant (j): a replica never goes on to reconcile an
// object it cleaned up and released (Step.Handle says Released for such a stale copy: whatever
// a reconcile built for it would outlive it).
type cleanupLog struct {
	live client.Reader // the API server, uncached and unrecorded

	mu        sync.Mutex
	answer    string
	replica   string // the cache kind of the replica reconciling now
	completed map[types.UID]int
	// mayRunAgain holds the UIDs whose finalizer was still on the object after a completed
	// cleanup: the removal failed, and the cleanup must run again.
	mayRunAgain map[types.UID]bool
	// releasedBy is the replica that removed the finalizer of each UID after its cleanup.
	releasedBy map[types.UID]string
	attempts   int // since the last settle
	violations []string
	// rebuilt are the violations of (j) since the last settle.
	rebuilt []string
}

func newCleanupLog(live client.Reader) *cleanupLog {
	return &cleanupLog{live: live, completed: map[types.UID]int{}, mayRunAgain: map[types.UID]bool{}, releasedBy: map[types.UID]string{}}
}

// Reconcile has nothing to build: the proof is about the finalizer around it. It checks (j).
func (h *cleanupLog) Reconcile(_ context.Context, w *testcluster.Widget) (reconcile.Result, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.releasedBy[w.UID] == h.replica {
		h.rebuilt = append(h.rebuilt, fmt.Sprintf("the %s replica went on to reconcile %s (uid %s), which it had cleaned up and released", h.replica, w.Name, w.UID))
	}
	return reconcile.Result{}, nil
}

// Cleanup implements ssareconcile.Handler.
func (h *cleanupLog) Cleanup(ctx context.Context, w *testcluster.Widget) (reconcile.Result, error) {
	live := &testcluster.Widget{}
	err := h.live.Get(ctx, client.ObjectKeyFromObject(w), live)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.attempts++
	switch {
	case err != nil && !apierrors.IsNotFound(err):
		h.violations = append(h.violations, fmt.Sprintf("the cleanup of %s could not read it: %v", w.Name, err))
	case err != nil || live.UID != w.UID:
		h.violations = append(h.violations, fmt.Sprintf("the cleanup of %s (uid %s) ran after the object was gone", w.Name, w.UID))
	case live.DeletionTimestamp.IsZero():
		h.violations = append(h.violations, fmt.Sprintf("the cleanup ran on %s, which is not terminating", w.Name))
	case !controllerutil.ContainsFinalizer(live, lifecycleFinal):
		h.violations = append(h.violations, fmt.Sprintf("the cleanup of %s ran after its finalizer was removed (finalizers %v)", w.Name, live.Finalizers))
	}
	if h.completed[w.UID] > 0 && !h.mayRunAgain[w.UID] {
		h.violations = append(h.violations, fmt.Sprintf("the cleanup of %s ran again after it completed %d time(s), and no removal failed since", w.Name, h.completed[w.UID]))
	}
	switch h.answer {
	case cleanupFails:
		return reconcile.Result{}, errors.New("the external system is down")
	case cleanupWaits:
		return reconcile.Result{RequeueAfter: time.Minute}, nil
	}
	h.completed[w.UID]++
	h.mayRunAgain[w.UID] = false
	return reconcile.Result{}, nil
}

// prepare sets the answer of the next cleanups and the replica about to reconcile, and returns
// how many times uid's completed and which replica released it ("" for none). It forgets what
// an earlier reconcile left unsettled (its step broke before (h)), so that nothing is blamed on
// the wrong reconcile, or on a replay of the shrinking.
func (h *cleanupLog) prepare(answer string, uid types.UID, replica string) (completed int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.answer, h.replica, h.attempts, h.violations, h.rebuilt = answer, replica, 0, nil, nil
	return h.completed[uid]
}

// released returns the replica that released uid after its cleanup, "" for none.
func (h *cleanupLog) released(uid types.UID) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.releasedBy[uid]
}

// settle records, after a reconcile, whether a cleanup of uid that completed in it was followed
// by a removal that failed (the finalizer is still on: carried) or that succeeded, and returns
// the completions of uid, the cleanup attempts and the violations of (h) and (j) seen since
// prepare.
func (h *cleanupLog) settle(uid types.UID, completedBefore int, had, carried bool) (completed, attempts int, violations, rebuilt []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.completed[uid] > completedBefore && had {
		if carried {
			h.mayRunAgain[uid] = true
		} else {
			h.releasedBy[uid] = h.replica
		}
	}
	attempts, h.attempts = h.attempts, 0
	violations, h.violations = h.violations, nil
	rebuilt, h.rebuilt = h.rebuilt, nil
	return h.completed[uid], attempts, violations, rebuilt
}

// reconcileCall is what a reconcile gives step: what every ssakit call does, and the lifecycle's
// own invariants.
type reconcileCall struct {
	view   *unstructured.Unstructured // the object the reconcile held; nil when it found none
	intent func(after *unstructured.Unstructured) bool
	// shown is whether view showed the intent done, as lifecycleIntent of view has it: only
	// then may the reconcile send nothing.
	shown bool
	err   error // what the reconcile returned
	sent  bool
	// held checks (h) and (i), once the live object after the reconcile is known.
	held func(after *unstructured.Unstructured) error
}

// reconcile is opReconcile: the action's replica reconciles the object once.
func (r *run) reconcile(ctx context.Context, a action, before *unstructured.Unstructured) reconcileCall {
	key := client.ObjectKey{Namespace: r.ns, Name: objects[a.Object].name}
	var uid types.UID
	if before != nil {
		uid = before.GetUID()
	}
	completedBefore := r.lc.handler.prepare(a.Value, uid, a.View)
	p := r.lc.replicas[a.View]
	var old *cacheBehind
	if a.Age > 0 {
		var err error
		if old, err = p.behind(r.snapshot(a.Object, a.Age)); err != nil {
			return reconcileCall{held: func(*unstructured.Unstructured) error { return err }}
		}
	}
	view, got, sent, err := p.reconcileOnce(ctx, key, before, old)
	if err != nil {
		return reconcileCall{held: func(*unstructured.Unstructured) error { return err }}
	}
	tally := &r.lc.tally
	tally.reconciles++
	if before != nil && (view == nil || view.GetResourceVersion() != before.GetResourceVersion()) {
		tally.behind++
	}
	if view != nil {
		r.lc.states.reached(a.View, view, before, r.lc.handler.released(view.GetUID()))
	}
	held := func(after *unstructured.Unstructured) error {
		r.checks += 2
		had := before != nil && slices.Contains(before.GetFinalizers(), lifecycleFinal)
		has := after != nil && after.GetUID() == uid && slices.Contains(after.GetFinalizers(), lifecycleFinal)
		completed, attempts, violations, rebuilt := r.lc.handler.settle(uid, completedBefore, had, has)
		tally.cleanups += attempts
		if attempts > 0 && a.Value == cleanupWaits {
			r.lc.states.waited++
		}
		switch {
		case !had && has:
			tally.added++
		case had && !has:
			tally.released++
		}
		switch {
		case len(violations) > 0:
			return fmt.Errorf("(h) %s (%s): %v", a.Op, outcome(got.err), violations)
		case len(rebuilt) > 0:
			return fmt.Errorf("(j) %s (%s): %v", a.Op, outcome(got.err), rebuilt)
		case !had && has && !before.GetDeletionTimestamp().IsZero():
			return fmt.Errorf("(i) %s (%s) put the lifecycle's finalizer on a terminating object", a.Op, outcome(got.err))
		case had && !has && completed == 0:
			return fmt.Errorf("(i) %s (%s) removed the lifecycle's finalizer, and its cleanup never completed for uid %s", a.Op, outcome(got.err), uid)
		}
		return nil
	}
	viewIntent := lifecycleIntent(view, a.Value)
	shown := viewIntent != nil && viewIntent(view)
	return reconcileCall{view: view, intent: lifecycleIntent(before, a.Value), shown: shown, err: got.err, sent: sent, held: held}
}

// lifecycleIntent is what a reconcile that returns success must leave on the live object (g), as
// judged from obj (the live object before it, or the object it read): a live object carries the
// finalizer; a terminating one that carried it has lost it when the cleanup is done, and keeps it
// while the cleanup waits.
func lifecycleIntent(obj *unstructured.Unstructured, answer string) func(*unstructured.Unstructured) bool {
	switch {
	case obj == nil:
		return nil
	case obj.GetDeletionTimestamp().IsZero():
		return carrying(lifecycleFinal, true)
	case !slices.Contains(obj.GetFinalizers(), lifecycleFinal):
		return carrying(lifecycleFinal, false)
	}
	return carrying(lifecycleFinal, answer != cleanupDone)
}

// carrying is the intent of carrying the finalizer name (want), or not.
func carrying(name string, want bool) func(*unstructured.Unstructured) bool {
	return func(after *unstructured.Unstructured) bool {
		return slices.Contains(finalizersOf(after), name) == want
	}
}
