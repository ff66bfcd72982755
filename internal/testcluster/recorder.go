package testcluster

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp/cmpopts"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Request is one HTTP request a recording client sent, with the status code it got back.
type Request struct {
	Method     string
	Path       string
	StatusCode int
	// Bytes is the size of the request body.
	Bytes int64
	// Watch is true for a watch (an informer's long-running GET).
	Watch bool
}

// IgnoreRequestSize makes cmp.Diff compare requests by method, path and status code alone.
var IgnoreRequestSize = cmpopts.IgnoreFields(Request{}, "Bytes")

// IsWrite reports whether the request could change the object store.
func (r Request) IsWrite() bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// Recorder holds what a recording client sent and received. It is safe for concurrent use.
type Recorder struct {
	mu       sync.Mutex
	requests []Request
	warnings []string
}

// Requests returns every request recorded since the last Reset.
func (r *Recorder) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.requests)
}

// Writes returns the recorded requests that could change the object store.
func (r *Recorder) Writes() []Request {
	var writes []Request
	for _, req := range r.Requests() {
		if req.IsWrite() {
			writes = append(writes, req)
		}
	}
	return writes
}

// Warnings returns the texts of every warning header received since the last Reset.
func (r *Recorder) Warnings() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.warnings)
}

// Take returns every request recorded since the last Take or Reset, and forgets them.
func (r *Recorder) Take() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	requests := r.requests
	r.requests = nil
	return requests
}

// Reset forgets everything recorded so far.
func (r *Recorder) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests, r.warnings = nil, nil
}

// roundTripper wraps next so that every request and its status code are recorded.
func (r *Recorder) roundTripper(next http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		resp, err := next.RoundTrip(req)
		rec := Request{Method: req.Method, Path: req.URL.Path, Bytes: max(req.ContentLength, 0), Watch: req.URL.Query().Get("watch") == "true"}
		if resp != nil {
			rec.StatusCode = resp.StatusCode
		}
		r.mu.Lock()
		r.requests = append(r.requests, rec)
		r.mu.Unlock()
		return resp, err
	})
}

// HandleWarningHeaderWithContext implements rest.WarningHandlerWithContext.
func (r *Recorder) HandleWarningHeaderWithContext(_ context.Context, _ int, _ string, text string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.warnings = append(r.warnings, text)
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// RecordingConfig returns a copy of the admin config whose transport records every request and
// whose warning handler records every warning, for tests that assert how many calls were made.
func (c *Cluster) RecordingConfig() (*rest.Config, *Recorder) {
	return Recording(c.Config)
}

// Recording returns a copy of cfg (any user's) whose transport records every request and whose
// warning handler records every warning.
func Recording(cfg *rest.Config) (*rest.Config, *Recorder) {
	rec := &Recorder{}
	cfg = rest.CopyConfig(cfg)
	cfg.Wrap(rec.roundTripper)
	cfg.WarningHandler = nil
	cfg.WarningHandlerWithContext = rec
	return cfg, rec
}

// RecordingClient returns an admin client that records what it sends and receives. It reads
// straight from the API server: there is no cache in front of it.
func (c *Cluster) RecordingClient(t testing.TB) (client.Client, *Recorder) {
	t.Helper()
	cfg, rec := c.RecordingConfig()
	return c.ClientFor(t, cfg), rec
}

// ClientFor returns a client on cfg (a copy of Config, or a user's, wrapped as a test needs) with
// the cluster's scheme and mapper. It reads straight from the API server.
func (c *Cluster) ClientFor(t testing.TB, cfg *rest.Config) client.Client {
	t.Helper()
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatalf("creating an HTTP client: %v", err)
	}
	cl, err := client.New(cfg, client.Options{Scheme: c.Scheme, HTTPClient: httpClient, Mapper: c.Mapper})
	if err != nil {
		t.Fatalf("creating a client: %v", err)
	}
	return cl
}
