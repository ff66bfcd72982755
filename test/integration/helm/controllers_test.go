package helm

import (
	"context"
	"sync"
	"testing"

	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/ssakit/ssakit/internal/testcluster"
	ssareconcile "github.com/ssakit/ssakit/pkg/reconcile"
)

// cleanupFinalizer is the finalizer of both controllers.
const cleanupFinalizer = "test.ssakit.dev/cleanup"

// startManager starts a Manager from cfg watching namespace, with the controllers setup adds. It
// is stopped, and waited for, when the test ends.
func startManager(t *testing.T, cfg *rest.Config, namespace string, setup func(manager.Manager) error) {
	t.Helper()
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 cluster.Scheme,
		Cache:                  cache.Options{DefaultNamespaces: map[string]cache.Config{namespace: {}}},
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             config.Controller{SkipNameValidation: new(true)},
	})
	if err != nil {
		t.Fatalf("creating a manager: %v", err)
	}
	if err := setup(mgr); err != nil {
		t.Fatalf("setting up the controller: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager stopped with: %v", err)
		}
	})
}

// cleanups counts the cleanups a controller ran.
type cleanups struct {
	mu sync.Mutex
	n  int
}

func (c *cleanups) ran() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
}

func (c *cleanups) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// ssakitHandler is the Handler of the ssakit controller: its finalizer is ssakit's, its status an
// apply to /status by its own manager, and it never writes spec.
type ssakitHandler struct {
	status   *ssareconcile.StatusApplier
	cleanups cleanups
}

// widgetStatus is the apply configuration of the Widget status the ssakit controller reports.
type widgetStatus struct {
	Phase *string `json:"phase,omitempty"`
}

func (h *ssakitHandler) Reconcile(ctx context.Context, w *testcluster.Widget) (reconcile.Result, error) {
	// observedGeneration is set by the applier from w's generation.
	return reconcile.Result{}, h.status.Apply(ctx, w, &widgetStatus{Phase: new("Ready")})
}

func (h *ssakitHandler) Cleanup(context.Context, *testcluster.Widget) (reconcile.Result, error) {
	h.cleanups.ran()
	return reconcile.Result{}, nil
}

// startSSAkitController runs reconcile.New[*testcluster.Widget] with cleanupFinalizer in a
// manager of its own watching namespace, under the controller name controller.
func startSSAkitController(t *testing.T, namespace, controller string) *ssakitHandler {
	t.Helper()
	h := &ssakitHandler{}
	startManager(t, cluster.Config, namespace, func(mgr manager.Manager) error {
		h.status = ssareconcile.NewStatusApplier(mgr.GetClient(), controller, ssareconcile.StatusApplierOptions{})
		r, err := ssareconcile.New[*testcluster.Widget](mgr, h, ssareconcile.Options{Controller: controller, Finalizer: cleanupFinalizer})
		if err != nil {
			return err
		}
		return ctrl.NewControllerManagedBy(mgr).For(&testcluster.Widget{}).Named(controller).Complete(r)
	})
	return h
}

// updateManager is the field manager of the kubebuilder-style controller: the API server names an
// Update's manager after the client's user agent, and a kubebuilder operator's binary, and so its
// user agent, is "manager".
const updateManager = "manager"

// defaultColor is what the kubebuilder-style controller writes into an empty spec.color.
const defaultColor = "blue"

// updateReconciler is a controller as kubebuilder scaffolds it and as the operators of the
// reports (opensearch-k8s-operator#1496, rook#18361) write it: the finalizer added and removed
// with controllerutil and a full-object Update, a spec field defaulted in Go and written back
// with Update, and status written with Status().Update.
type updateReconciler struct {
	client client.Client
	// defaults is whether an empty spec.color is defaulted.
	defaults bool
	cleanups cleanups
}

func (r *updateReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	w := &testcluster.Widget{}
	if err := r.client.Get(ctx, req.NamespacedName, w); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if !w.DeletionTimestamp.IsZero() {
		if !controllerutil.ContainsFinalizer(w, cleanupFinalizer) {
			return reconcile.Result{}, nil
		}
		r.cleanups.ran()
		controllerutil.RemoveFinalizer(w, cleanupFinalizer)
		return reconcile.Result{}, r.client.Update(ctx, w)
	}
	if controllerutil.AddFinalizer(w, cleanupFinalizer) {
		if err := r.client.Update(ctx, w); err != nil {
			return reconcile.Result{}, err
		}
	}
	if r.defaults && w.Spec.Color == "" {
		w.Spec.Color = defaultColor
		if err := r.client.Update(ctx, w); err != nil {
			return reconcile.Result{}, err
		}
	}
	w.Status.Phase = "Ready"
	w.Status.ObservedGeneration = w.Generation
	return reconcile.Result{}, r.client.Status().Update(ctx, w)
}

// startUpdateController runs an updateReconciler in a manager of its own watching namespace,
// whose requests carry the user agent "manager".
func startUpdateController(t *testing.T, namespace string, defaults bool) *updateReconciler {
	t.Helper()
	r := &updateReconciler{defaults: defaults}
	cfg := rest.CopyConfig(cluster.Config)
	cfg.UserAgent = updateManager
	startManager(t, cfg, namespace, func(mgr manager.Manager) error {
		r.client = mgr.GetClient()
		return ctrl.NewControllerManagedBy(mgr).For(&testcluster.Widget{}).Named("widgets-" + namespace).Complete(r)
	})
	return r
}
