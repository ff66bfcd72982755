package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/ssakit/ssakit/internal/testcluster"
)

// bench holds what every measurement shares.
type bench struct {
	cluster *testcluster.Cluster
	scale   float64
	// sizes are the object counts every measurement runs at, scaled, with their repeats.
	sizes []size
	// only names the measurements to run; empty runs all.
	only     []string
	progress io.Writer
	// started is when the run began, for the progress lines.
	started time.Time
}

// size is one object count the measurements run at, and how many times each timing is measured
// there.
type size struct {
	objects int
	repeat  int
}

// report is the whole run's result.
type report struct {
	cores       int
	goVersion   string
	kubeVersion string
	scale       float64
	sizes       []size
	command     string
	duration    time.Duration
	tables      []table
}

func (r report) write(w io.Writer) {
	fmt.Fprintf(w, "# ssakit bench\n\n")
	fmt.Fprintf(w, "Produced by `%s` (`go run ./test/bench`, source in [test/bench](../test/bench)) in %s: %d cores, %s, kube-apiserver %s with etcd on the same machine, scale %v; every table at %s.\n\n",
		r.command, r.duration.Round(time.Second), r.cores, r.goVersion, r.kubeVersion, r.scale, sizesText(r.sizes))
	fmt.Fprintf(w, "Figures are the median over the repeats, with the range in parentheses; counts of requests do not vary and come from one run. "+
		"Each table has a row per size and strategy, with the cost per object, so that how it grows with the number of objects shows. "+
		"They are ratios on a shared machine, where the API server, etcd and the clients share %d cores: compare the rows of a table, not the figures with another machine's. "+
		"Requests are counted at the clients' HTTP transport; informers' watches are not counted, and their caches are not part of any strategy's cost.\n\n", r.cores)
	for _, t := range r.tables {
		t.write(w)
	}
}

// sizesText says the sizes and their repeats: "1,000 objects (3 repeats) and 10,000 (1 repeat)".
func sizesText(sizes []size) string {
	parts := make([]string, len(sizes))
	for i, s := range sizes {
		repeats := fmt.Sprintf("%d repeats", s.repeat)
		if s.repeat == 1 {
			repeats = "1 repeat"
		}
		parts[i] = fmt.Sprintf("%s (%s)", thousands(s.objects), repeats)
		if i == 0 {
			parts[i] = fmt.Sprintf("%s objects (%s)", thousands(s.objects), repeats)
		}
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}

// run runs every measurement in turn, at every size, and merges each measurement's tables over
// the sizes. On an error it returns the measurements finished before it, with the error.
func (b *bench) run(ctx context.Context) (report, error) {
	version, err := serverVersion(b.cluster.Config)
	if err != nil {
		return report{}, err
	}
	r := report{cores: runtime.NumCPU(), goVersion: runtime.Version(), kubeVersion: version, scale: b.scale, sizes: b.sizes}
	for _, m := range b.measurements() {
		if len(b.only) > 0 && !slices.Contains(b.only, m.name) {
			continue
		}
		var bySize [][]table
		var took []time.Duration
		for _, s := range b.sizes {
			b.progressf("%s at %d objects, %d repeats", m.name, s.objects, s.repeat)
			start := time.Now()
			tables, err := m.run(ctx, s)
			if err != nil {
				// What was measured before is returned with the error: an hour's tables are not
				// lost to the last one's failure.
				return r, fmt.Errorf("%s at %d objects: %w", m.name, s.objects, err)
			}
			took = append(took, time.Since(start))
			b.progressf("%s at %d objects took %s", m.name, s.objects, took[len(took)-1].Round(100*time.Millisecond))
			bySize = append(bySize, tables)
		}
		r.tables = append(r.tables, mergeSizes(b.sizes, bySize, took)...)
	}
	return r, nil
}

func serverVersion(cfg *rest.Config) (string, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return "", err
	}
	info, err := dc.ServerVersion()
	if err != nil {
		return "", err
	}
	return info.GitVersion, nil
}

// measurement is one part of the bench, by the name -only takes; run measures it at one size and
// returns its tables, the same ones at every size.
type measurement struct {
	name string
	run  func(context.Context, size) ([]table, error)
}

