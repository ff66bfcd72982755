package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/managedfields"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/ssakit/ssakit/internal/testcluster"
	ssareconcile "github.com/ssakit/ssakit/pkg/reconcile"
	"github.com/ssakit/ssakit/pkg/ssa"
)

const (
	// steadyController is the field manager of the steady-state controller's status and children.
	steadyController = "bench-widgets"
	steadyFinalizer  = "bench.ssakit.dev/widget"
)

// widgetHandler is the steady-state controller: each Widget gets a child ConfigMap holding its
// color, applied by children, and status.phase Ready, applied by the StatusApplier.
type widgetHandler struct {
	status   *ssareconcile.StatusApplier
	children childApplier
}

func (h *widgetHandler) Reconcile(ctx context.Context, w *testcluster.Widget) (reconcile.Result, error) {
	if err := h.children.apply(ctx, childConfig(w)); err != nil {
		return reconcile.Result{}, err
	}
	return reconcile.Result{}, h.status.Apply(ctx, w, map[string]any{"phase": "Ready"})
}

// childConfig is the configuration of w's child ConfigMap: its name, w as its controller, and
// w's color.
func childConfig(w *testcluster.Widget) *corev1ac.ConfigMapApplyConfiguration {
	return corev1ac.ConfigMap(w.Name, w.Namespace).
		WithOwnerReferences(metav1ac.OwnerReference().WithAPIVersion(testcluster.WidgetGVK.GroupVersion().String()).
			WithKind(testcluster.WidgetGVK.Kind).WithName(w.Name).WithUID(w.UID).WithController(true)).
		WithData(map[string]string{"color": w.Spec.Color})
}

func (h *widgetHandler) Cleanup(context.Context, *testcluster.Widget) (reconcile.Result, error) {
	return reconcile.Result{}, nil
}

// steadyState measures (4): size's Widgets under a running controller that holds a finalizer,
// applies status and applies one child ConfigMap each, read from an informer cache that keeps
// the controller's managedFields entries. Once everything is in place, every object is resynced
// (reconciled with nothing changed) with each way of applying the children, and the requests of
// each pass are counted. It also measures (6) the cost of the drift applier's local decision.
func (b *bench) steadyState(ctx context.Context, size size) (_ []table, err error) {
	fx, err := b.fixture(ctx, size.objects)
	if err != nil {
		return nil, err
	}
	mgr, err := b.newManager(fx.meter.cfg, map[client.Object]cache.ByObject{
		&testcluster.Widget{}: {Transform: ssa.KeepManagedFieldsOf(steadyController, ssa.FinalizerFieldOwner(steadyController, steadyFinalizer))},
		&corev1.ConfigMap{}:   {Transform: ssa.KeepManagedFieldsOf(steadyController)},
	}, fx.namespace)
	if err != nil {
		return nil, err
	}
	reconcilers, ttl, err := b.widgetReconcilers(mgr)
	if err != nil {
		return nil, err
	}
	stopManager := startManager(ctx, mgr)
	defer func() {
		if stopErr := stopManager(); err == nil {
			err = stopErr
		}
	}()

	b.progressf("steady: bringing %d Widgets to their steady state", size.objects)
	if err := settle(ctx, fx, reconcilers[childrenDrift]); err != nil {
		return nil, err
	}
	results, err := measureResyncs(ctx, fx, reconcilers, size.repeat)
	if err != nil {
		return nil, err
	}
	b.progressf("steady: resyncs done; the decision's cost")
	steady := steadyTable(len(fx.widgets), results, ttl.entries())
	decision, err := decisionCost(ctx, mgr.GetClient(), fx.widgets[0], size.repeat)
	if err != nil {
		return nil, err
	}
	return []table{steady, decision}, nil
}

