package ssatest

import (
	"context"
	"fmt"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	clienttesting "k8s.io/client-go/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

// LaggingClient is a client whose reads lag behind its writes, as a manager's client does when
// its informer cache has not yet seen the latest writes, the controller's own included: Get and
// List serve every object as the store held it when the LaggingClient was made, or when it last
// caught up (CatchUp). An object created since is not found, one deleted since is still there,
// one written since is served as it was, resourceVersion included, so that a write guarded by
// that resourceVersion is refused with a 409 Conflict, as on the API server. Every other method,
// writes and subresource reads included, goes to the client it lags, whose answers are current.
//
// Get and List read a copy of the store, not the client given to NewLaggingClient: interceptor
// funcs given to the ClientBuilder's WithInterceptorFuncs see the writes and subresource reads of
// a LaggingClient, never its Get or List. To intercept the lagging reads, wrap the LaggingClient
// in a client.Client of the test's own that overrides Get or List and calls the LaggingClient's.
//
// Use it as the cached client of the code under test; give [Cluster] the LaggingClient as
// Client, and its GetAPIReader reads the store, as a manager's API reader does:
//
//	cache := ssatest.NewLaggingClient(c)
//	r, err := ssareconcile.New[*v1alpha1.Widget](ssatest.Cluster{Client: cache}, handler, opts)
type LaggingClient struct {
	client.Client
	source *markingClient

	mu    sync.RWMutex
	cache client.Reader
	err   error
}

// NewLaggingClient returns a LaggingClient over c, a client Build returned (under interceptor
// funcs or not), whose reads serve the objects as c holds them now. Field selectors of List use the
// indexes given to WithIndex; one added later with fake.AddIndex serves c alone. It panics when c
// was not built by a ClientBuilder of this package: only its store can be copied.
func NewLaggingClient(c client.Client) *LaggingClient {
	source := markingClientOf(c)
	if source == nil {
		panic(fmt.Sprintf("ssatest.NewLaggingClient: %T is not a client that ssatest.ClientBuilder.Build returned", c))
	}
	l := &LaggingClient{Client: c, source: source}
	l.CatchUp()
	return l
}

// CatchUp makes the reads serve the objects as the store holds them now, as a cache does once it
// has seen every write so far.
func (l *LaggingClient) CatchUp() {
	cache, err := l.source.snapshot()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cache, l.err = cache, err
}

// Get implements client.Reader: it reads obj as it was when l last caught up.
func (l *LaggingClient) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	cache, err := l.current()
	if err != nil {
		return err
	}
	return cache.Get(ctx, key, obj, opts...)
}

// List implements client.Reader: it lists the objects as they were when l last caught up.
func (l *LaggingClient) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	cache, err := l.current()
	if err != nil {
		return err
	}
	return cache.List(ctx, list, opts...)
}

// current returns the reader of the copy l serves.
func (l *LaggingClient) current() (client.Reader, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.err != nil {
		return nil, fmt.Errorf("ssatest: the lagging client could not copy the store: %w", l.err)
	}
	return l.cache, nil
}

// markingClientOf returns the client Build returned that c is, or wraps by Unwrap (the
// interceptor client, a LaggingClient), or nil.
func markingClientOf(c client.Client) *markingClient {
	for {
		switch v := c.(type) {
		case *markingClient:
			return v
		case *LaggingClient:
			c = v.Client
		case interface{ Unwrap() client.WithWatch }:
			c = v.Unwrap()
		default:
			return nil
		}
	}
}

// snapshot returns a fake client that reads a copy of every object the store holds now, with the
// indexes given to WithIndex.
func (c *markingClient) snapshot() (client.Reader, error) {
	store, err := c.tracker.snapshot()
	if err != nil {
		return nil, err
	}
	builder := fake.NewClientBuilder().
		WithScheme(c.Scheme()).
		WithObjectTracker(store).
		WithReturnManagedFields()
	for _, i := range c.indexes {
		builder.WithIndex(i.obj, i.field, i.extractValue)
	}
	return builder.Build(), nil
}

// snapshot returns an object tracker of its own that holds a copy of every object t holds now.
func (t *tracker) snapshot() (clienttesting.ObjectTracker, error) {
	t.mu.Lock()
	keys := map[schema.GroupVersionResource][]types.NamespacedName{}
	for gvr, names := range t.keys {
		for name := range names {
			keys[gvr] = append(keys[gvr], name)
		}
	}
	t.mu.Unlock()
	store := newObjectTracker(t.scheme)
	for gvr, names := range keys {
		for _, name := range names {
			obj, err := t.Get(gvr, name.Namespace, name.Name)
			if apierrors.IsNotFound(err) {
				continue
			}
			if err != nil {
				return nil, err
			}
			if err := store.Create(gvr, obj, name.Namespace); err != nil {
				return nil, err
			}
		}
	}
	return store, nil
}
