package main

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	controllerpkg "sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	mirrorv1alpha1 "github.com/ssakit/ssakit/example/operator/api/v1alpha1"
	mirrorconfig "github.com/ssakit/ssakit/example/operator/config"
	"github.com/ssakit/ssakit/example/operator/controller"
	"github.com/ssakit/ssakit/internal/testcluster"
	"github.com/ssakit/ssakit/pkg/ssa"
)

// The variants of the example operator the end-to-end measurement runs.
const (
	operatorSSAKit = "example operator (ssakit)"
	operatorUpdate = "same reconciler, finalizer by controllerutil + Update"
)

// controllerOptions are the end-to-end controllers' options, the same for both variants.
var controllerOptions = controllerpkg.Options{MaxConcurrentReconciles: 4}

// installMirrorCRD installs the example operator's CRD and adds its types to the cluster's scheme.
func installMirrorCRD(cluster *testcluster.Cluster) error {
	crd, err := mirrorconfig.CRD()
	if err != nil {
		return err
	}
	if _, err := envtest.InstallCRDs(cluster.Config, envtest.CRDInstallOptions{CRDs: []*apiextensionsv1.CustomResourceDefinition{crd}}); err != nil {
		return fmt.Errorf("installing the ConfigMirror CRD: %w", err)
	}
	return mirrorv1alpha1.AddToScheme(cluster.Scheme)
}

// updateMirror is the example operator's reconciler with its finalizer written the kubebuilder
// way: controllerutil.AddFinalizer and Update, then the same Reconcile; on deletion the same
// Cleanup, controllerutil.RemoveFinalizer and Update.
type updateMirror struct {
	client client.Client
	mirror *controller.Mirror
}

func (u *updateMirror) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	obj := &mirrorv1alpha1.ConfigMirror{}
	if err := u.client.Get(ctx, req.NamespacedName, obj); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if !obj.DeletionTimestamp.IsZero() {
		if !controllerutil.ContainsFinalizer(obj, controller.Finalizer) {
			return reconcile.Result{}, nil
		}
		if result, err := u.mirror.Cleanup(ctx, obj); err != nil || !result.IsZero() {
			return result, err
		}
		controllerutil.RemoveFinalizer(obj, controller.Finalizer)
		return reconcile.Result{}, client.IgnoreNotFound(u.client.Update(ctx, obj))
	}
	if controllerutil.AddFinalizer(obj, controller.Finalizer) {
		if err := u.client.Update(ctx, obj); err != nil {
			return reconcile.Result{}, err
		}
	}
	return u.mirror.Reconcile(ctx, obj)
}

// endToEnd measures (5): the example operator's reconciler running in a manager, size's
// ConfigMirrors created (each copying its own source into one target namespace) until every one
// is Ready, then deleted until every one is gone with its copy. Both variants are built the same
// way (For ConfigMirror only, the same number of workers) and differ only in how the finalizer is written.
func (b *bench) endToEnd(ctx context.Context, size size) ([]table, error) {
	mirrors := size.objects
	variants := []string{operatorSSAKit, operatorUpdate}
	results := map[string]*operatorFigures{}
	for _, v := range variants {
		results[v] = &operatorFigures{}
	}
	// A first run pays for what a process does once (building the type converters, the clients'
	// first discovery); it is not measured.
	for _, v := range variants {
		if _, err := b.operatorRun(ctx, v, min(mirrors, 20), -1); err != nil {
			return nil, fmt.Errorf("%s, warming up: %w", v, err)
		}
	}
	for rep := range size.repeat {
		for _, v := range rotated(variants, rep) {
			r, err := b.operatorRun(ctx, v, mirrors, rep)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", v, err)
			}
			b.progressf("e2e %s: ready after %s, gone %s later", v, r.ready.Round(time.Millisecond), r.gone.Round(time.Millisecond))
			f := results[v]
			f.create = append(f.create, float64(mirrors)/r.ready.Seconds())
			f.remove = append(f.remove, float64(mirrors)/r.gone.Seconds())
			f.lifecycle = append(f.lifecycle, float64(mirrors)/(r.ready+r.gone).Seconds())
			f.requests = append(f.requests, float64(r.requests)/float64(mirrors))
			f.events = append(f.events, float64(r.events)/float64(mirrors))
			f.errors = append(f.errors, float64(r.errors))
		}
	}
	t := table{
		title: "End to end: the example operator's throughput",
		intro: fmt.Sprintf("The ConfigMirrors of a namespace, each copying its own source ConfigMap into one target namespace, are created until every one is Ready, then deleted until every one "+
			"is gone and its copy deleted (creates and deletes one per mirror, from 4 workers). The operator's reconciler runs in a controller-runtime manager with %d workers, watching ConfigMirrors only; the second variant is the "+
			"same reconciler with its finalizer added and removed by `controllerutil` and `Update`. Objects per second; requests per object are the operator's, without its event writes, which are counted apart. Reconcile errors are those the reconciler returned (a status apply "+
			"refused because the cached object was stale, say: it is retried with backoff).", controllerOptions.MaxConcurrentReconciles),
		header: []string{"operator", "create → Ready (obj/s)", "delete → gone (obj/s)", "whole lifecycle (obj/s)", "lifecycle / ssakit", "requests per object", "event writes per object", "reconcile errors"},
	}
	base := results[operatorSSAKit]
	for _, v := range variants {
		f := results[v]
		t.rows = append(t.rows, []string{v, f.create.format(0), f.remove.format(0), f.lifecycle.format(0), ratio(f.lifecycle, base.lifecycle), f.requests.format(1), f.events.format(1), f.errors.format(0)})
	}
	if slower := slowerPhases(base, results[operatorUpdate]); slower != "" {
		t.notes = append(t.notes, "Where ssakit is slower: the Update variant is faster here in "+slower+". "+
			"Both run under leader election, so ssakit's step reads the kind's revision once and no object from the API server before a cleanup whose cached copy is newer (`reconcile.Options.LeaderElection`), "+
			"and a cleanup done at its first attempt brings no event (the event writes column). "+
			"Each finalizer write is an apply, which costs the API server more than an Update (the latency table); the client cannot send less. "+
			"Each phase ends when its last object is done, so a single reconcile that waits out a retry's backoff also moves it.")
	}
	return []table{t}, nil
}

