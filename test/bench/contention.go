package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ssakit/ssakit/internal/testcluster"
)

// writers is how many concurrent writers the contention measurement runs.
const writers = 8

// contention measures (3): 8 writers, each with its own finalizer, add it to each of size's
// Widgets concurrently, starting from one list read before any of them wrote (the copies an informer
// cache hands each of 8 controllers), then remove it, each holding the object its own add
// returned. Lost finalizers are those a writer added, with success, that are missing once every
// add is done; left behind, those still there once every removal is done.
func (b *bench) contention(ctx context.Context, size size) ([]table, error) {
	objects := size.objects
	type figures struct{ lost, left, conflicts, retries, failures, seconds, perObject repeated }
	results := map[string]*figures{}
	for _, s := range strategyNames {
		results[s] = &figures{}
	}
	for rep := range size.repeat {
		for _, s := range rotated(strategyNames, rep) {
			f := results[s]
			b.progressf("contention: %s, repeat %d", s, rep+1)
			r, err := b.contend(ctx, s, objects)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", s, err)
			}
			f.lost = append(f.lost, float64(r.lost))
			f.left = append(f.left, float64(r.left))
			f.conflicts = append(f.conflicts, float64(r.conflicts))
			f.retries = append(f.retries, float64(r.retries))
			f.failures = append(f.failures, float64(r.failures))
			f.seconds = append(f.seconds, r.elapsed.Seconds())
			f.perObject = append(f.perObject, ms(r.elapsed)/float64(objects))
		}
	}
	t := table{
		title: "Contention: 8 writers on the same objects",
		intro: fmt.Sprintf("%d writers, each with its own finalizer, add it to each Widget of a namespace at once, each starting from the copies of one list read before anyone wrote "+
			"(what 8 controllers' caches hold), then remove it, each holding what its own add returned; the 8 writers share one client. Each writer starts at another object (writer i at the i-th eighth), as controllers' queues do. "+
			"Update and the locked patch re-read and retry on a 409 (up to %d times). "+
			"Lost: finalizers whose add succeeded and that are missing once all adds are done. Left behind: finalizers still there once all removals are done. "+
			"Failures: writes that returned an error after the retries. Counts are totals over all objects; the time per object is the total time over the objects.", writers, maxRetries),
		header: []string{"strategy", "lost", "left behind", "409s", "retries", "failures", "total time (s)", "time per object (ms)"},
	}
	for _, s := range strategyNames {
		f := results[s]
		t.rows = append(t.rows, []string{s, f.lost.format(0), f.left.format(0), f.conflicts.format(0), f.retries.format(0), f.failures.format(0), f.seconds.format(2), f.perObject.format(2)})
	}
	return []table{t}, nil
}

type contentionResult struct {
	lost, left, conflicts, retries, failures int
	elapsed                                  time.Duration
}

// contend runs one contention run of strategy on objects fresh Widgets: every writer adds its
// finalizer to every object, then removes it; see contention.
func (b *bench) contend(ctx context.Context, strategy string, objects int) (contentionResult, error) {
	fx, err := b.fixture(ctx, objects)
	if err != nil {
		return contentionResult{}, err
	}
	list := &testcluster.WidgetList{}
	if err := b.cluster.Client.List(ctx, list, client.InNamespace(fx.namespace)); err != nil {
		return contentionResult{}, err
	}
	cs, err := newContenders(strategy, fx.client, list, objects)
	if err != nil {
		return contentionResult{}, err
	}

	start := time.Now()
	cs.phase(func(w finalizerWriter, obj *testcluster.Widget) (int, error) { return w.add(ctx, obj) }, func(i, j int) { cs.added[i][j] = true })
	r := contentionResult{}
	if r.lost, err = b.countFinalizers(ctx, fx.namespace, cs.missing, list); err != nil {
		return r, err
	}
	cs.phase(func(w finalizerWriter, obj *testcluster.Widget) (int, error) { return w.remove(ctx, obj) }, nil)
	r.elapsed = time.Since(start)
	if r.left, err = b.countFinalizers(ctx, fx.namespace, cs.leftOn, list); err != nil {
		return r, err
	}
	calls := fx.meter.take()
	r.conflicts = countCalls(calls, func(c testcluster.Request) bool { return c.StatusCode == http.StatusConflict })
	r.retries, r.failures = int(cs.retries.Load()), int(cs.failures.Load())
	return r, nil
}

