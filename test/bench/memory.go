package main

import (
	"context"
	"fmt"
	"runtime"
	"time"

	corev1 "k8s.io/api/core/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ssakit/ssakit/pkg/ssa"
)

const (
	memoryController = "bench-memory"
	memoryFinalizer  = "bench.ssakit.dev/memory"
)

// The caches the memory table compares, by what they keep of managedFields.
const (
	cacheFull     = "full managedFields"
	cacheStripped = "stripped (`cache.TransformStripManagedFields`)"
	cacheKeepOwn  = "finalizer manager's entry kept (`ssa.KeepManagedFieldsOf`)"
)

// cacheModes are the caches the memory table compares, with the transform that makes each.
var cacheModes = []struct {
	name      string
	transform toolscache.TransformFunc
}{
	{cacheFull, nil},
	{cacheStripped, cache.TransformStripManagedFields()},
	{cacheKeepOwn, ssa.KeepManagedFieldsOf(ssa.FinalizerFieldOwner(memoryController, memoryFinalizer))},
}

// informerMemory measures (8) the heap an informer cache of size's ConfigMaps holds per object,
// with every managedFields entry, with none (controller-runtime's TransformStripManagedFields),
// and with only the finalizer manager's entry (ssa.KeepManagedFieldsOf). Each ConfigMap is
// written by three managers, as a real one is: applied by a user with kubectl, annotated by an
// operator's merge patch, and given a finalizer by ssakit.
func (b *bench) informerMemory(ctx context.Context, size size) ([]table, error) {
	ns, err := b.namespace(ctx)
	if err != nil {
		return nil, err
	}
	b.progressf("memory: creating %d ConfigMaps of three managers", size.objects)
	if err := b.configMapsOfThreeManagers(ctx, ns, size.objects); err != nil {
		return nil, fmt.Errorf("creating %d ConfigMaps: %w", size.objects, err)
	}
	empty, err := b.namespace(ctx)
	if err != nil {
		return nil, err
	}
	perObject := make([]repeated, len(cacheModes))
	for rep := range size.repeat {
		for i, mode := range cacheModes {
			// The same cache of an empty namespace holds what does not grow with the objects:
			// the client, the informer, its goroutines.
			fixed, err := b.cacheBytes(ctx, empty, 0, mode.transform)
			if err != nil {
				return nil, fmt.Errorf("%s, empty, repeat %d: %w", mode.name, rep+1, err)
			}
			bytes, err := b.cacheBytes(ctx, ns, size.objects, mode.transform)
			if err != nil {
				return nil, fmt.Errorf("%s, repeat %d: %w", mode.name, rep+1, err)
			}
			perObject[i] = append(perObject[i], (bytes-fixed)/float64(size.objects))
		}
	}
	stripped := perObject[1]
	t := table{
		title: "Informer memory per object",
		intro: "A controller-runtime cache (`cache.New`) of the ConfigMaps of a namespace, each written by three managers as a real one is " +
			"(applied by a user with kubectl, annotated by an operator's merge patch, given a finalizer by `ssa.Finalizer`), " +
			"with three transforms: none, controller-runtime's `cache.TransformStripManagedFields`, and `ssa.KeepManagedFieldsOf` the finalizer's manager. " +
			"Heap bytes per object: the live heap after garbage collection (repeated until it settles) once the cache has synced, less the same before the cache was created, " +
			"less what the same cache of an empty namespace adds (the client, the informer: what does not grow with the objects), over the objects.",
		header: []string{"cache", "bytes per object", "MiB in all", "bytes / stripped"},
	}
	for i, mode := range cacheModes {
		all := repeated{}
		for _, perObject := range perObject[i] {
			all = append(all, perObject*float64(size.objects)/(1<<20))
		}
		t.rows = append(t.rows, []string{mode.name, perObject[i].format(0), all.format(1), ratio(perObject[i], stripped)})
	}
	return []table{t}, nil
}

