package reconcile

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/managedfields"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/ssakit/ssakit/internal/testcluster"
	ssareconcile "github.com/ssakit/ssakit/pkg/reconcile"
	"github.com/ssakit/ssakit/pkg/ssa"
)

// backoffBase is the first retry delay of the test controllers: long enough to be seen between
// cleanup attempts, short enough for the tests.
const backoffBase = 100 * time.Millisecond

// managerOptions are what a test may change about its Manager.
type managerOptions struct {
	config      *rest.Config // default: the admin config
	metricsAddr string       // default: no metrics endpoint
	syncPeriod  *time.Duration
	// cacheUnstructured makes the manager's client read unstructured objects from the cache.
	cacheUnstructured bool
}

// startManager starts a Manager watching namespace, with the controllers setup adds, and returns
// a function that stops it and waits until it has stopped. It is stopped when the test ends.
func startManager(t *testing.T, namespace string, opts managerOptions, setup func(manager.Manager) error) (stop func()) {
	t.Helper()
	cfg := opts.config
	if cfg == nil {
		cfg = cluster.Config
	}
	metricsAddr := opts.metricsAddr
	if metricsAddr == "" {
		metricsAddr = "0"
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 cluster.Scheme,
		Cache:                  cache.Options{DefaultNamespaces: map[string]cache.Config{namespace: {}}, SyncPeriod: opts.syncPeriod},
		Metrics:                metricsserver.Options{BindAddress: metricsAddr},
		HealthProbeBindAddress: "0",
		Controller:             config.Controller{SkipNameValidation: new(true)},
		Client:                 client.Options{Cache: &client.CacheOptions{Unstructured: opts.cacheUnstructured}},
	})
	if err != nil {
		t.Fatalf("creating a manager: %v", err)
	}
	if err := setup(mgr); err != nil {
		t.Fatalf("setting up controllers: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("manager stopped with: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// addWidgetController builds the handler's controller for Widgets with ssakit's Reconciler.
func addWidgetController(mgr manager.Manager, name, finalizer string, h *widgetHandler) error {
	return addWidgetControllerWith(mgr, name, finalizer, h, widgetControllerOptions{})
}

// widgetControllerOptions are what a test may add to its widget controller.
type widgetControllerOptions struct {
	more       []ssareconcile.Finalizer[*testcluster.Widget]
	predicates func(r *ssareconcile.Reconciler[*testcluster.Widget]) []predicate.Predicate
	// finalizerOptions are Options.FinalizerOptions.
	finalizerOptions ssa.FinalizerOptions
}

func addWidgetControllerWith(mgr manager.Manager, name, finalizer string, h *widgetHandler, opts widgetControllerOptions) error {
	types, err := loadWidgetTypes()
	if err != nil {
		return err
	}
	h.status = ssareconcile.NewStatusApplier(mgr.GetClient(), name, ssareconcile.StatusApplierOptions{TypeConverters: []managedfields.TypeConverter{types}})
	r, err := ssareconcile.New[*testcluster.Widget](mgr, h, ssareconcile.Options{Controller: name, Finalizer: finalizer, FinalizerOptions: opts.finalizerOptions}, opts.more...)
	if err != nil {
		return err
	}
	var predicates []predicate.Predicate
	if opts.predicates != nil {
		predicates = opts.predicates(r)
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&testcluster.Widget{}, builder.WithPredicates(predicates...)).
		Named(name).
		WithOptions(controller.Options{RateLimiter: workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](backoffBase, 5*time.Second)}).
		Complete(r)
}

// widgetHandler records what the controller did and lets a test decide how cleanup goes.
type widgetHandler struct {
	status *ssareconcile.StatusApplier

	mu         sync.Mutex
	reconciles int
	cleanups   []time.Time
	// onReconcile, when set, sees each object Reconcile is given.
	onReconcile func(w *testcluster.Widget)
	// cleanup, when set, decides the outcome of each cleanup attempt (1-based).
	cleanup func(ctx context.Context, w *testcluster.Widget, attempt int) (reconcile.Result, error)
}

// widgetStatus is the apply configuration of a Widget's status.
type widgetStatus struct {
	Phase      *string                                 `json:"phase,omitempty"`
	Conditions []*metav1ac.ConditionApplyConfiguration `json:"conditions,omitempty"`
}

func (h *widgetHandler) Reconcile(ctx context.Context, w *testcluster.Widget) (reconcile.Result, error) {
	h.mu.Lock()
	h.reconciles++
	h.mu.Unlock()
	if h.onReconcile != nil {
		h.onReconcile(w.DeepCopyObject().(*testcluster.Widget))
	}
	ready := ssareconcile.Condition(w.Status.Conditions, metav1.Condition{
		Type: "Ready", Status: metav1.ConditionTrue, Reason: "Reconciled", Message: "color is " + w.Spec.Color, ObservedGeneration: w.Generation,
	})
	return reconcile.Result{}, h.status.Apply(ctx, w, &widgetStatus{Phase: new("Ready"), Conditions: []*metav1ac.ConditionApplyConfiguration{ready}})
}

func (h *widgetHandler) Cleanup(ctx context.Context, w *testcluster.Widget) (reconcile.Result, error) {
	h.mu.Lock()
	h.cleanups = append(h.cleanups, time.Now())
	attempt := len(h.cleanups)
	h.mu.Unlock()
	if h.cleanup != nil {
		return h.cleanup(ctx, w, attempt)
	}
	return reconcile.Result{}, nil
}

func (h *widgetHandler) reconcileCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.reconciles
}

