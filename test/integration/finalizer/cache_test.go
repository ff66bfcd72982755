package finalizer

import (
	"errors"
	"net/http"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ssakit/ssakit/internal/testcluster"
	"github.com/ssakit/ssakit/pkg/ssa"
)

// cacheMode is what an informer cache keeps of managedFields (docs/ssa-semantics.md row 23).
type cacheMode struct {
	name      string
	transform toolscache.TransformFunc
}

var cacheModes = []cacheMode{
	{name: "full managedFields"},
	{name: "stripped managedFields", transform: cache.TransformStripManagedFields()},
	{name: "managedFields of the finalizer manager", transform: ssa.KeepManagedFieldsOf(finalizerManager)},
}

// startCache starts a controller-runtime cache of Widgets in namespace and returns it synced.
func startCache(t *testing.T, namespace string, mode cacheMode) cache.Cache {
	t.Helper()
	c, err := cache.New(cluster.Config, cache.Options{
		Scheme: cluster.Scheme, Mapper: cluster.Mapper,
		DefaultNamespaces: map[string]cache.Config{namespace: {}},
		DefaultTransform:  mode.transform,
	})
	if err != nil {
		t.Fatalf("creating a cache: %v", err)
	}
	go func() { _ = c.Start(t.Context()) }()
	if _, err := c.GetInformer(t.Context(), &testcluster.Widget{}); err != nil {
		t.Fatalf("starting the Widget informer: %v", err)
	}
	if !c.WaitForCacheSync(t.Context()) {
		t.Fatal("the cache did not sync")
	}
	return c
}

// cached returns the object from the cache once the cache has caught up with the API server.
func cached(t *testing.T, c cache.Cache, key client.Object) *testcluster.Widget {
	t.Helper()
	want := typedWidget.get(t, key).GetResourceVersion()
	obj := &testcluster.Widget{}
	NewWithT(t).Eventually(func() string {
		if err := c.Get(t.Context(), client.ObjectKeyFromObject(key), obj); err != nil {
			return err.Error()
		}
		return obj.ResourceVersion
	}).WithTimeout(10*time.Second).WithPolling(20*time.Millisecond).Should(Equal(want), "the cache catching up")
	return obj
}

// Row 23: Add never reads. An object from any cache that does not show the manager owning the
// finalizer (here another manager's finalizer is on it) gets one apply.
func TestAdd_FromACacheNeverReads(t *testing.T) {
	for _, mode := range cacheModes {
		t.Run(mode.name, func(t *testing.T) {
			g := NewWithT(t)
			ns := cluster.Namespace(t)
			obj := typedWidget.create(t, ns, "cached-add")
			addByUpdate(t.Context(), t, obj, legacyManager, "example.com/other")
			informer := startCache(t, ns, mode)
			c, rec := cluster.RecordingClient(t)
			f := newFinalizer(t, c, cleanup, ssa.FinalizerOptions{})

			g.Expect(f.Add(t.Context(), cached(t, informer, obj))).Error().To(Succeed())

			diff(t, "requests", []string{http.MethodPatch}, methods(rec.Requests()))
			diff(t, "finalizers", []string{"example.com/other", cleanup}, typedWidget.get(t, obj).GetFinalizers())
		})
	}
}

func TestAdd_FromACacheNeedsNoReadForAnObjectWithoutFinalizers(t *testing.T) {
	for _, mode := range cacheModes {
		t.Run(mode.name, func(t *testing.T) {
			g := NewWithT(t)
			ns := cluster.Namespace(t)
			obj := typedWidget.create(t, ns, "cached-add-first")
			informer := startCache(t, ns, mode)
			c, rec := cluster.RecordingClient(t)
			f := newFinalizer(t, c, cleanup, ssa.FinalizerOptions{})

			g.Expect(f.Add(t.Context(), cached(t, informer, obj))).Error().To(Succeed())

			diff(t, "requests", []string{http.MethodPatch}, methods(rec.Requests()))
			diff(t, "finalizers", []string{cleanup}, typedWidget.get(t, obj).GetFinalizers())
		})
	}
}

// Rows 21 and 23: an object whose managedFields show the manager owning the finalizer costs no
// request; a stripped one cannot show it and costs one apply, which the server does not write.
func TestAdd_FromACacheSendsNothingWhenTheObjectShowsTheFinalizerOwned(t *testing.T) {
	for _, tc := range []struct {
		mode cacheMode
		want []string
	}{
		{cacheModes[0], nil},
		{cacheModes[1], []string{http.MethodPatch}},
		{cacheModes[2], nil},
	} {
		t.Run(tc.mode.name, func(t *testing.T) {
			g := NewWithT(t)
			ns := cluster.Namespace(t)
			obj := typedWidget.create(t, ns, "cached-owned")
			g.Expect(newFinalizer(t, cluster.Client, cleanup, ssa.FinalizerOptions{}).Add(t.Context(), obj)).Error().To(Succeed())
			informer := startCache(t, ns, tc.mode)
			c, rec := cluster.RecordingClient(t)
			f := newFinalizer(t, c, cleanup, ssa.FinalizerOptions{})

			g.Expect(f.Add(t.Context(), cached(t, informer, obj))).Error().To(Succeed())

			diff(t, "requests", tc.want, methods(rec.Requests()))
		})
	}
}

// Row 4: Remove never reads: whatever the cache keeps, one apply that lists nothing releases the
// finalizer.
func TestRemove_FromACacheSendsOneApplyWhateverTheCacheKeeps(t *testing.T) {
	for _, mode := range cacheModes {
		t.Run(mode.name, func(t *testing.T) {
			g := NewWithT(t)
			ns := cluster.Namespace(t)
			obj := typedWidget.create(t, ns, "cached-remove")
			g.Expect(newFinalizer(t, cluster.Client, cleanup, ssa.FinalizerOptions{}).Add(t.Context(), obj)).Error().To(Succeed())
			informer := startCache(t, ns, mode)
			c, rec := cluster.RecordingClient(t)
			f := newFinalizer(t, c, cleanup, ssa.FinalizerOptions{})

			g.Expect(f.Remove(t.Context(), cached(t, informer, obj))).Error().To(Succeed())

			diff(t, "requests", []string{http.MethodPatch}, methods(rec.Requests()))
			g.Expect(typedWidget.get(t, obj).GetFinalizers()).To(BeEmpty())
		})
	}
}

// A cache that keeps only this manager's entries still names the co-owners: the answer to the
// release has every entry.
func TestRemove_FromACacheThatKeepsOnlyOwnEntriesStillNamesCoOwners(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	obj := typedWidget.create(t, ns, "cached-co-owned")
	addByUpdate(t.Context(), t, obj, legacyManager, cleanup)
	g.Expect(newFinalizer(t, cluster.Client, cleanup, ssa.FinalizerOptions{}).Add(t.Context(), obj)).Error().To(Succeed())
	informer := startCache(t, ns, cacheModes[2])
	c, rec := cluster.RecordingClient(t)
	f := newFinalizer(t, c, cleanup, ssa.FinalizerOptions{})

	_, err := f.Remove(t.Context(), cached(t, informer, obj))

	coOwned, ok := errors.AsType[*ssa.CoOwnedError](err)
	g.Expect(ok).To(BeTrue(), "error %v", err)
	diff(t, "co-owners", []string{legacyManager}, coOwned.CoOwners)
	diff(t, "requests", []string{http.MethodPatch}, methods(rec.Requests()))
	diff(t, "finalizers", []string{cleanup}, typedWidget.get(t, obj).GetFinalizers())
}