// configMapsOfThreeManagers creates objects ConfigMaps in namespace, eight at a time, each
// applied by kubectl, annotated by an operator's merge patch, and given a finalizer by ssakit:
// three managedFields entries each.
func (b *bench) configMapsOfThreeManagers(ctx context.Context, namespace string, objects int) error {
	f, err := ssa.NewFinalizer(b.cluster.Client, memoryController, memoryFinalizer, ssa.FinalizerOptions{})
	if err != nil {
		return err
	}
	return parallel(8, objects, func(i int) error {
		name := fmt.Sprintf("cm-%05d", i)
		config := corev1ac.ConfigMap(name, namespace).
			WithLabels(map[string]string{"app": "bench", "tier": "backend"}).
			WithData(map[string]string{"mode": "fast", "replicas": "3", "region": "eu-west", "owner": "team-a", "retention": "7d"})
		if err := b.cluster.Client.Apply(ctx, config, client.FieldOwner("kubectl")); err != nil {
			return err
		}
		obj := &corev1.ConfigMap{}
		if err := b.cluster.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, obj); err != nil {
			return err
		}
		patch := client.MergeFrom(obj.DeepCopy())
		obj.Annotations = map[string]string{"operator.example.com/revision": "1"}
		if err := b.cluster.Client.Patch(ctx, obj, patch, client.FieldOwner("operator")); err != nil {
			return err
		}
		_, err := f.Add(ctx, obj)
		return err
	})
}

// cacheBytes starts a cache of the ConfigMaps of namespace with transform, waits until it holds
// all objects of them, and returns the live heap it added; then it stops the cache.
func (b *bench) cacheBytes(ctx context.Context, namespace string, objects int, transform toolscache.TransformFunc) (float64, error) {
	before := settledHeap()
	cacheCtx, cancel := context.WithCancel(ctx)
	stopped := make(chan struct{})
	defer func() {
		cancel()
		<-stopped
	}()
	c, err := cache.New(b.cluster.Config, cache.Options{
		Scheme: b.cluster.Scheme, Mapper: b.cluster.Mapper,
		DefaultNamespaces: map[string]cache.Config{namespace: {}},
		DefaultTransform:  transform,
	})
	if err != nil {
		close(stopped)
		return 0, err
	}
	go func() {
		defer close(stopped)
		_ = c.Start(cacheCtx)
	}()
	if _, err := c.GetInformer(ctx, &corev1.ConfigMap{}); err != nil {
		return 0, err
	}
	if !c.WaitForCacheSync(ctx) {
		return 0, fmt.Errorf("the cache did not sync")
	}
	if held, err := cachedObjects(ctx, c, namespace); err != nil || held != objects {
		return 0, fmt.Errorf("the cache holds %d ConfigMaps, want %d (%w)", held, objects, err)
	}
	after := settledHeap()
	runtime.KeepAlive(c)
	return float64(after) - float64(before), nil
}

// cachedObjects counts the ConfigMaps of namespace c holds, without copying them.
func cachedObjects(ctx context.Context, c cache.Cache, namespace string) (int, error) {
	typed := &corev1.ConfigMapList{}
	if err := c.List(ctx, typed, client.InNamespace(namespace), client.UnsafeDisableDeepCopy); err != nil {
		return 0, err
	}
	return len(typed.Items), nil
}

// settledHeap is the live heap once it has settled: garbage collection repeated, 50 ms apart (so
// that goroutines finishing their work, the informers' list buffers, say, are done), until two
// in a row differ by less than 0.1%, at most 20 times.
func settledHeap() uint64 {
	var last uint64
	for range 20 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		if last != 0 && diff(m.HeapAlloc, last) < last/1000 {
			return m.HeapAlloc
		}
		last = m.HeapAlloc
		time.Sleep(50 * time.Millisecond)
	}
	return last
}

func diff(a, b uint64) uint64 {
	if a > b {
		return a - b
	}
	return b - a
}
