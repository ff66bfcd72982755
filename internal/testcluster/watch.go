package testcluster

import (
	"slices"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Version is one version of an object as a watch delivered it.
type Version struct {
	Name       string
	Finalizers []string
	// Terminating is true once deletion has started.
	Terminating bool
}

// History records every version of the objects of one kind in one namespace that a watch
// delivers as added or modified, from the moment it is started.
type History struct {
	mu       sync.Mutex
	versions []Version
	stop     func()
	done     chan struct{}
}

// WatchVersions starts recording the versions of the objects of kind gvk in namespace. The watch
// stops when the test ends, or at Stop.
func (c *Cluster) WatchVersions(t testing.TB, gvk schema.GroupVersionKind, namespace string) *History {
	t.Helper()
	wc, err := client.NewWithWatch(c.Config, client.Options{Scheme: c.Scheme, Mapper: c.Mapper})
	if err != nil {
		t.Fatalf("creating a watching client: %v", err)
	}
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
	w, err := wc.Watch(t.Context(), list, client.InNamespace(namespace))
	if err != nil {
		t.Fatalf("watching %s in %s: %v", gvk.Kind, namespace, err)
	}
	h := &History{stop: w.Stop, done: make(chan struct{})}
	go func() {
		defer close(h.done)
		for event := range w.ResultChan() {
			if event.Type != watch.Added && event.Type != watch.Modified {
				continue
			}
			obj := event.Object.(client.Object)
			h.mu.Lock()
			h.versions = append(h.versions, Version{Name: obj.GetName(), Finalizers: obj.GetFinalizers(), Terminating: obj.GetDeletionTimestamp() != nil})
			h.mu.Unlock()
		}
	}()
	t.Cleanup(func() { h.Stop() })
	return h
}

// Versions returns the versions recorded so far.
func (h *History) Versions() []Version {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.versions)
}

// Stop ends the watch and returns every version recorded.
func (h *History) Stop() []Version {
	h.stop()
	<-h.done
	return h.Versions()
}
