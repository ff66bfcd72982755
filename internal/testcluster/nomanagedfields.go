package testcluster

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
)

// DropManagedFieldsParameter is the Accept parameter with which a client asks the API server to
// leave metadata.managedFields out of its answers (KEP-5958, alpha gates ManagedFieldsOptOut and
// ManagedFieldsOptOutClient). No release the project tests honours it yet (docs/ssa-semantics.md
// row 32).
const DropManagedFieldsParameter = "drop=metadata.managedFields"

// AskingToDropManagedFields returns a copy of cfg (any user's) whose client asks for JSON answers
// without managedFields, with DropManagedFieldsParameter on every media type it accepts, and does
// nothing else: what the server does with the request is what a test of it sees.
func AskingToDropManagedFields(cfg *rest.Config) *rest.Config {
	cfg = rest.CopyConfig(cfg)
	// controller-runtime asks for protobuf for built-in kinds unless told otherwise.
	cfg.ContentType = runtime.ContentTypeJSON
	cfg.AcceptContentTypes = runtime.ContentTypeJSON
	cfg.Wrap(func(next http.RoundTripper) http.RoundTripper {
		return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
			req = req.Clone(req.Context())
			req.Header.Set("Accept", dropParameter(req.Header.Get("Accept")))
			return next.RoundTrip(req)
		})
	})
	return cfg
}

// WithoutManagedFields returns a copy of cfg (any user's) whose client asks the API server to
// leave managedFields out of its answers (AskingToDropManagedFields), and removes them itself from
// every answer the server sent anyway: objects, lists and watch events. It is what a client that
// opts out with KEP-5958 receives, on any release. An answer that is not JSON fails the request,
// so that a test never passes on answers it did not strip.
func WithoutManagedFields(cfg *rest.Config) *rest.Config {
	cfg = AskingToDropManagedFields(cfg)
	cfg.Wrap(func(next http.RoundTripper) http.RoundTripper {
		return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
			resp, err := next.RoundTrip(req)
			if err != nil || resp.Body == nil || resp.StatusCode == http.StatusNoContent {
				return resp, err
			}
			return withoutManagedFields(resp, req.URL.Query().Get("watch") == "true")
		})
	})
	return cfg
}

// dropParameter adds DropManagedFieldsParameter to every media type of an Accept header.
func dropParameter(accept string) string {
	if accept == "" {
		accept = "application/json"
	}
	types := strings.Split(accept, ",")
	for i, t := range types {
		types[i] = strings.TrimSpace(t) + ";" + DropManagedFieldsParameter
	}
	return strings.Join(types, ", ")
}

// withoutManagedFields replaces resp's body with the same JSON less every managedFields: one
// document, or for a watch a stream of events, each rewritten as it arrives.
func withoutManagedFields(resp *http.Response, watch bool) (*http.Response, error) {
	mediaType, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || mediaType != "application/json" {
		_ = resp.Body.Close()
		return nil, fmt.Errorf("testcluster: an answer in %q, not JSON: its managedFields cannot be removed; use a JSON client", resp.Header.Get("Content-Type"))
	}
	if watch {
		reader, writer := io.Pipe()
		go func(body io.ReadCloser) {
			defer body.Close()
			decoder := json.NewDecoder(body)
			decoder.UseNumber() // numbers pass through exactly as the server wrote them
			encoder := json.NewEncoder(writer)
			for {
				var event map[string]any
				if err := decoder.Decode(&event); err != nil {
					if errors.Is(err, io.EOF) {
						err = nil
					}
					writer.CloseWithError(err)
					return
				}
				if object, ok := event["object"].(map[string]any); ok {
					dropManagedFields(object)
				}
				if err := encoder.Encode(event); err != nil {
					writer.CloseWithError(err)
					return
				}
			}
		}(resp.Body)
		resp.Body = reader
		resp.ContentLength = -1
		return resp, nil
	}
	raw, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	decoder := json.NewDecoder(bytes.NewReader(raw))
	decoder.UseNumber()
	if err := decoder.Decode(&doc); err != nil {
		return nil, fmt.Errorf("testcluster: reading an answer to remove its managedFields: %w", err)
	}
	dropManagedFields(doc)
	if items, ok := doc["items"].([]any); ok {
		for _, item := range items {
			if object, ok := item.(map[string]any); ok {
				dropManagedFields(object)
			}
		}
	}
	if raw, err = json.Marshal(doc); err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(raw))
	resp.ContentLength = int64(len(raw))
	resp.Header.Del("Content-Length")
	return resp, nil
}

func dropManagedFields(object map[string]any) {
	if metadata, ok := object["metadata"].(map[string]any); ok {
		delete(metadata, "managedFields")
	}
}
