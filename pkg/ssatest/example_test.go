package ssatest_test

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	ssareconcile "github.com/ssakit/ssakit/pkg/reconcile"
	"github.com/ssakit/ssakit/pkg/ssa"
	"github.com/ssakit/ssakit/pkg/ssatest"
)

var _ ssareconcile.Cluster = ssatest.Cluster{}

func ExampleNewClientBuilder() {
	ctx := context.Background()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "settings"}}
	// For a custom resource, pass a scheme that registers it, the type converter generated with
	// its apply configurations, and its status subresource:
	//
	//	ssatest.NewClientBuilder(scheme, applyconfiguration.NewTypeConverter(scheme)).
	//		WithStatusSubresource(&v1alpha1.ConfigMirror{})
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).WithObjects(cm).Build()
	cleanup, err := ssa.NewFinalizer(c, "example", "example.com/cleanup", ssa.FinalizerOptions{})
	if err != nil {
		panic(err)
	}

	// cm got a UID from WithObjects; the answer brings the managedFields that show the owner.
	if _, err := cleanup.Add(ctx, cm); err != nil {
		panic(err)
	}
	ownership, err := ssa.ParseOwnership(cm.ManagedFields)
	if err != nil {
		panic(err)
	}
	fmt.Println(cm.Finalizers, ownership.Owners(ssa.FinalizerPath("example.com/cleanup")))
	// Output: [example.com/cleanup] [example/finalizer/example.com/cleanup]
}

// printingHandler is an ssareconcile.Handler that says when its cleanup runs.
type printingHandler struct{}

func (printingHandler) Reconcile(context.Context, *corev1.ConfigMap) (reconcile.Result, error) {
	return reconcile.Result{}, nil
}

func (printingHandler) Cleanup(_ context.Context, cm *corev1.ConfigMap) (reconcile.Result, error) {
	fmt.Println("cleanup of", cm.Name)
	return reconcile.Result{}, nil
}

func ExampleCluster() {
	ctx := context.Background()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "settings"}}
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).WithObjects(cm).Build()
	r, err := ssareconcile.New[*corev1.ConfigMap](ssatest.Cluster{Client: c}, printingHandler{},
		ssareconcile.Options{Controller: "example", Finalizer: "example.com/cleanup"})
	if err != nil {
		panic(err)
	}
	req := reconcile.Request{NamespacedName: client.ObjectKeyFromObject(cm)}

	// The first reconcile adds the finalizer; once the object is deleted, the next one runs the
	// cleanup and removes the finalizer, and the fake deletes the object.
	if _, err := r.Reconcile(ctx, req); err != nil {
		panic(err)
	}
	if err := c.Delete(ctx, cm); err != nil {
		panic(err)
	}
	if _, err := r.Reconcile(ctx, req); err != nil {
		panic(err)
	}
	err = c.Get(ctx, req.NamespacedName, &corev1.ConfigMap{})
	fmt.Println("gone:", apierrors.IsNotFound(err))
	// Output:
	// cleanup of settings
	// gone: true
}

func ExampleNewLaggingClient() {
	ctx := context.Background()
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "web"}}
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).WithObjects(svc).Build()
	// The controller's cached client: it serves the Service as it is now, until CatchUp.
	cache := ssatest.NewLaggingClient(c)
	status := func(ip string) *corev1ac.ServiceApplyConfiguration {
		return corev1ac.Service("web", "demo").WithStatus(corev1ac.ServiceStatus().
			WithLoadBalancer(corev1ac.LoadBalancerStatus().WithIngress(corev1ac.LoadBalancerIngress().WithIP(ip))))
	}
	// The controller's own status write goes to the store; its cache has not seen it.
	if err := cache.Status().Apply(ctx, status("192.0.2.1"), client.FieldOwner("example")); err != nil {
		panic(err)
	}

	// The next reconcile reads the lagging copy, and its guarded status write is refused.
	stale := &corev1.Service{}
	if err := cache.Get(ctx, client.ObjectKeyFromObject(svc), stale); err != nil {
		panic(err)
	}
	err := cache.Status().Apply(ctx, status("192.0.2.2").WithResourceVersion(stale.ResourceVersion), client.FieldOwner("example"))
	fmt.Println("stale:", errors.Is(ssa.FromApplyError(ssa.ObjectRef{}, err), ssa.ErrStale))

	// Once the cache has caught up, the copy is current and the write goes through.
	cache.CatchUp()
	fresh := &corev1.Service{}
	if err := cache.Get(ctx, client.ObjectKeyFromObject(svc), fresh); err != nil {
		panic(err)
	}
	err = cache.Status().Apply(ctx, status("192.0.2.2").WithResourceVersion(fresh.ResourceVersion), client.FieldOwner("example"))
	fmt.Println("applied:", err == nil, fresh.Status.LoadBalancer.Ingress[0].IP)
	// Output:
	// stale: true
	// applied: true 192.0.2.1
}
