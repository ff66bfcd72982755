package main

import (
	"net/http"
	"strings"
	"sync"

	"k8s.io/client-go/rest"
)

// call is one HTTP request a metered client sent.
type call struct {
	method string
	path   string
	status int
	// bytes is the size of the request body.
	bytes int64
}

// class says which part of a controller's work a request belongs to, from its path: the
// reconciled object's /status, the object itself (its finalizer: nothing else of it is written),
// a ConfigMap (the children), an Event, or other (discovery, say).
func (c call) class() string {
	reconciled := strings.Contains(c.path, "/widgets/") || strings.Contains(c.path, "/configmirrors/")
	switch {
	case reconciled && strings.HasSuffix(c.path, "/status"):
		return "status"
	case reconciled:
		return "finalizer"
	case strings.Contains(c.path, "/configmaps"):
		return "children"
	case strings.Contains(c.path, "/events"):
		return "events"
	}
	return "other"
}

func (c call) isWrite() bool { return c.method != http.MethodGet }

// meter records every request sent through the configs it wraps. It is safe for concurrent use.
type meter struct {
	mu    sync.Mutex
	calls []call
}

// metered returns a copy of cfg whose requests m records.
func (m *meter) metered(cfg *rest.Config) *rest.Config {
	cfg = rest.CopyConfig(cfg)
	cfg.Wrap(func(next http.RoundTripper) http.RoundTripper {
		return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
			resp, err := next.RoundTrip(req)
			if req.URL.Query().Get("watch") == "true" {
				return resp, err // an informer's long-running watch, not a request of the work measured
			}
			c := call{method: req.Method, path: req.URL.Path, bytes: max(req.ContentLength, 0)}
			if resp != nil {
				c.status = resp.StatusCode
			}
			m.mu.Lock()
			m.calls = append(m.calls, c)
			m.mu.Unlock()
			return resp, err
		})
	})
	return cfg
}

// take returns the calls recorded since the last take and forgets them.
func (m *meter) take() []call {
	m.mu.Lock()
	defer m.mu.Unlock()
	calls := m.calls
	m.calls = nil
	return calls
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// countCalls counts the calls for which keep is true.
func countCalls(calls []call, keep func(call) bool) int {
	n := 0
	for _, c := range calls {
		if keep(c) {
			n++
		}
	}
	return n
}
