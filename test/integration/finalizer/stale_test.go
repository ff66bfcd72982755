package finalizer

import (
	"net/http"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ssakit/ssakit/internal/testcluster"
	"github.com/ssakit/ssakit/pkg/ssa"
)

// These tests hand the Finalizer the objects a controller really holds: read several writes ago,
// stripped of managedFields by a cache, or read through a manager's cached client.

const backup = "example.com/backup"

// Rows 3 and 4: an Add given an object read before a sibling finalizer of the same controller was
// added keeps that sibling, because the apply names only its own finalizer.
func TestAdd_GivenAnObjectReadBeforeASiblingWasAddedKeepsTheSibling(t *testing.T) {
	for _, fl := range flavours {
		t.Run(fl.name, func(t *testing.T) {
			g := NewWithT(t)
			ns := cluster.Namespace(t)
			obj := fl.create(t, ns, "stale-add")
			stale := fl.get(t, obj)
			g.Expect(newFinalizer(t, cluster.Client, cleanup, ssa.FinalizerOptions{}).Add(t.Context(), fl.get(t, obj))).Error().To(Succeed())

			g.Expect(newFinalizer(t, cluster.Client, backup, ssa.FinalizerOptions{}).Add(t.Context(), stale)).Error().To(Succeed())

			diff(t, "finalizers", []string{cleanup, backup}, fl.get(t, obj).GetFinalizers())
		})
	}
}

// Rows 3 and 4: a Remove given an object read before a sibling finalizer was removed does not
// bring the sibling back.
func TestRemove_GivenAnObjectReadBeforeASiblingWasRemovedDoesNotReAddIt(t *testing.T) {
	for _, fl := range flavours {
		t.Run(fl.name, func(t *testing.T) {
			g := NewWithT(t)
			ns := cluster.Namespace(t)
			obj := fl.create(t, ns, "stale-remove")
			first, second := newFinalizer(t, cluster.Client, cleanup, ssa.FinalizerOptions{}), newFinalizer(t, cluster.Client, backup, ssa.FinalizerOptions{})
			g.Expect(first.Add(t.Context(), fl.get(t, obj))).Error().To(Succeed())
			g.Expect(second.Add(t.Context(), fl.get(t, obj))).Error().To(Succeed())
			stale := fl.get(t, obj)
			g.Expect(second.Remove(t.Context(), fl.get(t, obj))).Error().To(Succeed())

			g.Expect(first.Remove(t.Context(), stale)).Error().To(Succeed())

			g.Expect(fl.get(t, obj).GetFinalizers()).To(BeEmpty())
		})
	}
}

// expectWholeOrUnchanged fails unless obj is exactly before (nothing was written into it) or
// carries the live object's resourceVersion together with its live spec: a fresh resourceVersion
// over a stale spec would let the caller's next Update overwrite a newer spec without a 409.
func expectWholeOrUnchanged(t *testing.T, before, obj *testcluster.Widget) {
	t.Helper()
	if equality.Semantic.DeepEqual(before, obj) {
		return
	}
	now := typedWidget.get(t, obj).(*testcluster.Widget)
	if obj.ResourceVersion != now.ResourceVersion {
		t.Errorf("the object was changed but holds resourceVersion %s, not the live %s", obj.ResourceVersion, now.ResourceVersion)
	}
	diff(t, "spec of the object passed in, against the live spec", now.Spec, obj.Spec)
}

// An object from a cache that strips managedFields, read before the user changed the spec: Add
// leaves it as it was or replaces it whole, never fresh metadata over the stale spec.
func TestAdd_OnAStaleStrippedObjectNeverHandsBackAHalfFreshObject(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	obj := typedWidget.create(t, ns, "half-fresh-add")
	f := newFinalizer(t, cluster.Client, cleanup, ssa.FinalizerOptions{})
	g.Expect(f.Add(t.Context(), obj)).Error().To(Succeed())
	stale := typedWidget.get(t, obj).(*testcluster.Widget)
	stale.ManagedFields = nil
	newer := typedWidget.get(t, obj).(*testcluster.Widget)
	newer.Spec.Color = "red"
	g.Expect(cluster.Client.Update(t.Context(), newer, client.FieldOwner(userManager))).To(Succeed())
	before := stale.DeepCopyObject().(*testcluster.Widget)

	g.Expect(f.Add(t.Context(), stale)).Error().To(Succeed())

	expectWholeOrUnchanged(t, before, stale)
}

