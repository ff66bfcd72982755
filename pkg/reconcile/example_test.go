package reconcile_test

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/managedfields"
	clientgoac "k8s.io/client-go/applyconfigurations"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	ssareconcile "github.com/ssakit/ssakit/pkg/reconcile"
	"github.com/ssakit/ssakit/pkg/ssa"
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

func (h *serviceHandler) Cleanup(ctx context.Context, svc *corev1.Service) (reconcile.Result, error) {
	// ... ask for the deletion of what Reconcile created outside the cluster; idempotent.
	deleted, err := h.releaseLoadBalancer(ctx, svc)
	if err != nil {
		return reconcile.Result{}, err // a failure: Warning event, retried with backoff
	}
	if !deleted {
		// Not a failure: the finalizer stays, one Normal CleanupWaiting event, and Cleanup
		// runs again in 30s.
		return reconcile.Result{RequeueAfter: 30 * time.Second}, nil
	}
	return reconcile.Result{}, nil // done: the finalizer is removed
}

// releaseLoadBalancer asks the cloud to delete the Service's load balancer and reports whether
// it is gone.
func (h *serviceHandler) releaseLoadBalancer(context.Context, *corev1.Service) (deleted bool, err error) {
	return true, nil
}

func ExampleNew() {
	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{})
	if err != nil {
		panic(err)
	}
	h := &serviceHandler{status: ssareconcile.NewStatusApplier(mgr.GetClient(), "lb-provisioner", ssareconcile.StatusApplierOptions{})}
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

// legacyReconciler is an existing reconciler that adopts only the finalizer step, and retries a
// stale copy quietly as New's Reconciler does.
type legacyReconciler struct {
	client.Client
	finalizer *ssareconcile.Step
	status    *ssareconcile.StatusApplier
	stale     ssareconcile.StaleRetry
}

func (r *legacyReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	svc := &corev1.Service{}
	if err := r.Get(ctx, req.NamespacedName, svc); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	outcome, result, err := r.finalizer.Handle(ctx, svc, func(context.Context) (reconcile.Result, error) {
		return reconcile.Result{}, nil // release what the Service held
	})
	if outcome != ssareconcile.Proceed {
		return result, err // the step's: returned as it is
	}
	// ... the reconciler's own work, unchanged, then its status. A copy older than the
	// controller's own last write is refused (ssa.ErrStale) and retried soon, without an error.
	err = r.status.Apply(ctx, svc, corev1ac.ServiceStatus().WithConditions(ssareconcile.Condition(svc.Status.Conditions,
		metav1.Condition{Type: "Ready", Status: metav1.ConditionTrue, Reason: "Provisioned", ObservedGeneration: svc.Generation})))
	return r.stale.Handle(ctx, req, reconcile.Result{}, err)
}

func ExampleStep_Handle() {
	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{})
	if err != nil {
		panic(err)
	}
	step, err := ssareconcile.NewStep(mgr.GetClient(), "lb-provisioner", "lb.example.com/release", ssareconcile.StepOptions{
		FinalizerOptions: ssa.FinalizerOptions{APIReader: mgr.GetAPIReader()},
		Recorder:         mgr.GetEventRecorder("lb-provisioner"),
	})
	if err != nil {
		panic(err)
	}
	r := &legacyReconciler{Client: mgr.GetClient(), finalizer: step,
		status: ssareconcile.NewStatusApplier(mgr.GetClient(), "lb-provisioner", ssareconcile.StatusApplierOptions{})}
	if err := ctrl.NewControllerManagedBy(mgr).For(&corev1.Service{}).Complete(r); err != nil {
		panic(err)
	}
}

