package proof

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	ctrlcontroller "sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/ssakit/ssakit/internal/testcluster"
	ssareconcile "github.com/ssakit/ssakit/pkg/reconcile"
)

const (
	// faultLifecycles is how many Widgets are created, finalized, deleted, cleaned up and gone.
	faultLifecycles = 100
	faultController = "faults"
	faultFinal      = "faults.ssakit.dev/cleanup"
	// cleanupTakes is the time a cleanup spends on its external system: with the controller's two
	// workers, it keeps a backlog of adds and cleanups in the queue when the API server stops.
	cleanupTakes = 50 * time.Millisecond
	// createEvery paces the user's creates, faster than the controller's cleanups.
	createEvery = 10 * time.Millisecond
	// outage is how long kube-apiserver stays stopped, on top of its stop and start.
	outage = time.Second
	// outageWithin is how long, once half the Widgets are created, the outage waits for a cleanup
	// to complete in the middle of the lifecycles before it starts anyway.
	outageWithin = 15 * time.Second
	// settleWithin bounds the time, after the restart, for every object to be gone. It is well
	// above the [30, 60) s that client-go's reflectors may back off before they list again after
	// the outage; waitUntilAllGone returns as soon as all is gone, so a pass does not wait for it.
	settleWithin = 120 * time.Second
)