// IsOnLive reads the live object and leaves the caller's object as it was.
func TestIsOnLive_LeavesTheObjectPassedInAsItWas(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	obj := typedWidget.create(t, ns, "held-stale")
	f := newFinalizer(t, cluster.Client, cleanup, ssa.FinalizerOptions{APIReader: cluster.Client})
	g.Expect(f.Add(t.Context(), obj)).Error().To(Succeed())
	stale := typedWidget.get(t, obj).(*testcluster.Widget)
	newer := typedWidget.get(t, obj).(*testcluster.Widget)
	newer.Spec.Color = "red"
	g.Expect(cluster.Client.Update(t.Context(), newer, client.FieldOwner(userManager))).To(Succeed())
	before := stale.DeepCopyObject().(*testcluster.Widget)

	held, err := f.IsOnLive(t.Context(), stale)

	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(held).To(BeTrue())
	diff(t, "the object passed to IsOnLive", before, stale)
}

// A Finalizer on a manager's cached client, without an API reader, never reads through that
// client: reading metadata-only objects through it would start an informer (a LIST and a WATCH)
// and answer from a cache.
func TestFinalizer_OnACachedClientStartsNoInformer(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	obj := typedWidget.create(t, ns, "no-informer")
	addByUpdate(t.Context(), t, obj, legacyManager, "example.com/other")
	cfg, rec := cluster.RecordingConfig()
	informers, err := cache.New(cfg, cache.Options{Scheme: cluster.Scheme, Mapper: cluster.Mapper, DefaultNamespaces: map[string]cache.Config{ns: {}}})
	g.Expect(err).NotTo(HaveOccurred())
	go func() { _ = informers.Start(t.Context()) }()
	g.Expect(informers.WaitForCacheSync(t.Context())).To(BeTrue())
	cached, err := client.New(cfg, client.Options{Scheme: cluster.Scheme, Mapper: cluster.Mapper, Cache: &client.CacheOptions{Reader: informers}})
	g.Expect(err).NotTo(HaveOccurred())
	stripped := typedWidget.get(t, obj)
	stripped.SetManagedFields(nil)
	rec.Reset()

	g.Expect(newFinalizer(t, cached, cleanup, ssa.FinalizerOptions{}).Add(t.Context(), stripped)).Error().To(Succeed())

	diff(t, "requests", []testcluster.Request{{Method: http.MethodPatch, Path: "/apis/test.ssakit.dev/v1/namespaces/" + ns + "/widgets/no-informer", StatusCode: http.StatusOK}}, rec.Requests(), testcluster.IgnoreRequestSize)
	diff(t, "finalizers", []string{"example.com/other", cleanup}, typedWidget.get(t, obj).GetFinalizers())
}

// The API server takes field managers of at most 128 characters; a long controller and finalizer
// name still gets a manager of its own that the server accepts.
func TestAdd_WithALongControllerAndFinalizerNameGetsAManagerTheServerAccepts(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	obj := typedWidget.create(t, ns, "long-manager")
	longController := strings.Repeat("c", 120)
	longName := strings.Repeat("d", 60) + ".example.com/" + strings.Repeat("n", 63)
	f := newFinalizerFor(t, cluster.Client, longController, longName, ssa.FinalizerOptions{})

	g.Expect(f.Add(t.Context(), obj)).Error().To(Succeed())

	after := live(t, typedWidget.gvk, obj)
	diff(t, "finalizers", []string{longName}, after.GetFinalizers())
	g.Expect(len(f.FieldOwner())).To(BeNumerically("<=", 128))
	g.Expect(entryFields(after, f.FieldOwner())).To(ContainSubstring(longName), "the manager's entry")
}

// Another process writes other fields under this finalizer's field manager (a manager reused by
// mistake): its applies would remove them, so Add and Remove refuse and send nothing.
func TestFinalizer_RefusesAManagerThatOwnsOtherFieldsOnTheObject(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	obj := typedWidget.create(t, ns, "shared-manager")
	config := widgetConfig(ns, "shared-manager")
	config.SetLabels(map[string]string{"managed-by": "v1"})
	g.Expect(cluster.Client.Apply(t.Context(), client.ApplyConfigurationFromUnstructured(config), client.FieldOwner("reused-manager"))).To(Succeed())
	c, rec := cluster.RecordingClient(t)
	f := newFinalizerFor(t, c, "reused", "example.com/reused", ssa.FinalizerOptions{FieldOwner: "reused-manager"})
	current := typedWidget.get(t, obj)

	addSent, addErr := f.Add(t.Context(), current)
	removeSent, removeErr := f.Remove(t.Context(), current)

	g.Expect(addErr).To(MatchError(ContainSubstring(`also owns .metadata.labels.managed-by`)))
	g.Expect(removeErr).To(MatchError(ContainSubstring(`also owns .metadata.labels.managed-by`)))
	g.Expect(rec.Requests()).To(BeEmpty())
	g.Expect(addSent).To(BeFalse(), "Add says it sent nothing")
	g.Expect(removeSent).To(BeFalse(), "Remove says it sent nothing")
	diff(t, "labels", map[string]string{"app": "demo", "managed-by": "v1"}, typedWidget.get(t, obj).GetLabels())
}