// An operator that guards two external systems gives each its own finalizer and cleanup; a
// failing or waiting cleanup holds up neither the other nor its finalizer's removal. The
// predicates let through the events a changed generation shows, and those in which one of the
// finalizers went missing from a live object.
func ExampleReconciler_FinalizerPredicate() {
	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{})
	if err != nil {
		panic(err)
	}
	h := &serviceHandler{status: ssareconcile.NewStatusApplier(mgr.GetClient(), "lb-provisioner", ssareconcile.StatusApplierOptions{})}
	r, err := ssareconcile.New[*corev1.Service](mgr, h, ssareconcile.Options{
		Controller: "lb-provisioner",
		Finalizer:  "lb.example.com/release",
	}, ssareconcile.Finalizer[*corev1.Service]{
		Name: "dns.example.com/record",
		Cleanup: func(context.Context, *corev1.Service) (reconcile.Result, error) {
			return reconcile.Result{}, nil // delete the Service's DNS record
		},
	})
	if err != nil {
		panic(err)
	}
	err = ctrl.NewControllerManagedBy(mgr).
		For(&corev1.Service{}, builder.WithPredicates(predicate.Or[client.Object](
			predicate.GenerationChangedPredicate{},
			r.FinalizerPredicate(),
		))).
		Complete(r)
	if err != nil {
		panic(err)
	}
}

// A dynamic operator reconciles unstructured objects of a kind it is given, read from the cache.
func ExampleOptions_unstructured() {
	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
		Client: client.Options{Cache: &client.CacheOptions{Unstructured: true}},
	})
	if err != nil {
		panic(err)
	}
	gvk := schema.GroupVersionKind{Group: "storage.example.com", Version: "v1", Kind: "Bucket"}
	r, err := ssareconcile.New[*unstructured.Unstructured](mgr, bucketHandler{}, ssareconcile.Options{
		Controller:       "buckets",
		Finalizer:        "storage.example.com/delete-bucket",
		GroupVersionKind: gvk,
	})
	if err != nil {
		panic(err)
	}
	watched := &unstructured.Unstructured{}
	watched.SetGroupVersionKind(gvk)
	if err := ctrl.NewControllerManagedBy(mgr).For(watched).Complete(r); err != nil {
		panic(err)
	}
}

// A controller that wrote its finalizer with Update or a merge patch before takes it over from
// those writers, object by object, as it reconciles them; an earlier name of the finalizer is
// replaced the same way. Options.FinalizerOptions configure Options.Finalizer; each further
// Finalizer has Options of its own.
func ExampleOptions_takeOverLegacy() {
	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{})
	if err != nil {
		panic(err)
	}
	h := &serviceHandler{status: ssareconcile.NewStatusApplier(mgr.GetClient(), "lb-provisioner", ssareconcile.StatusApplierOptions{})}
	r, err := ssareconcile.New[*corev1.Service](mgr, h, ssareconcile.Options{
		Controller: "lb-provisioner",
		Finalizer:  "lb.example.com/release",
		FinalizerOptions: ssa.FinalizerOptions{
			TakeOverLegacy: true,
			FormerNames:    []string{"lb-release"},
		},
	})
	if err != nil {
		panic(err)
	}
	if err := ctrl.NewControllerManagedBy(mgr).For(&corev1.Service{}).Complete(r); err != nil {
		panic(err)
	}
}

// bucketHandler reconciles Buckets as unstructured objects.
type bucketHandler struct{}

func (bucketHandler) Reconcile(_ context.Context, bucket *unstructured.Unstructured) (reconcile.Result, error) {
	_, _, _ = unstructured.NestedString(bucket.Object, "spec", "region")
	return reconcile.Result{}, nil
}

func (bucketHandler) Cleanup(context.Context, *unstructured.Unstructured) (reconcile.Result, error) {
	return reconcile.Result{}, nil
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
	// In a manager: NewStep(mgr.GetClient(), ..., StepOptions{FinalizerOptions: ssa.FinalizerOptions{APIReader: mgr.GetAPIReader()}}).
	step, err := ssareconcile.NewStep(c, "example", "example.com/cleanup", ssareconcile.StepOptions{FinalizerOptions: ssa.FinalizerOptions{APIReader: c}})
	if err != nil {
		panic(err)
	}

	outcome, _, err := step.Handle(ctx, cm, func(context.Context) (reconcile.Result, error) { return reconcile.Result{}, nil })

	fmt.Println(outcome, err, cm.Finalizers, step.Finalizer().FieldOwner())
	// Output:
	// Proceed <nil> [example.com/cleanup] example/finalizer/example.com/cleanup
}