// operatorFigures are one variant's figures, one per repeat.
type operatorFigures struct{ create, remove, lifecycle, requests, events, errors repeated }

// slowerPhases names the phases, with their figures, in which other's median throughput is above
// ssakit's by 0.5% or more; "" when there is none.
func slowerPhases(ssakit, other *operatorFigures) string {
	var slower []string
	for _, phase := range []struct {
		name          string
		ssakit, other repeated
	}{
		{"create → Ready", ssakit.create, other.create},
		{"delete → gone", ssakit.remove, other.remove},
		{"the whole lifecycle", ssakit.lifecycle, other.lifecycle},
	} {
		// A gap that rounds to 0% is not named: the figures would read as equal.
		if 100*(phase.other.median()/phase.ssakit.median()-1) >= 0.5 {
			slower = append(slower, fmt.Sprintf("%s (%.0f against %.0f objects/s, %.0f%%)", phase.name, phase.other.median(), phase.ssakit.median(), 100*(phase.other.median()/phase.ssakit.median()-1)))
		}
	}
	return strings.Join(slower, ", ")
}

type operatorResult struct {
	ready, gone              time.Duration
	requests, events, errors int
}

// operatorRun runs variant of the example operator on mirrors ConfigMirrors of a namespace of
// their own, from creation until every one is Ready and from deletion until every one is gone,
// and counts the operator's requests; rep names its controller.
func (b *bench) operatorRun(ctx context.Context, variant string, mirrors, rep int) (_ operatorResult, err error) {
	ns, target, err := b.mirrorNamespaces(ctx)
	if err != nil {
		return operatorResult{}, err
	}
	if err := b.createSources(ctx, ns, mirrors); err != nil {
		return operatorResult{}, err
	}
	m := b.newMeter()
	mgr, reconcileErrors, err := b.operatorManager(m, variant, ns, target, rep)
	if err != nil {
		return operatorResult{}, err
	}
	stopManager := startManager(ctx, mgr)
	defer func() {
		if stopErr := stopManager(); err == nil {
			err = stopErr
		}
	}()
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		return operatorResult{}, fmt.Errorf("the manager's cache did not sync")
	}
	<-mgr.Elected() // the controller starts once elected
	m.take()

	r := operatorResult{}
	if r.ready, err = b.mirrorsReady(ctx, ns, target, mirrors); err != nil {
		return operatorResult{}, err
	}
	if r.gone, err = b.mirrorsGone(ctx, ns, mirrors); err != nil {
		return r, err
	}
	r.requests, r.events = operatorRequests(m.take())
	r.errors = int(reconcileErrors.Load())
	return r, b.checkCopiesGone(ctx, target)
}