// widgetReconcilers builds in mgr one steady-state controller per way of applying the children,
// by its name in childrenNames, and returns them with the TTL cache's applier, whose entries the
// table reports.
func (b *bench) widgetReconcilers(mgr manager.Manager) (map[string]*ssareconcile.Reconciler[*testcluster.Widget], *ttlChildren, error) {
	widgetTypes, err := b.cluster.ServerTypeConverter(testcluster.WidgetGVK.GroupVersion())
	if err != nil {
		return nil, nil, err
	}
	reconcilers := map[string]*ssareconcile.Reconciler[*testcluster.Widget]{}
	ttl := (*ttlChildren)(nil)
	for _, s := range childrenNames {
		children := newChildApplier(s, mgr.GetClient(), mgr.GetClient(), mgr.GetAPIReader(), steadyController)
		if t, ok := children.(*ttlChildren); ok {
			ttl = t
		}
		h := &widgetHandler{status: ssareconcile.NewStatusApplier(mgr.GetClient(), steadyController, ssareconcile.StatusApplierOptions{TypeConverters: []managedfields.TypeConverter{widgetTypes}}), children: children}
		if reconcilers[s], err = ssareconcile.New[*testcluster.Widget](mgr, h, ssareconcile.Options{Controller: steadyController, Finalizer: steadyFinalizer}); err != nil {
			return nil, nil, err
		}
	}
	return reconcilers, ttl, nil
}

// resync reconciles every Widget of fx once with r.
func resync(ctx context.Context, fx fixture, r reconcile.Reconciler) error {
	var errs []error
	for _, w := range fx.widgets {
		if _, err := r.Reconcile(ctx, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: fx.namespace, Name: w.Name}}); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// settle brings every Widget of fx to its steady state with r, the drift applier's controller:
// the first passes write, and the cache catches up with them; the state is steady once a pass
// writes nothing.
func settle(ctx context.Context, fx fixture, r reconcile.Reconciler) error {
	for range 30 {
		err := resync(ctx, fx, r)
		calls := fx.meter.take()
		if err == nil && countCalls(calls, testcluster.Request.IsWrite) == 0 {
			return nil
		}
		time.Sleep(300 * time.Millisecond)
	}
	return fmt.Errorf("the %d Widgets did not settle after 30 passes", len(fx.widgets))
}

// steadyFigures are one way of applying the children's figures: requests per object and resync,
// and the time of each resync of all objects, in all and per object.
type steadyFigures struct{ finalizer, status, children, firstChildren, seconds, perObject repeated }

// measureResyncs resyncs every Widget of fx with each of reconcilers: once to count the first
// resync of each applier in this process, where a TTL cache is still empty, then repeat times.
func measureResyncs(ctx context.Context, fx fixture, reconcilers map[string]*ssareconcile.Reconciler[*testcluster.Widget], repeat int) (map[string]*steadyFigures, error) {
	objects := len(fx.widgets)
	results := map[string]*steadyFigures{}
	for _, s := range childrenNames {
		if err := resync(ctx, fx, reconcilers[s]); err != nil {
			return nil, fmt.Errorf("%s: %w", s, err)
		}
		calls := fx.meter.take()
		results[s] = &steadyFigures{firstChildren: repeated{perObject(calls, objects, "children")}}
	}
	for rep := range repeat {
		for _, s := range rotated(childrenNames, rep) {
			start := time.Now()
			if err := resync(ctx, fx, reconcilers[s]); err != nil {
				return nil, fmt.Errorf("%s: %w", s, err)
			}
			elapsed := time.Since(start)
			results[s].add(fx.meter.take(), objects, elapsed)
		}
	}
	return results, nil
}

// add records one resync of all objects: its calls and how long it took.
func (f *steadyFigures) add(calls []testcluster.Request, objects int, elapsed time.Duration) {
	f.finalizer = append(f.finalizer, perObject(calls, objects, "finalizer"))
	f.status = append(f.status, perObject(calls, objects, "status"))
	f.children = append(f.children, perObject(calls, objects, "children"))
	f.seconds = append(f.seconds, elapsed.Seconds())
	f.perObject = append(f.perObject, float64(elapsed.Microseconds())/float64(objects))
}

