package reconcile_test

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clientgoac "k8s.io/client-go/applyconfigurations"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	ssareconcile "github.com/ssakit/ssakit/pkg/reconcile"
	"github.com/ssakit/ssakit/pkg/ssatest"
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

func ExampleNewStep() {
	ctx := context.Background()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "settings"}}
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).WithObjects(cm).Build()
	// In a manager: NewStep(mgr.GetClient(), ..., StepOptions{APIReader: mgr.GetAPIReader()}).
	step, err := ssareconcile.NewStep(c, "example", "example.com/cleanup", ssareconcile.StepOptions{APIReader: c})
	if err != nil {
		panic(err)
	}

	proceed, err := step.Handle(ctx, cm, func(context.Context) error { return nil })

	fmt.Println(proceed, err, cm.Finalizers, step.Finalizer().FieldOwner())
	// Output:
	// true <nil> [example.com/cleanup] example/finalizer/example.com/cleanup
}

func ExampleNewStatusApplier() {
	ctx := context.Background()
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "web", Generation: 3}}
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).WithObjects(svc).WithStatusSubresource(svc).Build()
	status := ssareconcile.NewStatusApplier(c, "lb-provisioner")

	err := status.Apply(ctx, svc, corev1ac.ServiceStatus().WithConditions(ssareconcile.Condition(svc.Status.Conditions,
		metav1.Condition{Type: "Ready", Status: metav1.ConditionTrue, Reason: "Provisioned", ObservedGeneration: svc.Generation})))

	ready := svc.Status.Conditions[0]
	fmt.Println(err, ready.Type, ready.Status, ready.Reason, ready.ObservedGeneration)
	// Output:
	// <nil> Ready True Provisioned 3
}

func ExampleStatusApplier_Apply() {
	ctx := context.Background()
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "web"}}
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).WithObjects(svc).WithStatusSubresource(svc).Build()
	status := ssareconcile.NewStatusApplier(c, "lb-provisioner")
	ingress := func() *corev1ac.ServiceStatusApplyConfiguration {
		return corev1ac.ServiceStatus().WithLoadBalancer(corev1ac.LoadBalancerStatus().
			WithIngress(corev1ac.LoadBalancerIngress().WithIP("192.0.2.10")))
	}
	if err := status.Apply(ctx, svc, ingress()); err != nil {
		panic(err)
	}
	written := svc.ResourceVersion

	// The same status again: the manager's managedFields entry proves it unchanged, so nothing is
	// sent and the object keeps its resourceVersion.
	if err := status.Apply(ctx, svc, ingress()); err != nil {
		panic(err)
	}
	fmt.Println(svc.Status.LoadBalancer.Ingress[0].IP, svc.ResourceVersion == written)
	// Output:
	// 192.0.2.10 true
}

func ExampleWithTypeConverter() {
	// For a custom resource, the converter generated with its apply configurations lets the
	// applier prove a status unchanged without a request; client-go's built-in types are always
	// known. Here the converter of the built-in types stands in for a generated one.
	var c client.Client // a manager's client
	generated := clientgoac.NewTypeConverter(clientgoscheme.Scheme)
	_ = ssareconcile.NewStatusApplier(c, "configmirror", ssareconcile.WithTypeConverter(generated))
}
