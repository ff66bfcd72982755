package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ssakit/ssakit/internal/testcluster"
)

// The lifecycle's variants of ssakit, beside the strategies: objects from a cache that strips
// managedFields (only the Finalizer's memory of its own answers proves the finalizer owned), and a
// step under leader election (StepOptions.LeaderElection), with either cache.
const (
	strippedCache        = "ssakit, cache strips managedFields"
	electedStep          = "ssakit, leader election"
	electedStrippedCache = "ssakit, leader election, cache strips managedFields"
)

// ssakitVariant says how a lifecycle variant of ssakit differs from the plain step.
type ssakitVariant struct{ stripped, elected bool }

var ssakitVariants = map[string]ssakitVariant{
	strategySSAKit:       {},
	strippedCache:        {stripped: true},
	electedStep:          {elected: true},
	electedStrippedCache: {stripped: true, elected: true},
}

// lifecycleRows are the lifecycle table's rows, in order.
var lifecycleRows = append(append([]string(nil), strategyNames...), strippedCache, electedStep, electedStrippedCache)

// resyncs is how many steady-state reconciles a lifecycle has between the add and the removal.
const resyncs = 10

// lifecycleWorkers is how many objects' lifecycles run at once: the counts per object are the
// same at any number, and 10,000 lifecycles one at a time would take most of the bench's hour.
const lifecycleWorkers = 4

// lifecycle measures (2) the requests a controller sends per object lifecycle: the finalizer part
// of a reconcile when the object appears, of 10 resyncs, and of the reconcile after the user
// deletes it, counted at the controller's HTTP transport. ssakit runs reconcile.Step.Handle; the
// others run the kubebuilder pattern (AddFinalizer and write when it changed something; on
// deletion, the cleanup, RemoveFinalizer and write). Each reconcile gets the object as an
// informer cache would hand it over: the last answer, then the terminating object. The counts
// come from one run; the time per object is of that run.
func (b *bench) lifecycle(ctx context.Context, size size) ([]table, error) {
	objects := size.objects
	t := table{
		title: "Requests per object lifecycle",
		intro: fmt.Sprintf("The finalizer part of a reconcile of each Widget of a namespace when it appears, of %d resyncs, and of the reconcile after it is deleted; "+
			"the controller's requests per object, counted at its transport. ssakit is `reconcile.Step.Handle`; the others are the kubebuilder pattern "+
			"(`controllerutil.AddFinalizer` and a write when it changed something; on deletion the cleanup, `RemoveFinalizer` and a write). "+
			"Each reconcile gets the object its last write returned, then the terminating object: a cache that is never behind, so no strategy meets a 409 here "+
			"(the contention table has stale copies). %d objects' lifecycles run at once; the time per object is the run's time over its objects, the admin's deletion and reads included.", resyncs, lifecycleWorkers),
		header: []string{"strategy", "requests", "writes", "reads", "409s", "time per object (ms)"},
	}
	for _, s := range lifecycleRows {
		b.progressf("lifecycle: %s", s)
		calls, elapsed, err := b.lifecycles(ctx, s, objects)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s, err)
		}
		perObject := func(keep func(testcluster.Request) bool) string {
			return fmt.Sprintf("%.1f", float64(countCalls(calls, keep))/float64(objects))
		}
		t.rows = append(t.rows, []string{s, perObject(func(testcluster.Request) bool { return true }), perObject(testcluster.Request.IsWrite),
			perObject(func(c testcluster.Request) bool { return !c.IsWrite() }), perObject(func(c testcluster.Request) bool { return c.StatusCode == http.StatusConflict }),
			fmt.Sprintf("%.2f", ms(elapsed)/float64(objects))})
	}
	t.notes = append(t.notes, "ssakit's removal reads the object's metadata from the API server before the cleanup (`Finalizer.IsOnLive`): "+
		"an informer cache can lag behind a removal by another replica or an earlier process, and the read keeps a finished cleanup from running twice. "+
		"The kubebuilder pattern trusts the cache there. With `reconcile.Options.LeaderElection` the read is skipped for a cached copy newer than the election "+
		"(the end-to-end table runs so), as in the rows that say leader election: the step, built as the process is elected, reads the kind's revision once "+
		"(one List with limit 1, counted above), and each copy it is handed after that is newer; the first cleanups, running while the revision is read, "+
		"hold older copies and read the live object (one per worker at most). With a cache that strips managedFields, the Finalizer remembers the resourceVersion "+
		"of its own add's answer, so a resync of that same object sends nothing; a write by anyone else since costs one apply (the server writes nothing), "+
		"which keeping the manager's entries with `ssa.KeepManagedFieldsOf` saves.")
	return []table{t}, nil
}

// lifecycles runs the lifecycle of objects Widgets with strategy, lifecycleWorkers at once, and
// returns the controller's calls and how long the lifecycles took, from after the Widgets were
// created.
func (b *bench) lifecycles(ctx context.Context, strategy string, objects int) ([]testcluster.Request, time.Duration, error) {
	fx, err := b.fixture(ctx, objects)
	if err != nil {
		return nil, 0, err
	}
	const controller, finalizer = "bench-lifecycle", "bench.ssakit.dev/lifecycle"
	variant, isSSAKit := ssakitVariants[strategy]
	var w finalizerWriter
	if isSSAKit {
		w, err = newSSAKitWriter(fx.client, fx.client, controller, finalizer, variant.elected)
	} else {
		w, err = newWriter(strategy, fx.client, fx.client, controller, finalizer)
	}
	if err != nil {
		return nil, 0, err
	}
	fromCache := func(obj *testcluster.Widget) *testcluster.Widget {
		if variant.stripped {
			obj.SetManagedFields(nil)
		}
		return obj
	}
	start := time.Now()
	err = parallel(lifecycleWorkers, len(fx.widgets), func(i int) error {
		obj := fx.widgets[i]
		for range 1 + resyncs {
			if err := w.reconcile(ctx, fromCache(obj)); err != nil {
				return fmt.Errorf("reconciling %s: %w", obj.Name, err)
			}
		}
		if err := b.cluster.Client.Delete(ctx, obj); err != nil {
			return err
		}
		terminating := &testcluster.Widget{}
		if err := b.cluster.Client.Get(ctx, client.ObjectKeyFromObject(obj), terminating); err != nil {
			return fmt.Errorf("reading %s after its deletion: %w", obj.Name, err)
		}
		if err := w.reconcile(ctx, fromCache(terminating)); err != nil {
			return fmt.Errorf("reconciling %s after its deletion: %w", obj.Name, err)
		}
		if err := b.cluster.Client.Get(ctx, client.ObjectKeyFromObject(obj), &testcluster.Widget{}); err == nil {
			return fmt.Errorf("%s still exists after its finalizer was removed", obj.Name)
		}
		return nil
	})
	return fx.meter.take(), time.Since(start), err
}