// A running controller built with pkg/reconcile (New, two workers) drives 100 Widget lifecycles
// (a user creates each Widget; ssakit adds the finalizer; the user deletes the Widget once a watch
// shows the finalizer on it; the cleanup runs; ssakit removes the finalizer; the Widget is gone),
// and kube-apiserver is stopped and started again, on the same etcd, once half of them are
// created: it stops inside the first cleanup that completes after that while other Widgets wait
// for their finalizer and others (whose delete the server accepted) for their cleanup, before
// that cleanup's finalizer removal is sent. The test fails if no such completion comes within
// outageWithin, if the lifecycles were not in that middle once the server had stopped, or if the
// cut cleanup did not complete a second time after the restart. Afterwards:
//
//   - none stuck: every Widget is gone within settleWithin of the restart;
//   - none lost: no Widget vanished, or was seen terminating without the finalizer, before its
//     cleanup completed: a watch of the test's own (an informer, which lists again after the
//     outage) looks at every version and deletion, and each cleanup reads the live Widget at its
//     end and finds it there with the finalizer;
//   - none recreated: every name the watch saw held one UID only, the one its create returned;
//   - every cleanup ran exactly once per object, in this precise sense: a cleanup completes (returns
//     success, having found the Widget still there with its finalizer) at least once per Widget,
//     and it runs again after completing only when the finalizer removal that followed was lost
//     to the outage, as Handler.Cleanup documents (it must be idempotent). "Lost" is checked, not
//     assumed: between the completion and the next attempt, a PATCH of the controller's to that
//     Widget (the removal's apply) failed (no answer, 429 or 5xx). Attempts that the outage
//     interrupted (the cleanup's live read failed, and it returned the error) do not complete and
//     are retried with backoff; the summary counts them.
func TestFaults_AnAPIServerRestartMidLifecycleLosesNoFinalizerAndCleansUpEachObjectOnce(t *testing.T) {
	private, err := testcluster.StartRestartable()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := private.Stop(); err != nil {
			t.Errorf("stopping the private control plane: %v", err)
		}
	})
	ns := private.Namespace(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()

	cleanups := newCleanupCounter(private.Client)
	stopController := startFaultController(t, private, ns, cleanups)
	watched := watchLifecycles(ctx, t, private, ns, cleanups)
	user := &lifecycleUser{client: private.Client, ns: ns, uids: map[string]types.UID{}}

	half := make(chan struct{})
	created := make(chan struct{})
	go func() {
		defer close(created)
		for i := range faultLifecycles {
			user.create(ctx, fmt.Sprintf("lifecycle-%03d", i))
			if i+1 == faultLifecycles/2 {
				close(half)
			}
			time.Sleep(createEvery)
		}
	}()
	deleted := make(chan struct{})
	go func() {
		defer close(deleted)
		for range faultLifecycles {
			select {
			case w := <-watched.finalized:
				user.delete(ctx, w)
			case <-ctx.Done():
				return
			}
		}
	}()

	// The outage starts inside a cleanup that has just completed, before its finalizer removal is
	// sent: so that every run has a removal lost to the outage, the one case where a completed
	// cleanup must run again.
	<-half
	stopped := make(chan error, 1)
	var (
		at        outageSnapshot
		stopOnce  sync.Once
		stopBegan time.Time
	)
	stop := func(cut *testcluster.Widget) {
		stopOnce.Do(func() {
			stopBegan = time.Now()
			err := private.StopAPIServer()
			at = outageSnapshot{created: user.count(), waitingForFinalizer: user.count() - cleanups.finalizedCount(),
				waitingForCleanup: user.deletesAccepted() - cleanups.completedCount()}
			if cut != nil {
				at.cutRemoval, at.cutUID = cut.Name, cut.UID
			}
			stopped <- err
		})
	}
	// A completion that finds the lifecycles elsewhere than in the middle (none waiting for its
	// finalizer, or none deleted and waiting for its cleanup) leaves the hook to the next one.
	cleanups.afterNextCompletion(func(w *testcluster.Widget) bool {
		if user.count()-cleanups.finalizedCount() == 0 || user.deletesAccepted()-cleanups.completedCount() == 0 {
			return false
		}
		stop(w)
		return true
	})
	var stopErr error
	select {
	case stopErr = <-stopped:
	case <-time.After(outageWithin):
		// No cleanup completes in the middle (a defect that keeps them all from completing, say):
		// the outage comes anyway, and the outcome says what went wrong.
		stop(nil)
		stopErr = <-stopped
	}
	if stopErr != nil {
		t.Fatalf("stopping kube-apiserver: %v", stopErr)
	}
	time.Sleep(outage)
	if err := private.StartAPIServer(); err != nil {
		t.Fatalf("starting kube-apiserver again: %v", err)
	}
	restarted := time.Now()
	if at.waitingForFinalizer == 0 || at.waitingForCleanup == 0 {
		t.Errorf("the outage did not fall in the middle of the lifecycles: %s", at)
	}
	if at.cutRemoval == "" {
		t.Errorf("the outage cut no finalizer removal: %s", at)
	}

	left, unseen := waitUntilAllGone(ctx, private.Client, ns, user, watched, settleWithin)
	settled := time.Now()
	cancel()
	<-created
	<-deleted
	stopController()

	got := faultOutcome{Stuck: left, NotSeenGone: unseen, Lost: watched.lostOnes(), Recreated: watched.recreated(user.uidsByName())}
	got.WithoutCompletedCleanup, got.UnexplainedRepeats, got.CleanupAfterRelease = cleanups.verdict(user.uidsByName())
	if d := cmp.Diff(faultOutcome{}, got); d != "" {
		t.Errorf("after %d lifecycles and an API server restart (%s) (-want +got):\n%s", faultLifecycles, at, d)
	}
	once, again, attempts := cleanups.tally()
	if n := cleanups.completions(at.cutUID); at.cutRemoval != "" && n < 2 {
		t.Errorf("the cleanup of %s, whose finalizer removal the outage cut, completed %d time(s): it did not complete again after the restart", at.cutRemoval, n)
	}
	if again < 1 {
		t.Errorf("no cleanup completed again after a removal lost to the outage (%s): the run did not exercise the one case where a completed cleanup must run again", at)
	}
	line := fmt.Sprintf("faults: %d lifecycles, 1 apiserver restart (%s; stop→restart %s, restart→all gone %s; %d of the controller's requests failed), %d stuck, %d lost, %d recreated, "+
		"%d cleaned up exactly once, %d again after a removal lost to the outage, %d unexplained repeats, %d cleanup attempts",
		user.count(), at, restarted.Sub(stopBegan).Round(time.Millisecond), settled.Sub(restarted).Round(time.Millisecond),
		failedRequests(cleanups.requests.Requests()), len(got.Stuck), len(got.Lost), len(got.Recreated),
		once, again, len(got.UnexplainedRepeats), attempts)
	t.Log(line)
	fmt.Println(line)
}

