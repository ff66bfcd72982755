package reconcile

import (
	"context"
	"fmt"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/resourceversion"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/log"
)

// electedRevision is a resourceVersion of the reconciled kind read from the API server after this
// process was elected leader: the list resourceVersion of a consistent List (Limit 1, metadata
// only), which is the storage's revision at the read (docs/ssa-semantics.md row 34). Under leader
// election every finalizer removal an earlier leader made was written before it, so it has a
// smaller resourceVersion. An informer delivers one object's changes in order: a cached copy
// whose resourceVersion is at or above the revision has seen every such removal, and a
// finalizer it still shows is on the object, unless this process removed it (which the step
// remembers). For such a copy the uncached read before a cleanup proves nothing new and is
// skipped.
//
// The revision is read once per kind, at the first cleanup of that kind that needs it (KEP-5504
// makes the resourceVersions of one resource comparable, not those of two: a kind served by an
// aggregated API server, or from another etcd, counts its own): a Step runs inside a reconcile,
// which controller-runtime starts only after the election (a controller's NeedLeaderElection is
// true unless its options say otherwise). A read that fails is tried again a minute later; until
// then every cleanup reads the live object, as without leader election.
//
// resourceVersions are compared with apimachinery's resourceversion.CompareResourceVersion,
// comparable integers as KEP-5504 promises for every conformant API server from Kubernetes 1.35
// (kube-apiserver 1.34 issues the same etcd revisions, without the promise). A resourceVersion
// that does not compare (an aggregated API server's own scheme) falls back to the live read.
type electedRevision struct {
	reader client.Reader
	scheme *runtime.Scheme

	mu     sync.Mutex
	rv     map[schema.GroupVersionKind]string
	failed map[schema.GroupVersionKind]time.Time // when the last read of the kind failed
}

// electedRetryAfter is how long after a failed read the revision is not read again: a read that
// keeps failing (a namespaced role that cannot list the kind, say) would otherwise double the
// requests of every cleanup.
const electedRetryAfter = time.Minute

// covers reports whether obj, a cached copy, is at least as new as the revision, reading the
// revision first when it has not been read. false means: read the live object.
func (e *electedRevision) covers(ctx context.Context, obj client.Object) bool {
	rv, err := e.revision(ctx, obj)
	if err != nil {
		log.FromContext(ctx).V(1).Info("Could not read the revision after the election; reading the live object before the cleanup", "reason", err.Error())
		return false
	}
	if rv == "" {
		return false
	}
	order, err := resourceversion.CompareResourceVersion(obj.GetResourceVersion(), rv)
	if err != nil {
		log.FromContext(ctx).V(1).Info("The object's resourceVersion does not compare; reading the live object before the cleanup", "reason", err.Error())
		return false
	}
	return order >= 0
}

// revision returns the revision of obj's kind, reading it when it was not read yet; "" while a
// failed read waits to be tried again.
func (e *electedRevision) revision(ctx context.Context, obj client.Object) (string, error) {
	gvk, err := apiutil.GVKForObject(obj, e.scheme)
	if err != nil {
		return "", err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.rv == nil {
		e.rv, e.failed = map[schema.GroupVersionKind]string{}, map[schema.GroupVersionKind]time.Time{}
	}
	if rv := e.rv[gvk]; rv != "" || time.Since(e.failed[gvk]) < electedRetryAfter {
		return rv, nil
	}
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(schema.GroupVersionKind{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind + "List"})
	// The object's namespace: a controller whose role is namespaced may list there, and the list's
	// resourceVersion is the storage's revision whatever the namespace.
	if err := e.reader.List(ctx, list, client.InNamespace(obj.GetNamespace()), client.Limit(1)); err != nil {
		e.failed[gvk] = time.Now()
		return "", fmt.Errorf("listing %s with the API reader: %w", gvk.Kind, err)
	}
	if list.GetResourceVersion() == "" {
		e.failed[gvk] = time.Now()
		return "", fmt.Errorf("the list of %s has no resourceVersion", gvk.Kind)
	}
	e.rv[gvk] = list.GetResourceVersion()
	log.FromContext(ctx).V(1).Info("Read the revision after the election; cached objects at least as new need no live read before their cleanup", "kind", gvk.Kind, "resourceVersion", e.rv[gvk])
	return e.rv[gvk], nil
}
