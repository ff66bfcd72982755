package ssa

import (
	"sync"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ownedAnswers remembers, per object UID, the resourceVersion of the last answer to one of the
// Finalizer's own Adds that showed the finalizer owned by its manager. An object with the same
// UID and resourceVersion is the same object: the API server gives every write, managedFields
// included, a new resourceVersion. So a copy of it that lacks managedFields (from a cache that
// strips them, client-go's TransformStripManagedFields) shows the finalizer owned all the same,
// and Add needs no request for it. The memory holds a UID and a resourceVersion per object, not
// the managedFields, so it costs a few dozen bytes where the cache saved the entries.
//
// It is bounded (maxOwnedAnswers; past that an arbitrary entry is forgotten, which costs that
// object one apply the server writes nothing for) and forgets an object on its removal.
type ownedAnswers struct {
	mu sync.Mutex
	rv map[types.UID]string
}

// maxOwnedAnswers bounds ownedAnswers: a few MB at most.
const maxOwnedAnswers = 1 << 15

// remember records that obj, an answer of the API server, shows the finalizer owned.
func (o *ownedAnswers) remember(obj client.Object) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.rv == nil {
		o.rv = map[types.UID]string{}
	}
	if _, known := o.rv[obj.GetUID()]; !known && len(o.rv) >= maxOwnedAnswers {
		for uid := range o.rv {
			delete(o.rv, uid)
			break
		}
	}
	o.rv[obj.GetUID()] = obj.GetResourceVersion()
}

// proves reports whether obj is the very object an answer showed the finalizer owned on.
func (o *ownedAnswers) proves(obj client.Object) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	rv, ok := o.rv[obj.GetUID()]
	return ok && rv != "" && rv == obj.GetResourceVersion()
}

// forget forgets the object with uid.
func (o *ownedAnswers) forget(uid types.UID) {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.rv, uid)
}
