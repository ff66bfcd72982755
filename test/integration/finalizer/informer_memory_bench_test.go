package finalizer

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ssakit/ssakit/pkg/ssa"
)

const informerObjects = 10_000

var (
	populateOnce sync.Once
	populatedNS  string
	errPopulate  error
)

// benchFinalizerManager is the manager of the finalizer populate adds.
var benchFinalizerManager = ssa.FinalizerFieldOwner("bench", cleanup)

// populate creates informerObjects ConfigMaps, each written the way a real one is: applied by a
// user (kubectl), annotated by an operator's Update, and given a finalizer by ssakit; so each has
// three managedFields entries.
func populate(ctx context.Context) (string, error) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "ssakit-bench-"}}
	if err := cluster.Client.Create(ctx, ns); err != nil {
		return "", err
	}
	f, err := ssa.NewFinalizer(cluster.Client, "bench", cleanup, ssa.FinalizerOptions{})
	if err != nil {
		return "", err
	}
	work := make(chan int)
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range work {
				if err := populateOne(ctx, f, ns.Name, fmt.Sprintf("cm-%05d", i)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	for i := range informerObjects {
		select {
		case work <- i:
		case err := <-errs:
			close(work)
			wg.Wait()
			return "", err
		}
	}
	close(work)
	wg.Wait()
	close(errs)
	return ns.Name, <-errs
}

func populateOne(ctx context.Context, f *ssa.Finalizer, namespace, name string) error {
	config := corev1ac.ConfigMap(name, namespace).
		WithLabels(map[string]string{"app": "bench", "tier": "backend"}).
		WithData(map[string]string{"mode": "fast", "replicas": "3", "region": "eu-west", "owner": "team-a", "retention": "7d"})
	if err := cluster.Client.Apply(ctx, config, client.FieldOwner("kubectl")); err != nil {
		return err
	}
	obj := &corev1.ConfigMap{}
	if err := cluster.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, obj); err != nil {
		return err
	}
	patch := client.MergeFrom(obj.DeepCopy())
	obj.Annotations = map[string]string{"operator.example.com/revision": "1"}
	if err := cluster.Client.Patch(ctx, obj, patch, client.FieldOwner("operator")); err != nil {
		return err
	}
	_, err := f.Add(ctx, obj)
	return err
}

// BenchmarkInformerMemory reports the heap an informer cache of 10,000 ConfigMaps holds with full
// managedFields, with them stripped, and with only the finalizer manager's entry kept. Run it with
// -benchtime=1x: each iteration lists all objects into a new cache.
func BenchmarkInformerMemory(b *testing.B) {
	populateOnce.Do(func() { populatedNS, errPopulate = populate(context.Background()) })
	if errPopulate != nil {
		b.Fatalf("populating %d ConfigMaps: %v", informerObjects, errPopulate)
	}
	for _, mode := range []cacheMode{
		{name: "full"},
		{name: "stripped", transform: cache.TransformStripManagedFields()},
		{name: "keep-own", transform: ssa.KeepManagedFieldsOf(benchFinalizerManager)},
	} {
		b.Run(mode.name, func(b *testing.B) {
			var perObject float64
			for b.Loop() {
				perObject = informerBytesPerObject(b, populatedNS, mode)
			}
			b.ReportMetric(perObject, "B/object")
			b.ReportMetric(perObject*informerObjects/(1<<20), "MiB/10k")
		})
	}
}

// informerBytesPerObject starts a cache of ConfigMaps in namespace, waits for it to hold every
// object, and returns the live heap it added, per object.
func informerBytesPerObject(b *testing.B, namespace string, mode cacheMode) float64 {
	b.Helper()
	ctx, cancel := context.WithCancel(b.Context())
	defer cancel()
	before := liveHeap()
	c, err := cache.New(cluster.Config, cache.Options{
		Scheme: cluster.Scheme, Mapper: cluster.Mapper,
		DefaultNamespaces: map[string]cache.Config{namespace: {}},
		DefaultTransform:  mode.transform,
	})
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = c.Start(ctx) }()
	if _, err := c.GetInformer(ctx, &corev1.ConfigMap{}); err != nil {
		b.Fatal(err)
	}
	if !c.WaitForCacheSync(ctx) {
		b.Fatal("cache did not sync")
	}
	list := &corev1.ConfigMapList{}
	if err := c.List(ctx, list, client.InNamespace(namespace), client.UnsafeDisableDeepCopy); err != nil {
		b.Fatal(err)
	}
	if len(list.Items) != informerObjects {
		b.Fatalf("cache holds %d ConfigMaps, want %d", len(list.Items), informerObjects)
	}
	list = nil
	after := liveHeap()
	runtime.KeepAlive(c)
	return float64(after-before) / informerObjects
}

func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
