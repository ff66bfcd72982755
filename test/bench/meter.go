package main

import (
	"slices"
	"strings"

	"k8s.io/client-go/rest"

	"github.com/ssakit/ssakit/internal/testcluster"
)

// meter records the requests of the clients built on its config, with testcluster's recording
// transport.
type meter struct {
	cfg *rest.Config
	rec *testcluster.Recorder
}

func (b *bench) newMeter() *meter {
	cfg, rec := testcluster.Recording(b.cluster.Config)
	return &meter{cfg: cfg, rec: rec}
}

// take returns the requests recorded since the last take and forgets them. Informers' watches
// are left out: they are not requests of the work measured.
func (m *meter) take() []testcluster.Request {
	return slices.DeleteFunc(m.rec.Take(), func(r testcluster.Request) bool { return r.Watch })
}

// classOf says which part of a controller's work a request belongs to, from its path: the
// reconciled object's /status, the object itself (its finalizer: nothing else of it is written),
// a ConfigMap (the children), an Event, or other (discovery, say).
func classOf(r testcluster.Request) string {
	reconciled := strings.Contains(r.Path, "/widgets/") || strings.Contains(r.Path, "/configmirrors/")
	switch {
	case reconciled && strings.HasSuffix(r.Path, "/status"):
		return "status"
	case reconciled:
		return "finalizer"
	case strings.Contains(r.Path, "/configmaps"):
		return "children"
	case strings.Contains(r.Path, "/events"):
		return "events"
	}
	return "other"
}

// countCalls counts the requests for which keep is true.
func countCalls(calls []testcluster.Request, keep func(testcluster.Request) bool) int {
	n := 0
	for _, c := range calls {
		if keep(c) {
			n++
		}
	}
	return n
}
