package proof

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"

	"github.com/ssakit/ssakit/internal/testcluster"
)

// What a PATCH of a Widget by a controller is, told from its path, field manager and content.
const (
	writeAdd     = "finalizer add"     // an apply of the main resource that lists the finalizer
	writeRemoval = "finalizer removal" // an apply of the main resource that lists no finalizer
	writeStatus  = "status apply"      // an apply of /status
)

// wire sees every request that the controllers of a test send, from all their replicas, in the
// order they are sent, with the answer each got; and it injects the faults a test arms. It sits in
// the replicas' transports (rest.Config.Wrap, client-go's hook for a RoundTripper middleware), so
// controller-runtime's clients, caches and leader election all go through it unchanged.
type wire struct {
	mu     sync.Mutex
	sent   []wireRequest
	faults []*fault
}

// wireRequest is one request the wire saw.
type wireRequest struct {
	replica      string
	method, path string
	fieldManager string
	write        string // writeAdd, writeRemoval, writeStatus; empty for any other request
	// status is the status code the client got; 0 when no answer reached it.
	status int
	// served is the status code the server answered with, 0 when the request never reached it:
	// a fault that drops the answer leaves status 0 and served set.
	served int
}

// failed reports whether the client got no answer, or one that says the server could not serve
// the request.
func (r wireRequest) failed() bool {
	return r.status == 0 || r.status == http.StatusTooManyRequests || r.status >= http.StatusInternalServerError
}

// A fault is what the wire does to the n-th request (from 1) of a kind of write on one Widget,
// or on any Widget when path is empty.
type fault struct {
	write, path string
	n           int
	// hold keeps the request from the server until its context ends (its controller stopping),
	// and returns the context's error: the write is never made.
	hold bool
	// Otherwise the request is sent, the server's answer read whole and dropped, then meanwhile
	// runs (nil: nothing), and the client gets a connection reset: the write is made and its
	// answer lost.
	meanwhile func()

	seen  int
	fired chan wireRequest // gets the request when the fault fires, before it returns
}

// arm adds a fault: the wire applies it to the n-th matching request; fired tells when.
func (w *wire) arm(f *fault) *fault {
	f.fired = make(chan wireRequest, 1)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.faults = append(w.faults, f)
	return f
}

// config returns a copy of base whose requests go through the wire as the replica's.
func (w *wire) config(base *rest.Config, replica string) *rest.Config {
	cfg := rest.CopyConfig(base)
	cfg.Wrap(func(next http.RoundTripper) http.RoundTripper {
		return wireTransport(func(req *http.Request) (*http.Response, error) { return w.roundTrip(replica, next, req) })
	})
	return cfg
}

type wireTransport func(*http.Request) (*http.Response, error)

func (f wireTransport) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// errConnectionReset is what the client gets when a fault drops an answer: the error a TCP
// connection reset by the peer gives, which client-go never retries for a write (rest.Request
// retries only GETs on it: a write is not idempotent).
var errConnectionReset = &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}

func (w *wire) roundTrip(replica string, next http.RoundTripper, req *http.Request) (*http.Response, error) {
	r := wireRequest{replica: replica, method: req.Method, path: req.URL.Path, fieldManager: req.URL.Query().Get("fieldManager")}
	r.write = classify(req)
	f := w.faultFor(r)
	var resp *http.Response
	var err error
	switch {
	case f == nil:
		resp, err = next.RoundTrip(req)
	case f.hold:
		f.fired <- r
		<-req.Context().Done()
		err = req.Context().Err()
	default:
		resp, err = next.RoundTrip(req)
		if err == nil {
			r.served = resp.StatusCode
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			resp, err = nil, errConnectionReset
			if f.meanwhile != nil {
				f.meanwhile()
			}
		}
		f.fired <- r
	}
	if resp != nil {
		r.status, r.served = resp.StatusCode, resp.StatusCode
	}
	w.mu.Lock()
	w.sent = append(w.sent, r)
	w.mu.Unlock()
	return resp, err
}

// faultFor counts r against the armed faults and returns the one whose turn it is, if any.
func (w *wire) faultFor(r wireRequest) *fault {
	if r.write == "" {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, f := range w.faults {
		if f.write != r.write || (f.path != "" && f.path != strings.TrimSuffix(r.path, "/status")) {
			continue
		}
		f.seen++
		if f.seen == f.n {
			return f
		}
	}
	return nil
}

// classify says which write a request is: only server-side applies of Widgets are writes here.
func classify(req *http.Request) string {
	if req.Method != http.MethodPatch || req.Header.Get("Content-Type") != string(types.ApplyPatchType) || !strings.Contains(req.URL.Path, "/widgets/") {
		return ""
	}
	if strings.HasSuffix(req.URL.Path, "/status") {
		return writeStatus
	}
	if bytes.Contains(body(req), []byte(`"finalizers"`)) {
		return writeAdd
	}
	return writeRemoval
}

// body returns the request's body and leaves the request able to send it.
func body(req *http.Request) []byte {
	if req.Body == nil {
		return nil
	}
	if req.GetBody != nil {
		if rc, err := req.GetBody(); err == nil {
			defer rc.Close()
			b, _ := io.ReadAll(rc)
			return b
		}
	}
	b, _ := io.ReadAll(req.Body)
	_ = req.Body.Close()
	req.Body = io.NopCloser(bytes.NewReader(b))
	return b
}

// len is how many requests the wire has seen: a mark for since.
func (w *wire) len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.sent)
}

// since returns the requests seen since mark.
func (w *wire) since(mark int) []wireRequest {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]wireRequest(nil), w.sent[mark:]...)
}

// removalFailedSince reports whether a finalizer removal of the Widget at path failed (its
// client got no answer, or a 429 or 5xx) since mark.
func (w *wire) removalFailedSince(path string, mark int) bool {
	for _, r := range w.since(mark) {
		if r.write == writeRemoval && r.path == path && r.failed() {
			return true
		}
	}
	return false
}

// count returns how many requests seen since mark have the status code; any write when write
// is empty.
func (w *wire) count(mark, status int, write string) int {
	n := 0
	for _, r := range w.since(mark) {
		if r.status == status && (write == "" || r.write == write) {
			n++
		}
	}
	return n
}

// attempts returns how many requests of the write were sent.
func (w *wire) attempts(write string) int {
	n := 0
	for _, r := range w.since(0) {
		if r.write == write {
			n++
		}
	}
	return n
}

// widgetPath is the path of a Widget's main resource.
func widgetPath(namespace, name string) string {
	return fmt.Sprintf("/apis/%s/v1/namespaces/%s/widgets/%s", testcluster.TestGroup, namespace, name)
}
