package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ssakit/ssakit/internal/testcluster"
)

// latencyFinalizer is the finalizer the single-writer measurements add and remove.
const latencyFinalizer = "bench.ssakit.dev/latency"

// latency measures (1) single-writer finalizer add and remove latency and (6) the bytes each
// write sends: one writer adds its finalizer to each of size's Widgets and removes it again,
// always holding the object its last write returned (a controller's freshest copy).
func (b *bench) latency(ctx context.Context, size size) ([]table, error) {
	type figures struct{ addP50, addP99, removeP50, removeP99, addBytes, removeBytes repeated }
	results := map[string]*figures{}
	for _, s := range strategyNames {
		results[s] = &figures{}
	}
	for rep := -1; rep < size.repeat; rep++ {
		for _, s := range rotated(strategyNames, max(rep, 0)) {
			objects := size.objects
			if rep < 0 {
				// A first round pays for what a process does once; it is not measured.
				objects = min(objects, 5)
			}
			if rep >= 0 {
				b.progressf("latency: %s, repeat %d", s, rep+1)
			}
			fx, err := b.fixture(ctx, objects)
			if err != nil {
				return nil, err
			}
			widgets, m := fx.widgets, fx.meter
			w, err := newWriter(s, fx.client, fx.client, "bench-latency", latencyFinalizer)
			if err != nil {
				return nil, err
			}
			var adds, removes []time.Duration
			var addCalls, removeCalls []testcluster.Request
			for _, obj := range widgets {
				start := time.Now()
				if _, err := w.add(ctx, obj); err != nil {
					return nil, fmt.Errorf("%s: adding: %w", s, err)
				}
				adds = append(adds, time.Since(start))
			}
			addCalls = append(addCalls, m.take()...)
			for _, obj := range widgets {
				start := time.Now()
				if _, err := w.remove(ctx, obj); err != nil {
					return nil, fmt.Errorf("%s: removing: %w", s, err)
				}
				removes = append(removes, time.Since(start))
			}
			removeCalls = append(removeCalls, m.take()...)
			if rep < 0 {
				continue
			}
			f := results[s]
			f.addP50 = append(f.addP50, ms(percentile(adds, 0.5)))
			f.addP99 = append(f.addP99, ms(percentile(adds, 0.99)))
			f.removeP50 = append(f.removeP50, ms(percentile(removes, 0.5)))
			f.removeP99 = append(f.removeP99, ms(percentile(removes, 0.99)))
			f.addBytes = append(f.addBytes, meanBytes(addCalls))
			f.removeBytes = append(f.removeBytes, meanBytes(removeCalls))
		}
	}

	latency := table{
		title: "Finalizer add and remove latency, one writer",
		intro: "One writer adds its finalizer to each of the Widgets of a namespace (as many as the objects column says) and removes it again (one add and one removal per object, strategy and repeat), " +
			"always holding the object its last write returned. ssakit is `ssa.Finalizer.Add`/`Remove`; the others are `controllerutil.AddFinalizer`/`RemoveFinalizer` " +
			"followed by `Update`, `Patch(client.MergeFrom)` or `Patch(client.MergeFromWithOptimisticLock)`. Milliseconds per write.",
		header: []string{"strategy", "add p50", "add p99", "remove p50", "remove p99", "add p50 / ssakit", "remove p50 / ssakit"},
	}
	bytes := table{
		title:  "Bytes sent per finalizer write",
		intro:  "The request body of each add and removal in the measurement above, averaged. An apply carries only the finalizer and the object's identity; an Update carries the whole object; a merge patch, the whole finalizer list.",
		header: []string{"strategy", "add", "remove"},
	}
	base := results[strategySSAKit]
	for _, s := range strategyNames {
		f := results[s]
		latency.rows = append(latency.rows, []string{s, f.addP50.format(2), f.addP99.format(2), f.removeP50.format(2), f.removeP99.format(2),
			ratio(f.addP50, base.addP50), ratio(f.removeP50, base.removeP50)})
		bytes.rows = append(bytes.rows, []string{s, f.addBytes.format(0), f.removeBytes.format(0)})
	}
	latency.notes = append(latency.notes, slowerNote(results[strategySSAKit].addP50, results[strategySSAKit].removeP50, func(s string) (repeated, repeated) {
		return results[s].addP50, results[s].removeP50
	}))
	return []table{latency, bytes}, nil
}

// slowerNote says where ssakit's median p50 is above another strategy's, and why.
func slowerNote(add, remove repeated, of func(strategy string) (add, remove repeated)) string {
	var slower []string
	for _, s := range strategyNames[1:] {
		otherAdd, otherRemove := of(s)
		var by []string
		for _, op := range []struct {
			name        string
			mine, other float64
		}{{"add", add.median(), otherAdd.median()}, {"remove", remove.median(), otherRemove.median()}} {
			if percent := 100 * (op.mine/op.other - 1); percent >= 0.5 {
				by = append(by, fmt.Sprintf("%s +%.0f%%", op.name, percent))
			}
		}
		if len(by) > 0 {
			slower = append(slower, s+" ("+strings.Join(by, ", ")+")")
		}
	}
	if len(slower) == 0 {
		return "ssakit's median add and removal are as fast as or faster than every other strategy's here."
	}
	return "Where ssakit is slower: its p50 is above " + strings.Join(slower, ", ") + ". " +
		"An apply costs the API server more than an Update or a merge patch: it merges the configuration into the object and its managedFields with structured-merge-diff, " +
		"where an Update replaces the object and a merge patch edits JSON. The client cannot close this gap; what ssakit buys with it is in the tables below " +
		"(no lost finalizer and no retry under contention, no write of anyone else's fields)."
}

// meanBytes is the average request body size of the writes among calls.
func meanBytes(calls []testcluster.Request) float64 {
	total, writes := int64(0), 0
	for _, c := range calls {
		if c.IsWrite() {
			total += c.Bytes
			writes++
		}
	}
	if writes == 0 {
		return 0
	}
	return float64(total) / float64(writes)
}