// measurementNames are the names -only takes, in the order the bench runs them.
func measurementNames() []string {
	var names []string
	for _, m := range (&bench{}).measurements() {
		names = append(names, m.name)
	}
	return names
}

func (b *bench) measurements() []measurement {
	return []measurement{
		{"latency", b.latency},
		{"lifecycle", b.lifecycle},
		{"contention", b.contention},
		{"steady", b.steadyState},
		{"e2e", b.endToEnd},
		{"migrate", b.migrate},
		{"memory", b.informerMemory},
	}
}

// namespace creates a namespace of its own for one measurement.
func (b *bench) namespace(ctx context.Context) (string, error) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "bench-"}}
	if err := b.cluster.Client.Create(ctx, ns); err != nil {
		return "", fmt.Errorf("creating a namespace: %w", err)
	}
	return ns.Name, nil
}

// fixture is what a measurement acts on: fresh Widgets in a namespace of their own, and a
// client that reads from the API server and whose requests meter records.
type fixture struct {
	namespace string
	widgets   []*testcluster.Widget
	meter     *meter
	client    client.Client
}

func (b *bench) fixture(ctx context.Context, objects int) (fixture, error) {
	ns, err := b.namespace(ctx)
	if err != nil {
		return fixture{}, err
	}
	widgets, err := b.widgets(ctx, ns, objects)
	if err != nil {
		return fixture{}, err
	}
	m := b.newMeter()
	c, err := client.New(m.cfg, client.Options{Scheme: b.cluster.Scheme, Mapper: b.cluster.Mapper})
	return fixture{namespace: ns, widgets: widgets, meter: m, client: c}, err
}

// newManager builds a manager on cfg, with the cluster's scheme, whose cache holds the objects
// of namespaces, with the byObject options. It serves no metrics and no health probes, and does
// not require its controllers' names to be unique in the process: the bench builds many.
func (b *bench) newManager(cfg *rest.Config, byObject map[client.Object]cache.ByObject, namespaces ...string) (manager.Manager, error) {
	cached := map[string]cache.Config{}
	for _, ns := range namespaces {
		cached[ns] = cache.Config{}
	}
	return ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 b.cluster.Scheme,
		Cache:                  cache.Options{DefaultNamespaces: cached, ByObject: byObject},
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             config.Controller{SkipNameValidation: new(true)},
	})
}

// startManager starts mgr; stop stops it and says how it ended.
func startManager(ctx context.Context, mgr manager.Manager) (stop func() error) {
	mgrCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(mgrCtx) }()
	return func() error {
		cancel()
		if err := <-done; err != nil {
			return fmt.Errorf("the manager stopped with: %w", err)
		}
		return nil
	}
}

// widgets creates n Widgets in namespace with the admin client, four at a time, and returns the
// created objects in order.
func (b *bench) widgets(ctx context.Context, namespace string, n int) ([]*testcluster.Widget, error) {
	objects := make([]*testcluster.Widget, n)
	err := parallel(4, n, func(i int) error {
		w := &testcluster.Widget{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: fmt.Sprintf("w-%04d", i)}}
		w.Spec.Color = "blue"
		w.SetGroupVersionKind(testcluster.WidgetGVK)
		objects[i] = w
		return b.cluster.Client.Create(ctx, w)
	})
	return objects, err
}

// parallel runs do for 0..n-1 on workers goroutines and returns the first error.
func parallel(workers, n int, do func(i int) error) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		next  = make(chan int)
	)
	for range workers {
		wg.Go(func() {
			for i := range next {
				if err := do(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return first
}

// progressf prints a progress line, with the time since the run began.
func (b *bench) progressf(format string, args ...any) {
	fmt.Fprintf(b.progress, "bench: [%s] %s\n", time.Since(b.started).Round(time.Second), fmt.Sprintf(format, args...))
}

// unknownMeasurements returns the names in b.only that name no measurement.
func (b *bench) unknownMeasurements() []string {
	var unknown []string
	for _, name := range b.only {
		if !slices.ContainsFunc(b.measurements(), func(m measurement) bool { return m.name == name }) {
			unknown = append(unknown, name)
		}
	}
	return unknown
}