// faultOutcome is what went wrong, by Widget; the zero value is a pass.
type faultOutcome struct {
	Stuck                   []string // still there, with their finalizers, when the deadline passed
	NotSeenGone             []string // created, and not seen vanishing by the test's watch
	Lost                    []string // vanished or lost the finalizer before their cleanup completed
	Recreated               []string // a name seen with a UID other than its create's
	WithoutCompletedCleanup []string // created, but no cleanup completed for them
	UnexplainedRepeats      []string // a cleanup ran again after completing, with no failed request in between
	CleanupAfterRelease     []string // a cleanup found the Widget gone or without the finalizer
}

// outageSnapshot is where the lifecycles stood when kube-apiserver had stopped.
type outageSnapshot struct {
	cutRemoval                                      string    // the Widget whose cleanup had completed, its removal not sent
	cutUID                                          types.UID // its UID
	created, waitingForFinalizer, waitingForCleanup int
}

func (s outageSnapshot) String() string {
	cut := "stopped after " + s.cutRemoval + "'s cleanup, before its removal,"
	if s.cutRemoval == "" {
		cut = "stopped, no cleanup having completed in the middle of the lifecycles within " + outageWithin.String() + ","
	}
	return fmt.Sprintf("%s with %d created, %d waiting for their finalizer, %d for their cleanup", cut, s.created, s.waitingForFinalizer, s.waitingForCleanup)
}