// mirrorNamespaces creates the namespace of a run's mirrors and the target namespace of their
// copies, which accepts copies from the mirrors' namespace.
func (b *bench) mirrorNamespaces(ctx context.Context) (ns, target string, err error) {
	if ns, err = b.namespace(ctx); err != nil {
		return "", "", err
	}
	if target, err = b.namespace(ctx); err != nil {
		return "", "", err
	}
	accept := fmt.Appendf(nil, `{"metadata":{"annotations":{%q:%q}}}`, controller.AcceptFromAnnotation, ns)
	if err := b.cluster.Client.Patch(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: target}}, client.RawPatch(types.MergePatchType, accept)); err != nil {
		return "", "", fmt.Errorf("annotating the target namespace: %w", err)
	}
	return ns, target, nil
}

// createSources creates the source ConfigMap of each of mirrors ConfigMirrors in namespace.
func (b *bench) createSources(ctx context.Context, namespace string, mirrors int) error {
	return parallel(4, mirrors, func(i int) error {
		return b.cluster.Client.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: fmt.Sprintf("source-%04d", i)}, Data: map[string]string{"key": "value"}})
	})
}

// operatorManager builds a manager on m's config whose cache holds ns and target, with variant's
// reconciler as its one controller, watching ConfigMirrors; the count is of the errors the
// reconciler returns.
func (b *bench) operatorManager(m *meter, variant, ns, target string, rep int) (manager.Manager, *atomic.Int64, error) {
	mgr, err := b.electingManager(m.cfg, map[client.Object]cache.ByObject{
		&mirrorv1alpha1.ConfigMirror{}: {Transform: ssa.KeepManagedFieldsOf(controller.Name, controller.FinalizerFieldOwner)},
		&corev1.ConfigMap{}:            {Transform: ssa.KeepManagedFieldsOf(controller.Name)},
	}, ns, target)
	if err != nil {
		return nil, nil, err
	}
	r, err := operatorReconciler(mgr, variant)
	if err != nil {
		return nil, nil, err
	}
	counted, reconcileErrors := countingErrors(r)
	if err := ctrl.NewControllerManagedBy(mgr).For(&mirrorv1alpha1.ConfigMirror{}).Named(fmt.Sprintf("bench-mirror-%d", rep+1)).
		WithOptions(controllerOptions).Complete(counted); err != nil {
		return nil, nil, err
	}
	return mgr, reconcileErrors, nil
}

// electingManager builds a manager as newManager does, with leader election on, as the example
// operator runs with --leader-elect: both variants run under it. Its Lease, in ns (one name per
// run, so that no run waits for the last one's), is read and renewed through the cluster's own
// config, not cfg, so the election's requests are not counted as the operator's.
func (b *bench) electingManager(cfg *rest.Config, byObject map[client.Object]cache.ByObject, ns, target string) (manager.Manager, error) {
	return ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                        b.cluster.Scheme,
		Cache:                         cache.Options{DefaultNamespaces: map[string]cache.Config{ns: {}, target: {}}, ByObject: byObject},
		Metrics:                       metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress:        "0",
		Controller:                    config.Controller{SkipNameValidation: new(true)},
		LeaderElection:                true,
		LeaderElectionID:              ns,
		LeaderElectionNamespace:       ns,
		LeaderElectionConfig:          b.cluster.Config,
		LeaderElectionReleaseOnCancel: true,
	})
}

// operatorReconciler is variant's reconciler: the example operator's, or the same one with its
// finalizer written by controllerutil and Update.
func operatorReconciler(mgr manager.Manager, variant string) (reconcile.Reconciler, error) {
	mirror, ssakitReconciler, err := controller.NewReconciler(mgr, controller.Options{LeaderElection: true})
	if err != nil {
		return nil, err
	}
	if variant == operatorUpdate {
		return &updateMirror{client: mgr.GetClient(), mirror: mirror}, nil
	}
	return ssakitReconciler, nil
}

// countingErrors wraps r in a reconciler that counts the errors r returns.
func countingErrors(r reconcile.Reconciler) (reconcile.Reconciler, *atomic.Int64) {
	reconcileErrors := &atomic.Int64{}
	counted := reconcile.Func(func(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
		result, err := r.Reconcile(ctx, req)
		if err != nil {
			reconcileErrors.Add(1)
		}
		return result, err
	})
	return counted, reconcileErrors
}