func (h *widgetHandler) cleanupTimes() []time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]time.Time(nil), h.cleanups...)
}

// controllerName is a name of its own for each test's controller, so that the process-wide
// metrics of one test never mix with another's.
func controllerName(namespace string) string { return "widgets-" + namespace[len("ssakit-test-"):] }

func createWidget(t *testing.T, namespace, name string) *testcluster.Widget {
	t.Helper()
	w := &testcluster.Widget{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}, Spec: testcluster.WidgetSpec{Color: "blue"}}
	if err := cluster.Client.Create(t.Context(), w, client.FieldOwner("user")); err != nil {
		t.Fatalf("creating widget %s: %v", name, err)
	}
	return w
}

// getWidget reads the widget live; ok is false when it does not exist.
func getWidget(ctx context.Context, key client.Object) (w *testcluster.Widget, ok bool, err error) {
	w = &testcluster.Widget{}
	err = cluster.Client.Get(ctx, client.ObjectKeyFromObject(key), w)
	if client.IgnoreNotFound(err) != nil {
		return nil, false, err
	}
	return w, err == nil, nil
}

// finalizersOf returns the live widget's finalizers, or ["<gone>"] once it no longer exists.
func finalizersOf(ctx context.Context, key client.Object) func() []string {
	return func() []string {
		w, ok, err := getWidget(ctx, key)
		if err != nil {
			return []string{err.Error()}
		}
		if !ok {
			return []string{gone}
		}
		return w.Finalizers
	}
}

const gone = "<gone>"

// eventsAbout lists the type and reason of each event about the named object, once per
// occurrence: client-go's events recorder folds repeats into one Event with a series count, as
// `kubectl describe` shows them ("x2 over 1s").
func eventsAbout(ctx context.Context, namespace, name string) func() []string {
	return func() []string {
		list := &eventsv1.EventList{}
		if err := cluster.Client.List(ctx, list, client.InNamespace(namespace)); err != nil {
			return []string{err.Error()}
		}
		var out []string
		for _, e := range list.Items {
			if e.Regarding.Name != name {
				continue
			}
			occurrences := 1
			if e.Series != nil {
				occurrences = int(e.Series.Count)
			}
			for range occurrences {
				out = append(out, e.Type+" "+e.Reason)
			}
		}
		return out
	}
}

// freeAddress returns a loopback address with a port that was free a moment ago.
func freeAddress(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func diff(t *testing.T, what string, want, got any) {
	t.Helper()
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("%s (-want +got):\n%s", what, d)
	}
}