// steadyTable is the steady state's table; ttlEntries is how many request hashes the TTL cache
// held at the end.
func steadyTable(objects int, results map[string]*steadyFigures, ttlEntries int) table {
	t := table{
		title: "Steady state: requests per resync",
		intro: "A controller built with `reconcile.New` holds a finalizer on each Widget of a namespace, applies their status and one child ConfigMap each, " +
			"and reads from an informer cache that keeps its own managedFields entries (`ssa.KeepManagedFieldsOf`). Once all is in place, every Widget is resynced " +
			"(reconciled with nothing to change, one at a time) with each way of applying the children; requests per object and resync. The first resync is the first one the applier " +
			"makes in its process, when a TTL cache is still empty.",
		header: []string{"children applied by", "finalizer", "status", "children", "children, first resync", "resync of all objects (s)", "resync per object (µs)"},
	}
	for _, s := range childrenNames {
		f := results[s]
		t.rows = append(t.rows, []string{s, f.finalizer.format(2), f.status.format(2), f.children.format(2), f.firstChildren.format(2), f.seconds.format(2), f.perObject.format(0)})
	}
	t.notes = append(t.notes, fmt.Sprintf("The TTL cache held %d request hashes for %d children at the end; the drift applier keeps no state of its own: it decides from the cached child. "+
		"The passes here run seconds apart, well within the TTL (30 minutes, as Cluster API's): its later resyncs are its best case. "+
		"Flux's way reads each child from the API server and sends a dry run: 2 requests per child and resync.", ttlEntries, objects))
	return t
}

func perObject(calls []testcluster.Request, objects int, class string) float64 {
	return float64(countCalls(calls, func(c testcluster.Request) bool { return classOf(c) == class })) / float64(objects)
}

// The rows of the decision table.
const (
	decisionDrift = "ssa.Applier.WouldChange on the cached child: the drift applier's proof that its apply changes nothing"
	decisionHash  = "SHA-256 of the request (lower bound of a TTL cache key)"
)

// decisionCost measures (6) what the drift applier's local decision costs per object, as a Go
// benchmark (testing.Benchmark) run repeat times: ssa.Applier.WouldChange on the steady state's
// child of w, as the controller's cache holds it, and the configuration the steady-state
// controller applies it with (childConfig), next to the request hash a TTL cache computes for
// the same decision.
func decisionCost(ctx context.Context, cache client.Client, w *testcluster.Widget, repeat int) (table, error) {
	owner := &testcluster.Widget{}
	if err := cache.Get(ctx, client.ObjectKeyFromObject(w), owner); err != nil {
		return table{}, err
	}
	config := childConfig(owner)
	live, err := cached(ctx, cache, config)
	if err != nil || live == nil {
		return table{}, fmt.Errorf("reading the steady state's child %s from the cache: %w", keyOf(config), cmp.Or(err, errors.New("not found")))
	}
	applier := ssa.NewApplier(cache, steadyController, ssa.ApplierOptions{})
	if changes, err := applier.WouldChange(live, config); err != nil || changes {
		if err != nil {
			return table{}, fmt.Errorf("deciding on the steady-state child: %w", err)
		}
		return table{}, fmt.Errorf("the steady-state child should need no apply, but WouldChange says it would change")
	}
	t := table{
		title: "Cost of the local decision per object",
		intro: "Go benchmarks (`testing.Benchmark`) in the bench's process, on the steady state's child ConfigMap of its first Widget as the controller's cache holds it " +
			"(only the controller's managedFields entry kept) and the configuration the controller applies it with. " +
			"The hash row is a lower bound of a TTL cache's decision: Cluster API also converts the request (PrepareModified) and hashes a spew dump of it, which costs more than this SHA-256 of its JSON.",
		header: []string{"decision", "time per object (µs)", "allocations", "bytes allocated"},
	}
	var benchErr error
	for _, d := range []struct {
		name string
		run  func() error
	}{
		{decisionDrift, func() error { _, err := applier.WouldChange(live, config); return err }},
		{decisionHash, func() error { _, err := requestHash(config); return err }},
	} {
		var times repeated
		var result testing.BenchmarkResult
		for range repeat {
			result = testing.Benchmark(func(tb *testing.B) {
				tb.ReportAllocs()
				for tb.Loop() {
					if err := d.run(); err != nil && benchErr == nil {
						benchErr = err
					}
				}
			})
			times = append(times, float64(result.NsPerOp())/1000)
		}
		t.rows = append(t.rows, []string{d.name, times.format(1), fmt.Sprint(result.AllocsPerOp()), fmt.Sprint(result.AllocedBytesPerOp())})
	}
	return t, benchErr
}