// startFaultController runs a Manager of the private cluster with the Widget controller, whose
// requests a recorder sees, and returns a function that stops it.
func startFaultController(t *testing.T, private *testcluster.Cluster, ns string, h *cleanupCounter) (stop func()) {
	t.Helper()
	cfg, rec := testcluster.Recording(private.Config)
	h.requests = rec
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 private.Scheme,
		Cache:                  cache.Options{DefaultNamespaces: map[string]cache.Config{ns: {}}},
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             config.Controller{SkipNameValidation: new(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	r, err := ssareconcile.New[*testcluster.Widget](mgr, h, ssareconcile.Options{Controller: faultController, Finalizer: faultFinal})
	if err != nil {
		t.Fatal(err)
	}
	// The default rate limiter backs a failing object off up to 1000 s; the outage fails every
	// object many times, and the test would wait on the backoff instead of the controller.
	err = ctrl.NewControllerManagedBy(mgr).For(&testcluster.Widget{}).Named(faultController).
		WithOptions(ctrlcontroller.Options{MaxConcurrentReconciles: 2, RateLimiter: workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](20*time.Millisecond, time.Second)}).
		Complete(r)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("the manager stopped with: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// cleanupCounter is the controller's Handler: Reconcile records that a Widget carries the
// finalizer, Cleanup counts its attempts and completions by UID.
type cleanupCounter struct {
	live     client.Reader         // the API server, uncached and unrecorded
	requests *testcluster.Recorder // the controller's requests

	mu        sync.Mutex
	finalized map[types.UID]bool
	attempts  map[types.UID]int
	completed map[types.UID]int
	mark      map[types.UID]int  // how many requests the controller had sent at the last completion
	repeats   []string           // unexplained
	repeated  map[types.UID]bool // whose cleanup ran again unexplained
	afterGone []string
	// afterCompletion, when set, runs after the next cleanup completes and before it returns; it
	// stays set for the completion after that when it returns false.
	afterCompletion func(*testcluster.Widget) (done bool)
}

// afterNextCompletion has hook run in the next cleanup that completes, before it returns, and in
// the ones after it until it returns true.
func (h *cleanupCounter) afterNextCompletion(hook func(*testcluster.Widget) (done bool)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.afterCompletion = hook
}

func newCleanupCounter(live client.Reader) *cleanupCounter {
	return &cleanupCounter{live: live, finalized: map[types.UID]bool{}, attempts: map[types.UID]int{}, completed: map[types.UID]int{}, mark: map[types.UID]int{}, repeated: map[types.UID]bool{}}
}

// Reconcile runs only once the Widget carries the finalizer (pkg/reconcile's promise).
func (h *cleanupCounter) Reconcile(_ context.Context, w *testcluster.Widget) (reconcile.Result, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.finalized[w.UID] = true
	return reconcile.Result{}, nil
}

// Cleanup works on its external system for cleanupTakes, then checks, with a live read, that the
// Widget it cleaned up for is still there and still guarded by the finalizer: a cleanup that
// completes has run before the Widget could vanish. A read the outage fails is returned, so the
// attempt does not complete and is retried.
func (h *cleanupCounter) Cleanup(ctx context.Context, w *testcluster.Widget) (reconcile.Result, error) {
	h.mu.Lock()
	h.attempts[w.UID]++
	if h.completed[w.UID] > 0 && !h.removalFailedSince(w) {
		h.repeats = append(h.repeats, fmt.Sprintf("%s: cleanup attempt %d after %d completed, and no request about it failed since", w.Name, h.attempts[w.UID], h.completed[w.UID]))
		h.repeated[w.UID] = true
	}
	h.mu.Unlock()

	select {
	case <-time.After(cleanupTakes):
	case <-ctx.Done():
		return reconcile.Result{}, ctx.Err()
	}
	live := &testcluster.Widget{}
	err := h.live.Get(ctx, client.ObjectKeyFromObject(w), live)
	if err != nil && !apierrors.IsNotFound(err) {
		return reconcile.Result{}, fmt.Errorf("the cleanup could not confirm the Widget: %w", err)
	}
	if hook := h.complete(w, live, err); hook != nil && !hook(w) {
		h.afterNextCompletion(hook)
	}
	return reconcile.Result{}, nil
}

// complete records how a cleanup that read live ended, and returns the hook to run after it.
func (h *cleanupCounter) complete(w, live *testcluster.Widget, readErr error) (hook func(*testcluster.Widget) bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case readErr != nil || live.UID != w.UID:
		h.afterGone = append(h.afterGone, w.Name+": gone when its cleanup ended")
		return nil
	case !controllerutil.ContainsFinalizer(live, faultFinal):
		h.afterGone = append(h.afterGone, fmt.Sprintf("%s: without the finalizer when its cleanup ended (finalizers %v)", w.Name, live.Finalizers))
		return nil
	}
	h.completed[w.UID]++
	h.mark[w.UID] = len(h.requests.Requests())
	hook, h.afterCompletion = h.afterCompletion, nil
	return hook
}

// failedRequest reports whether r got no answer, or one that says the server could not serve it:
// what the outage does to a request.
func failedRequest(r testcluster.Request) bool {
	return r.StatusCode == 0 || r.StatusCode == http.StatusTooManyRequests || r.StatusCode >= http.StatusInternalServerError
}

func failedRequests(requests []testcluster.Request) int {
	n := 0
	for _, r := range requests {
		if failedRequest(r) {
			n++
		}
	}
	return n
}

// removalFailedSince reports whether a finalizer removal of the controller's on w (an apply: a
// PATCH of w) failed since its cleanup last completed; h.mu is held. After the completion, the
// step sends no other PATCH of w, and its reads (the live read before a cleanup) do not count.
func (h *cleanupCounter) removalFailedSince(w *testcluster.Widget) bool {
	path := fmt.Sprintf("/apis/%s/v1/namespaces/%s/widgets/%s", testcluster.TestGroup, w.Namespace, w.Name)
	return slices.ContainsFunc(h.requests.Requests()[h.mark[w.UID]:], func(r testcluster.Request) bool {
		return r.Method == http.MethodPatch && r.Path == path && failedRequest(r)
	})
}

func (h *cleanupCounter) completions(uid types.UID) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.completed[uid]
}

func (h *cleanupCounter) finalizedCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.finalized)
}

