package reconcile

import (
	"sync"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/resourceversion"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// lastWrites remembers, per object UID, the resourceVersion of the answer to the last write a
// StatusApplier made. A copy of the object with a smaller resourceVersion is older than that
// write (docs/ssa-semantics.md row 34): an apply guarded by its resourceVersion would be refused
// with a 409 that writes nothing, after the API server did the merge. The applier refuses it
// itself, without the request. This is the usual stale copy: the reconcile that the
// controller's own status write brings reads the object from a cache that has not seen the write
// yet.
//
// It is bounded (maxLastWrites; past that an arbitrary entry is forgotten, which costs that
// object, when stale, the request that finds it out).
type lastWrites struct {
	mu sync.Mutex
	rv map[types.UID]string
}

// maxLastWrites bounds lastWrites: a few MB at most.
const maxLastWrites = 1 << 15

// record remembers obj, an answer of the API server.
func (w *lastWrites) record(obj client.Object) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.rv == nil {
		w.rv = map[types.UID]string{}
	}
	if _, known := w.rv[obj.GetUID()]; !known && len(w.rv) >= maxLastWrites {
		for uid := range w.rv {
			delete(w.rv, uid)
			break
		}
	}
	w.rv[obj.GetUID()] = obj.GetResourceVersion()
}

// olderThanLastWrite reports whether obj is older than the last answer recorded for its UID,
// and that answer's resourceVersion. A resourceVersion that does not compare proves nothing.
//
// A copy found older makes the memory forget the answer: the refusal is made once per write, and
// the next copy's apply is sent and judged by the server. resourceVersions that went backwards
// (an etcd restored from a snapshot without its revision bumped) would otherwise have every copy
// refused here, with no request, for as long as the process runs, where the server would accept
// them; the cost is at most one 409 more per write, when a cache lags past the quiet retry.
func (w *lastWrites) olderThanLastWrite(obj client.Object) (bool, string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	last, ok := w.rv[obj.GetUID()]
	if !ok {
		return false, ""
	}
	order, err := resourceversion.CompareResourceVersion(obj.GetResourceVersion(), last)
	if err != nil || order >= 0 {
		return false, last
	}
	delete(w.rv, obj.GetUID())
	return true, last
}
