package ssa_test

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"

	"github.com/ssakit/ssakit/pkg/ssa"
)

// fleetConfigMap is demoConfigMap named name, its entries written at the given second, as a
// fleet's objects are: written alike, at different times.
func fleetConfigMap(name string, second int) *corev1.ConfigMap {
	cm := demoConfigMap()
	cm.Name = name
	at := metav1.NewTime(time.Date(2026, 12, 6, 10, 0, second, 0, time.UTC))
	for i := range cm.ManagedFields {
		cm.ManagedFields[i].Time = at.DeepCopy()
	}
	return cm
}

// keptOf returns what KeepManagedFieldsOf(managers...) leaves of obj.
func keptOf(t *testing.T, obj *corev1.ConfigMap, managers ...string) *corev1.ConfigMap {
	t.Helper()
	out, err := ssa.KeepManagedFieldsOf(managers...)(obj)
	if err != nil {
		t.Fatal(err)
	}
	return out.(*corev1.ConfigMap)
}

// demoFinalizerEntry is demoConfigMap's entry of demo/finalizer, without a time.
func demoFinalizerEntry() []metav1.ManagedFieldsEntry {
	return []metav1.ManagedFieldsEntry{demoConfigMap().ManagedFields[1]}
}

// sameList reports whether a and b share one backing array.
func sameList(a, b []metav1.ManagedFieldsEntry) bool {
	return len(a) > 0 && len(a) == len(b) && unsafe.SliceData(a) == unsafe.SliceData(b)
}

func TestKeepManagedFieldsOf_ObjectsWithEqualKeptEntriesShareOneList(t *testing.T) {
	a := keptOf(t, fleetConfigMap("a", 1), "demo/finalizer", "kubectl")
	b := keptOf(t, fleetConfigMap("b", 2), "demo/finalizer", "kubectl")

	if !sameList(a.ManagedFields, b.ManagedFields) {
		t.Errorf("a and b have equal kept entries but two lists: %p, %p", a.ManagedFields, b.ManagedFields)
	}
	// A third kept list that differs is a list of its own.
	c := keptOf(t, fleetConfigMap("c", 3), "demo/finalizer")
	if sameList(a.ManagedFields, c.ManagedFields) || len(c.ManagedFields) != 1 {
		t.Errorf("c keeps other entries than a, yet got %v", managersOf(c))
	}
}

func TestKeepManagedFieldsOf_DropsTheTime(t *testing.T) {
	out := keptOf(t, fleetConfigMap("a", 1), "demo/finalizer", "kubectl", "legacy-operator")

	if len(out.ManagedFields) != 3 {
		t.Fatalf("want all 3 entries, got %v", managersOf(out))
	}
	for _, e := range out.ManagedFields {
		if e.Time != nil {
			t.Errorf("the entry of %s keeps its time %v", e.Manager, e.Time)
		}
	}
}

func TestKeepManagedFieldsOf_DropsTheEntriesOfOtherManagers(t *testing.T) {
	out := keptOf(t, fleetConfigMap("a", 1), "demo/finalizer")

	if d := cmp.Diff(demoFinalizerEntry(), out.ManagedFields); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

// A cache that deep-copies on Get, as controller-runtime's does by default (its CacheReader
// calls DeepCopyObject), hands out copies: a copy written into, even by decoding a server's
// answer into it, leaves every cached object as it was, though cached objects share a list.
func TestKeepManagedFieldsOf_ACopyFromADeepCopyingCacheIsTheCallers(t *testing.T) {
	transform := ssa.KeepManagedFieldsOf("demo/finalizer", "kubectl")
	store := toolscache.NewStore(toolscache.MetaNamespaceKeyFunc)
	for i, name := range []string{"a", "b"} {
		out, err := transform(fleetConfigMap(name, i))
		if err != nil {
			t.Fatal(err)
		}
		if err := store.Add(out); err != nil {
			t.Fatal(err)
		}
	}
	cached := func(name string) *corev1.ConfigMap {
		obj, ok, err := store.GetByKey("demo/" + name)
		if err != nil || !ok {
			t.Fatalf("demo/%s: %v, %v", name, ok, err)
		}
		return obj.(*corev1.ConfigMap)
	}
	want := keptOf(t, demoConfigMap(), "demo/finalizer", "kubectl").DeepCopy().ManagedFields
	if !sameList(cached("a").ManagedFields, cached("b").ManagedFields) {
		t.Fatal("the cached objects do not share their list; the test proves nothing")
	}

	got := cached("a").DeepCopy() // Get from a deep-copying cache
	got.ManagedFields[0].Manager = "changed"
	got.ManagedFields[1].FieldsV1.GetRawBytes()[2] = 'X'
	answer := `{"metadata":{"managedFields":[{"manager":"server","operation":"Update","apiVersion":"v1","time":"2026-12-06T10:30:00Z","fieldsType":"FieldsV1","fieldsV1":{"f:data":{}}}]}}`
	if err := json.Unmarshal([]byte(answer), got); err != nil {
		t.Fatal(err)
	}

	for _, name := range []string{"a", "b"} {
		if d := cmp.Diff(want, cached(name).ManagedFields); d != "" {
			t.Errorf("cached %s changed (-want +got):\n%s", name, d)
		}
	}
}

// An object written into despite the doc (a server's answer decoded into a transformed object
// writes into its list in place) changes the list it shares; that list is not given to the
// objects transformed after.
func TestKeepManagedFieldsOf_NeverHandsOutAListThatWasChanged(t *testing.T) {
	a := keptOf(t, fleetConfigMap("a", 1), "demo/finalizer")
	answer := `{"metadata":{"managedFields":[{"manager":"server","operation":"Update","apiVersion":"v1","time":"2026-12-06T10:30:00Z","fieldsType":"FieldsV1","fieldsV1":{"f:data":{}}}]}}`
	if err := json.Unmarshal([]byte(answer), a); err != nil {
		t.Fatal(err)
	}

	b := keptOf(t, fleetConfigMap("b", 2), "demo/finalizer")

	if d := cmp.Diff(demoFinalizerEntry(), b.ManagedFields); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

// Informers call a transform from several goroutines (go test -race).
func TestKeepManagedFieldsOf_IsSafeForConcurrentUse(t *testing.T) {
	transform := ssa.KeepManagedFieldsOf("demo/finalizer", "kubectl")
	const workers, objects = 8, 200
	lists := make([][]metav1.ManagedFieldsEntry, workers*objects)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range objects {
				out, err := transform(fleetConfigMap(fmt.Sprintf("cm-%d-%d", w, i), i%60))
				if err != nil {
					t.Error(err)
					return
				}
				lists[w*objects+i] = out.(*corev1.ConfigMap).ManagedFields
			}
		})
	}
	wg.Wait()

	want := keptOf(t, demoConfigMap(), "demo/finalizer", "kubectl").DeepCopy().ManagedFields
	for i, l := range lists {
		if d := cmp.Diff(want, l); d != "" {
			t.Fatalf("object %d (-want +got):\n%s", i, d)
		}
		if !sameList(lists[0], l) {
			t.Fatalf("object %d has a list of its own", i)
		}
	}
}