// mirrorsReady creates mirrors ConfigMirrors in ns, each copying its own source into target, and
// says how long until every one is Ready.
func (b *bench) mirrorsReady(ctx context.Context, ns, target string, mirrors int) (time.Duration, error) {
	start := time.Now()
	if err := parallel(4, mirrors, func(i int) error {
		return b.cluster.Client.Create(ctx, &mirrorv1alpha1.ConfigMirror{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: mirrorName(i)},
			Spec:       mirrorv1alpha1.ConfigMirrorSpec{Source: fmt.Sprintf("source-%04d", i), TargetNamespaces: []string{target}},
		})
	}); err != nil {
		return 0, err
	}
	if err := b.waitFor(ctx, ns, mirrors, func(list *mirrorv1alpha1.ConfigMirrorList) bool {
		for _, obj := range list.Items {
			if !meta.IsStatusConditionTrue(obj.Status.Conditions, mirrorv1alpha1.ConditionReady) {
				return false
			}
		}
		return len(list.Items) == mirrors
	}); err != nil {
		return 0, fmt.Errorf("waiting for every mirror to be Ready: %w", err)
	}
	return time.Since(start), nil
}

// mirrorsGone deletes every ConfigMirror of ns, mirrors of them, and says how long until every
// one is gone. The deletes are one per mirror, from as many workers as created them, as kubectl
// delete --all sends them: one DeleteAllOf of 10,000 mirrors outlived the API server's request
// timeout (60s) while the operator worked, and a deletion cut off there is not finished.
func (b *bench) mirrorsGone(ctx context.Context, ns string, mirrors int) (time.Duration, error) {
	start := time.Now()
	if err := parallel(4, mirrors, func(i int) error {
		mirror := &mirrorv1alpha1.ConfigMirror{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: mirrorName(i)}}
		return client.IgnoreNotFound(b.cluster.Client.Delete(ctx, mirror))
	}); err != nil {
		return 0, err
	}
	if err := b.waitFor(ctx, ns, mirrors, func(list *mirrorv1alpha1.ConfigMirrorList) bool { return len(list.Items) == 0 }); err != nil {
		return 0, fmt.Errorf("waiting for every mirror to be gone: %w", err)
	}
	return time.Since(start), nil
}

// mirrorName is the name of a run's i-th ConfigMirror.
func mirrorName(i int) string { return fmt.Sprintf("mirror-%04d", i) }

// operatorRequests counts the operator's requests among calls: all but its events, and apart,
// its event writes.
func operatorRequests(calls []testcluster.Request) (requests, events int) {
	requests = countCalls(calls, func(c testcluster.Request) bool { return classOf(c) != "events" })
	events = countCalls(calls, func(c testcluster.Request) bool { return classOf(c) == "events" && c.IsWrite() })
	return requests, events
}

// checkCopiesGone fails when a mirror's copy is left in target once every mirror is gone: a
// cleanup did not run.
func (b *bench) checkCopiesGone(ctx context.Context, target string) error {
	copies := &corev1.ConfigMapList{}
	if err := b.cluster.Client.List(ctx, copies, client.InNamespace(target), client.HasLabels{controller.MirrorUIDLabel}); err != nil {
		return err
	}
	if len(copies.Items) != 0 {
		return fmt.Errorf("%d copies are left in %s after every mirror is gone: a cleanup did not run", len(copies.Items), target)
	}
	return nil
}

// waitFor lists the ConfigMirrors of namespace, mirrors of them, every 200 ms or, above 1,000
// mirrors, every 0.2 ms per mirror (so that the lists take the same share of the API server's
// time, and the phases' ends are found as closely relative to their length, at any size) until
// done says so, for up to 5 minutes and 100 ms per mirror. The lists are the admin's, not the
// operator's, and are not counted.
func (b *bench) waitFor(ctx context.Context, namespace string, mirrors int, done func(*mirrorv1alpha1.ConfigMirrorList) bool) error {
	limit := 5*time.Minute + time.Duration(mirrors)*100*time.Millisecond
	interval := max(200*time.Millisecond, time.Duration(mirrors)*200*time.Microsecond)
	deadline := time.Now().Add(limit)
	for {
		list := &mirrorv1alpha1.ConfigMirrorList{}
		err := b.cluster.Client.List(ctx, list, client.InNamespace(namespace))
		if err == nil && done(list) {
			return nil
		}
		if err != nil && !apierrors.IsTooManyRequests(err) {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not done after %s", limit)
		}
		time.Sleep(interval)
	}
}