func (h *cleanupCounter) completedCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.completed)
}

// verdict lists the Widgets, of the UIDs created, whose cleanup never completed, ran again
// unexplained, or ran when the Widget was gone or released.
func (h *cleanupCounter) verdict(created map[string]types.UID) (without, repeats, afterGone []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for name, uid := range created {
		if h.completed[uid] == 0 {
			without = append(without, name)
		}
	}
	slices.Sort(without)
	return without, h.repeats, h.afterGone
}

// tally counts the Widgets whose cleanup completed once, those whose cleanup completed again only
// after a removal lost to the outage, and every attempt.
func (h *cleanupCounter) tally() (once, again, attempts int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for uid, n := range h.completed {
		switch {
		case n == 1:
			once++
		case !h.repeated[uid]:
			again++
		}
		attempts += h.attempts[uid]
	}
	return once, again, attempts
}

// lifecycleUser creates and deletes the Widgets as a user would, retrying through the outage.
type lifecycleUser struct {
	client client.Client
	ns     string

	mu      sync.Mutex
	uids    map[string]types.UID // by name, from the create's answer
	deletes int                  // deletes the server accepted
}

func (u *lifecycleUser) create(ctx context.Context, name string) {
	for ctx.Err() == nil {
		w := &testcluster.Widget{ObjectMeta: metav1.ObjectMeta{Namespace: u.ns, Name: name}, Spec: testcluster.WidgetSpec{Color: "blue"}}
		err := u.client.Create(ctx, w, client.FieldOwner(userCreate))
		if apierrors.IsAlreadyExists(err) {
			// The create landed, but its answer was lost to the outage; the UID is the one stored.
			err = u.client.Get(ctx, client.ObjectKeyFromObject(w), w)
		}
		if err == nil {
			u.mu.Lock()
			u.uids[name] = w.UID
			u.mu.Unlock()
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// delete deletes w, guarded by its UID, until the server has taken the delete.
func (u *lifecycleUser) delete(ctx context.Context, w *testcluster.Widget) {
	for ctx.Err() == nil {
		err := u.client.Delete(ctx, w.DeepCopyObject().(client.Object), client.Preconditions{UID: &w.UID})
		if err == nil || apierrors.IsNotFound(err) {
			// NotFound: an earlier try landed, its answer lost to the outage, and the Widget has
			// gone since.
			u.mu.Lock()
			u.deletes++
			u.mu.Unlock()
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// deletesAccepted is how many Widgets the server took a delete of.
func (u *lifecycleUser) deletesAccepted() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.deletes
}

func (u *lifecycleUser) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.uids)
}

func (u *lifecycleUser) uidsByName() map[string]types.UID {
	u.mu.Lock()
	defer u.mu.Unlock()
	return maps.Clone(u.uids)
}

// lifecycleWatch is the test's own view of the Widgets: every version and deletion an informer
// delivers, across the outage.
type lifecycleWatch struct {
	cleanups  *cleanupCounter
	finalized chan *testcluster.Widget // each Widget once, when first seen with the finalizer

	mu       sync.Mutex
	uids     map[string][]types.UID
	queued   map[types.UID]bool
	vanished map[types.UID]bool
	lost     []string
}

// watchLifecycles starts an informer on the private cluster's Widgets in ns until ctx ends.
func watchLifecycles(ctx context.Context, t *testing.T, private *testcluster.Cluster, ns string, cleanups *cleanupCounter) *lifecycleWatch {
	t.Helper()
	w := &lifecycleWatch{cleanups: cleanups, finalized: make(chan *testcluster.Widget, faultLifecycles),
		uids: map[string][]types.UID{}, queued: map[types.UID]bool{}, vanished: map[types.UID]bool{}}
	watchWidgets(ctx, t, private.Config, cache.Options{Scheme: private.Scheme, DefaultNamespaces: map[string]cache.Config{ns: {}}}, w.seen, w.gone)
	return w
}

// watchWidgets starts an informer of the test's own on the Widgets opts selects, until ctx ends,
// calling seen for each Widget added or changed and gone for each deleted, and waits for it to
// sync.
func watchWidgets(ctx context.Context, t *testing.T, cfg *rest.Config, opts cache.Options, seen func(*testcluster.Widget), gone func(any)) {
	t.Helper()
	c, err := cache.New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	informer, err := c.GetInformer(ctx, &testcluster.Widget{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := informer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { seen(obj.(*testcluster.Widget)) },
		UpdateFunc: func(_, obj any) { seen(obj.(*testcluster.Widget)) },
		DeleteFunc: gone,
	}); err != nil {
		t.Fatal(err)
	}
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		t.Fatal("the test's watch of the Widgets never synced")
	}
}

func (w *lifecycleWatch) seen(obj *testcluster.Widget) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !slices.Contains(w.uids[obj.Name], obj.UID) {
		w.uids[obj.Name] = append(w.uids[obj.Name], obj.UID)
	}
	carries := controllerutil.ContainsFinalizer(obj, faultFinal)
	switch terminating := !obj.DeletionTimestamp.IsZero(); {
	case carries && !terminating && !w.queued[obj.UID]:
		w.queued[obj.UID] = true
		w.finalized <- obj.DeepCopyObject().(*testcluster.Widget)
	case terminating && !carries && w.cleanups.completions(obj.UID) == 0:
		w.lost = append(w.lost, obj.Name+": terminating without the finalizer before its cleanup completed")
	}
}

func (w *lifecycleWatch) gone(obj any) {
	if tombstone, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = tombstone.Obj // a deletion the informer learned of by listing again after the outage
	}
	widget := obj.(*testcluster.Widget)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.vanished[widget.UID] = true
	if w.cleanups.completions(widget.UID) == 0 {
		w.lost = append(w.lost, widget.Name+": vanished before its cleanup completed")
	}
}