// contenders are the writers of one contention run, each with its own finalizer and its own
// copy of every object.
type contenders struct {
	objects int
	// names are the writers' finalizers.
	names   []string
	writers []finalizerWriter
	// held[i][j] is writer i's copy of object j; added[i][j] says its add succeeded.
	held  [][]*testcluster.Widget
	added [][]bool
	// retries and failures add up the writers' retries and the writes that failed after them.
	retries, failures atomic.Int64
}

// newContenders builds the writers of strategy on c, each holding a copy of every object of
// list.
func newContenders(strategy string, c client.Client, list *testcluster.WidgetList, objects int) (*contenders, error) {
	cs := &contenders{
		objects: objects,
		names:   make([]string, writers),
		writers: make([]finalizerWriter, writers),
		held:    make([][]*testcluster.Widget, writers),
		added:   make([][]bool, writers),
	}
	for i := range writers {
		cs.names[i] = fmt.Sprintf("bench.ssakit.dev/writer-%d", i)
		w, err := newWriter(strategy, c, c, fmt.Sprintf("bench-writer-%d", i), cs.names[i])
		if err != nil {
			return nil, err
		}
		cs.writers[i] = w
		cs.held[i] = make([]*testcluster.Widget, len(list.Items))
		for j := range list.Items {
			cs.held[i][j] = list.Items[j].DeepCopyObject().(*testcluster.Widget)
		}
		cs.added[i] = make([]bool, len(list.Items))
	}
	return cs, nil
}

// phase has every writer do its write on every object it holds, all writers at once, and
// returns once all are done; record, when not nil, is called for each write that succeeded.
func (cs *contenders) phase(do func(w finalizerWriter, obj *testcluster.Widget) (int, error), record func(i, j int)) {
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			// Each writer starts at another object, as controllers' queues do.
			for k := range cs.objects {
				j := (k + i*cs.objects/writers) % cs.objects
				n, err := do(cs.writers[i], cs.held[i][j])
				cs.retries.Add(int64(n))
				if err != nil {
					cs.failures.Add(1)
					continue
				}
				if record != nil {
					record(i, j)
				}
			}
		})
	}
	wg.Wait()
}

// missing counts the finalizers whose add succeeded and that obj, object j, lacks.
func (cs *contenders) missing(obj *testcluster.Widget, j int) int {
	missing := 0
	for i := range writers {
		if cs.added[i][j] && !slices.Contains(obj.Finalizers, cs.names[i]) {
			missing++
		}
	}
	return missing
}

// leftOn counts the writers' finalizers obj still carries.
func (cs *contenders) leftOn(obj *testcluster.Widget, _ int) int {
	left := 0
	for _, name := range cs.names {
		if slices.Contains(obj.Finalizers, name) {
			left++
		}
	}
	return left
}

// countFinalizers reads the live Widgets of namespace and adds up count over them; j is the
// object's index in initial.
func (b *bench) countFinalizers(ctx context.Context, namespace string, count func(obj *testcluster.Widget, j int) int, initial *testcluster.WidgetList) (int, error) {
	live := &testcluster.WidgetList{}
	if err := b.cluster.Client.List(ctx, live, client.InNamespace(namespace)); err != nil {
		return 0, err
	}
	index := map[string]int{}
	for j, obj := range initial.Items {
		index[obj.Name] = j
	}
	total := 0
	for k := range live.Items {
		total += count(&live.Items[k], index[live.Items[k].Name])
	}
	return total, nil
}
