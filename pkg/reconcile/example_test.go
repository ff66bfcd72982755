package reconcile_test

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	ssareconcile "github.com/ssakit/ssakit/pkg/reconcile"
)

// serviceHandler is an operator's code for Services: what to do while one lives, and the
// cleanup its finalizer guards.
type serviceHandler struct {
	status *ssareconcile.StatusApplier
}

func (h *serviceHandler) Reconcile(ctx context.Context, svc *corev1.Service) (reconcile.Result, error) {
	// ... create what the Service needs, then report:
	return reconcile.Result{}, h.status.Apply(ctx, svc, corev1ac.ServiceStatus().WithConditions(
		ssareconcile.Condition(svc.Status.Conditions, metav1.Condition{
			Type: "Ready", Status: metav1.ConditionTrue, Reason: "Provisioned", ObservedGeneration: svc.Generation,
		})))
}

func (h *serviceHandler) Cleanup(_ context.Context, _ *corev1.Service) error {
	// ... delete what Reconcile created outside the cluster; idempotent.
	return nil
}

func ExampleNew() {
	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{})
	if err != nil {
		panic(err)
	}
	h := &serviceHandler{status: ssareconcile.NewStatusApplier(mgr.GetClient(), "lb-provisioner")}
	r, err := ssareconcile.New[*corev1.Service](mgr, h, ssareconcile.Options{
		Controller: "lb-provisioner",
		Finalizer:  "lb.example.com/release",
	})
	if err != nil {
		panic(err)
	}
	if err := ctrl.NewControllerManagedBy(mgr).For(&corev1.Service{}).Complete(r); err != nil {
		panic(err)
	}
}

// legacyReconciler is an existing reconciler that adopts only the finalizer step.
type legacyReconciler struct {
	client.Client
	finalizer *ssareconcile.Step
}

func (r *legacyReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	svc := &corev1.Service{}
	if err := r.Get(ctx, req.NamespacedName, svc); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	proceed, err := r.finalizer.Handle(ctx, svc, func(context.Context) error {
		return nil // release what the Service held
	})
	if !proceed {
		return reconcile.Result{}, err
	}
	// ... the reconciler's own work, unchanged.
	return reconcile.Result{}, nil
}

func ExampleStep_Handle() {
	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{})
	if err != nil {
		panic(err)
	}
	step, err := ssareconcile.NewStep(mgr.GetClient(), "lb-provisioner", "lb.example.com/release", ssareconcile.StepOptions{
		APIReader: mgr.GetAPIReader(),
		Recorder:  mgr.GetEventRecorder("lb-provisioner"),
	})
	if err != nil {
		panic(err)
	}
	r := &legacyReconciler{Client: mgr.GetClient(), finalizer: step}
	if err := ctrl.NewControllerManagedBy(mgr).For(&corev1.Service{}).Complete(r); err != nil {
		panic(err)
	}
}

func ExampleCondition() {
	since := metav1.NewTime(time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC))
	existing := []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue, LastTransitionTime: since}}

	ready := ssareconcile.Condition(existing, metav1.Condition{Type: "Ready", Status: metav1.ConditionTrue, Reason: "Synced"})

	fmt.Println(*ready.Type, *ready.Status, *ready.Reason, ready.LastTransitionTime.UTC().Format(time.RFC3339))
	// Output:
	// Ready True Synced 2026-11-01T10:00:00Z
}