// notVanished lists the names of created whose UID the watch has not seen vanish.
func (w *lifecycleWatch) notVanished(created map[string]types.UID) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for name, uid := range created {
		if !w.vanished[uid] {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

func (w *lifecycleWatch) lostOnes() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.lost)
}

// recreated lists the names the watch saw with a UID other than the one their create returned.
func (w *lifecycleWatch) recreated(created map[string]types.UID) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for name, uids := range w.uids {
		if len(uids) > 1 || uids[0] != created[name] {
			out = append(out, fmt.Sprintf("%s: UIDs %v, created as %s", name, uids, created[name]))
		}
	}
	slices.Sort(out)
	return out
}

// waitUntilAllGone waits until every Widget was created, none is left and the test's watch saw
// each vanish. When within passes first, it returns those left, with their finalizers, and the
// names created that the watch did not see vanish.
func waitUntilAllGone(ctx context.Context, c client.Client, ns string, user *lifecycleUser, w *lifecycleWatch, within time.Duration) (left, unseen []string) {
	deadline := time.Now().Add(within)
	for {
		list := &testcluster.WidgetList{}
		err := c.List(ctx, list, client.InNamespace(ns))
		created := user.uidsByName()
		unseen = w.notVanished(created)
		if err == nil && len(list.Items) == 0 && len(created) == faultLifecycles && len(unseen) == 0 {
			return nil, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			if err != nil {
				return []string{fmt.Sprintf("listing the Widgets: %v", err)}, unseen
			}
			for _, item := range list.Items {
				left = append(left, fmt.Sprintf("%s %v terminating=%t", item.Name, item.Finalizers, !item.DeletionTimestamp.IsZero()))
			}
			return left, unseen
		}
		time.Sleep(100 * time.Millisecond)
	}
}
