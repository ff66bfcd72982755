package main

import (
	"context"
	"fmt"
	"net/http"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ssakit/ssakit/internal/testcluster"
)

// strippedCache is the lifecycle variant of ssakit whose objects come from a cache that strips
// managedFields: it cannot prove the finalizer owned and applies on every resync.
const strippedCache = "ssakit, cache strips managedFields"

// resyncs is how many steady-state reconciles a lifecycle has between the add and the removal.
const resyncs = 10

// lifecycle measures (2) the requests a controller sends per object lifecycle: the finalizer part
// of a reconcile when the object appears, of 10 resyncs, and of the reconcile after the user
// deletes it, counted at the controller's HTTP transport. ssakit runs reconcile.Step.Handle; the
// others run the kubebuilder pattern (AddFinalizer and write when it changed something; on
// deletion, the cleanup, RemoveFinalizer and write). Each reconcile gets the object as an
// informer cache would hand it over: the last answer, then the terminating object.
func (b *bench) lifecycle(ctx context.Context) ([]table, error) {
	objects := b.n(50)
	t := table{
		title: "Requests per object lifecycle",
		intro: fmt.Sprintf("The finalizer part of a reconcile of each of %d Widgets when it appears, of %d resyncs, and of the reconcile after it is deleted; "+
			"the controller's requests per object, counted at its transport. ssakit is `reconcile.Step.Handle`; the others are the kubebuilder pattern "+
			"(`controllerutil.AddFinalizer` and a write when it changed something; on deletion the cleanup, `RemoveFinalizer` and a write). "+
			"Each reconcile gets the object its last write returned, then the terminating object: a cache that is never behind, so no strategy meets a 409 here "+
			"(the contention table has stale copies).", objects, resyncs),
		header: []string{"strategy", "requests", "writes", "reads", "409s"},
	}
	for _, s := range append(append([]string(nil), strategyNames...), strippedCache) {
		calls, err := b.lifecycles(ctx, s, objects)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s, err)
		}
		perObject := func(keep func(testcluster.Request) bool) string {
			return fmt.Sprintf("%.1f", float64(countCalls(calls, keep))/float64(objects))
		}
		t.rows = append(t.rows, []string{s, perObject(func(testcluster.Request) bool { return true }), perObject(testcluster.Request.IsWrite),
			perObject(func(c testcluster.Request) bool { return !c.IsWrite() }), perObject(func(c testcluster.Request) bool { return c.StatusCode == http.StatusConflict })})
	}
	t.notes = append(t.notes, "ssakit's removal reads the object's metadata from the API server before the cleanup (`Finalizer.IsOnLive`): "+
		"an informer cache can lag behind the controller's own removal, and the read keeps a finished cleanup from running twice. "+
		"The kubebuilder pattern trusts the cache there. With a cache that strips managedFields, ssakit cannot prove the finalizer owned "+
		"and applies on every resync (the server writes nothing); keep the manager's entries with `ssa.KeepManagedFieldsOf` to make resyncs free.")
	return []table{t}, nil
}

// lifecycles runs the lifecycle of objects Widgets with strategy and returns the controller's calls.
func (b *bench) lifecycles(ctx context.Context, strategy string, objects int) ([]testcluster.Request, error) {
	fx, err := b.fixture(ctx, objects)
	if err != nil {
		return nil, err
	}
	writerStrategy := strategy
	if strategy == strippedCache {
		writerStrategy = strategySSAKit
	}
	w, err := newWriter(writerStrategy, fx.client, fx.client, "bench-lifecycle", "bench.ssakit.dev/lifecycle")
	if err != nil {
		return nil, err
	}
	fromCache := func(obj *testcluster.Widget) *testcluster.Widget {
		if strategy == strippedCache {
			obj.SetManagedFields(nil)
		}
		return obj
	}
	for _, obj := range fx.widgets {
		for range 1 + resyncs {
			if err := w.reconcile(ctx, fromCache(obj)); err != nil {
				return nil, fmt.Errorf("reconciling %s: %w", obj.Name, err)
			}
		}
		if err := b.cluster.Client.Delete(ctx, obj); err != nil {
			return nil, err
		}
		terminating := &testcluster.Widget{}
		if err := b.cluster.Client.Get(ctx, client.ObjectKeyFromObject(obj), terminating); err != nil {
			return nil, fmt.Errorf("reading %s after its deletion: %w", obj.Name, err)
		}
		if err := w.reconcile(ctx, fromCache(terminating)); err != nil {
			return nil, fmt.Errorf("reconciling %s after its deletion: %w", obj.Name, err)
		}
		if err := b.cluster.Client.Get(ctx, client.ObjectKeyFromObject(obj), &testcluster.Widget{}); err == nil {
			return nil, fmt.Errorf("%s still exists after its finalizer was removed", obj.Name)
		}
	}
	return fx.meter.take(), nil
}