func ExampleNewStatusApplier() {
	ctx := context.Background()
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "web", Generation: 3}}
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).WithObjects(svc).WithStatusSubresource(svc).Build()
	status := ssareconcile.NewStatusApplier(c, "lb-provisioner", ssareconcile.StatusApplierOptions{})

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
	status := ssareconcile.NewStatusApplier(c, "lb-provisioner", ssareconcile.StatusApplierOptions{})
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

// For a custom resource, the converter generated with its apply configurations lets the applier
// prove a status unchanged without a request; client-go's built-in types are always known.
func ExampleNewStatusApplier_typeConverters() {
	var c client.Client // a manager's client
	// Here the converter of the built-in types stands in for a generated one.
	generated := clientgoac.NewTypeConverter(clientgoscheme.Scheme)
	_ = ssareconcile.NewStatusApplier(c, "configmirror", ssareconcile.StatusApplierOptions{
		TypeConverters: []managedfields.TypeConverter{generated},
	})
}

// The controller was called "lb-controller" and wrote status with Status().Update or its own
// apply; as "lb-provisioner" it takes over exactly the status fields it applies from it.
func ExampleNewStatusApplier_legacyManagers() {
	var c client.Client // a manager's client
	_ = ssareconcile.NewStatusApplier(c, "lb-provisioner", ssareconcile.StatusApplierOptions{
		LegacyManagers: []string{"lb-controller"},
	})
}

// FinalizerChanged lets through the update in which a live object lost one of the finalizers, and
// nothing else: combine it with predicate.GenerationChangedPredicate through predicate.Or.
func ExampleFinalizerChanged() {
	p := ssareconcile.FinalizerChanged([]string{"example.com/cleanup"}, nil)
	carrying := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings", Finalizers: []string{"example.com/cleanup"}}}
	dropped := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings"}}

	fmt.Println(p.Update(event.UpdateEvent{ObjectOld: carrying, ObjectNew: dropped}))
	fmt.Println(p.Update(event.UpdateEvent{ObjectOld: dropped, ObjectNew: carrying}))
	// Output:
	// true
	// false
}

// With former names, FinalizerChanged also lets through a former name put back on a live object,
// as the previous release does during a rolling upgrade that renames the finalizer.
func ExampleFinalizerChanged_formerNames() {
	p := ssareconcile.FinalizerChanged([]string{"example.com/cleanup"}, []string{"cleanup-finalizer"})
	renamed := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings", Finalizers: []string{"example.com/cleanup"}}}
	putBack := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings", Finalizers: []string{"example.com/cleanup", "cleanup-finalizer"}}}

	fmt.Println(p.Update(event.UpdateEvent{ObjectOld: renamed, ObjectNew: putBack}))
	fmt.Println(p.Update(event.UpdateEvent{ObjectOld: putBack, ObjectNew: renamed}))
	// Output:
	// true
	// false
}

// A stale copy is retried after 100ms, then twice as long each time, quietly; the sixth in a row
// is returned for controller-runtime to log and back off, until a reconcile succeeds.
func ExampleStaleRetry_Handle() {
	ctx := context.Background()
	var stale ssareconcile.StaleRetry // one per controller, in its reconciler
	req := reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "demo", Name: "web"}}
	refused := fmt.Errorf("status of Service demo/web: %w", ssa.ErrStale) // as StatusApplier.Apply says it

	for range 7 {
		result, err := stale.Handle(ctx, req, reconcile.Result{}, refused)
		fmt.Println(result.RequeueAfter, err != nil)
	}
	result, err := stale.Handle(ctx, req, reconcile.Result{}, nil) // a reconcile that succeeds
	fmt.Println(result.RequeueAfter, err)
	result, err = stale.Handle(ctx, req, reconcile.Result{}, refused)
	fmt.Println(result.RequeueAfter, err)
	// Output:
	// 100ms false
	// 200ms false
	// 400ms false
	// 800ms false
	// 1s false
	// 0s true
	// 0s true
	// 0s <nil>
	// 100ms <nil>
}
