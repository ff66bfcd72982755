package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ssakit/ssakit/pkg/ssa"
)

// The ways of applying a controller's children the steady-state measurement compares.
const (
	childrenDrift  = "ssakit drift applier"
	childrenAlways = "always apply"
	childrenDryRun = "live read and dry-run first (Flux's way)"
	childrenTTL    = "TTL cache of request hashes (Cluster API's way)"
)

var childrenNames = []string{childrenDrift, childrenAlways, childrenDryRun, childrenTTL}

// childApplier applies a child ConfigMap. cache is the informer cache the controller reads from.
type childApplier interface {
	apply(ctx context.Context, config *corev1ac.ConfigMapApplyConfiguration) error
}

// newChildApplier returns strategy's applier through c; cache is the informer cache, apiReader
// reads from the API server.
func newChildApplier(strategy string, c client.Client, cache, apiReader client.Reader, manager string) childApplier {
	switch strategy {
	case childrenDrift:
		return &driftChildren{cache: cache, applier: ssa.NewApplier(c, manager, ssa.ApplierOptions{})}
	case childrenDryRun:
		return &dryRunChildren{client: c, reader: apiReader, manager: manager}
	case childrenTTL:
		return &ttlChildren{client: c, cache: cache, manager: manager, ttl: 30 * time.Minute, seen: map[string]time.Time{}}
	}
	return &alwaysChildren{client: c, manager: manager}
}

func keyOf(config *corev1ac.ConfigMapApplyConfiguration) client.ObjectKey {
	return client.ObjectKey{Namespace: *config.Namespace, Name: *config.Name}
}

// cached returns the child as the cache has it, or nil when the cache has none.
func cached(ctx context.Context, cache client.Reader, config *corev1ac.ConfigMapApplyConfiguration) (*corev1.ConfigMap, error) {
	live := &corev1.ConfigMap{}
	err := cache.Get(ctx, keyOf(config), live)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	return live, err
}

// applyForAnswer applies config and returns the server's answer.
func applyForAnswer(ctx context.Context, c client.Client, config *corev1ac.ConfigMapApplyConfiguration, opts ...client.ApplyOption) (*unstructured.Unstructured, error) {
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(config)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{Object: content}
	return u, c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), opts...)
}

// driftChildren is ssa.Applier: it decides from the cached child and its managedFields entry.
type driftChildren struct {
	cache   client.Reader
	applier *ssa.Applier
}

func (d *driftChildren) apply(ctx context.Context, config *corev1ac.ConfigMapApplyConfiguration) error {
	live, err := cached(ctx, d.cache, config)
	if err != nil {
		return err
	}
	_, err = d.applier.Apply(ctx, live, config, client.ForceOwnership)
	return err
}

// alwaysChildren sends every apply; the server finds most of them no-ops.
type alwaysChildren struct {
	client  client.Client
	manager string
}

func (a *alwaysChildren) apply(ctx context.Context, config *corev1ac.ConfigMapApplyConfiguration) error {
	return a.client.Apply(ctx, config, client.FieldOwner(a.manager), client.ForceOwnership)
}

// dryRunChildren reads the child from the API server, sends a dry-run apply, and a real one only
// when the dry run's answer differs from what it read, as Flux's ssa.ResourceManager does (its
// controllers read without a cache).
type dryRunChildren struct {
	client  client.Client
	reader  client.Reader
	manager string
}

func (d *dryRunChildren) apply(ctx context.Context, config *corev1ac.ConfigMapApplyConfiguration) error {
	live, err := cached(ctx, d.reader, config)
	if err != nil {
		return err
	}
	opts := []client.ApplyOption{client.FieldOwner(d.manager), client.ForceOwnership}
	if live != nil {
		dryRun, err := applyForAnswer(ctx, d.client, config, append(opts, client.DryRunAll)...)
		if err != nil {
			return err
		}
		same, err := sameObject(dryRun, live)
		if err != nil || same {
			return err
		}
	}
	return d.client.Apply(ctx, config, opts...)
}

// sameObject compares the dry run's answer with the object read, leaving out managedFields.
func sameObject(answer *unstructured.Unstructured, live *corev1.ConfigMap) (bool, error) {
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(live)
	if err != nil {
		return false, err
	}
	cachedCopy := &unstructured.Unstructured{Object: content}
	cachedCopy.SetAPIVersion("v1")
	cachedCopy.SetKind("ConfigMap")
	cachedCopy.SetManagedFields(nil)
	answered := answer.DeepCopy()
	answered.SetManagedFields(nil)
	a, err := json.Marshal(answered.Object)
	if err != nil {
		return false, err
	}
	b, err := json.Marshal(cachedCopy.Object)
	return bytes.Equal(a, b), err
}

// ttlChildren skips an apply whose request it sent, for the same resourceVersion of the child,
// less than ttl ago, as Cluster API's ssa cache does: its key is the kind, namespace, name and
// resourceVersion of the object and a hash of the request (there FNV-32 of a spew dump of the
// prepared request; here SHA-256 of its JSON), its TTL 30 minutes, refreshed by each hit.
type ttlChildren struct {
	client  client.Client
	cache   client.Reader
	manager string
	ttl     time.Duration

	mu   sync.Mutex
	seen map[string]time.Time
}

func (t *ttlChildren) apply(ctx context.Context, config *corev1ac.ConfigMapApplyConfiguration) error {
	live, err := cached(ctx, t.cache, config)
	if err != nil {
		return err
	}
	hash, err := requestHash(config)
	if err != nil {
		return err
	}
	if live != nil {
		key := cacheKey(live.Namespace, live.Name, live.ResourceVersion, hash)
		t.mu.Lock()
		sent, ok := t.seen[key]
		hit := ok && time.Since(sent) < t.ttl
		if hit {
			t.seen[key] = time.Now()
		}
		t.mu.Unlock()
		if hit {
			return nil
		}
	}
	answer, err := applyForAnswer(ctx, t.client, config, client.FieldOwner(t.manager), client.ForceOwnership)
	if err != nil {
		return err
	}
	t.mu.Lock()
	t.seen[cacheKey(answer.GetNamespace(), answer.GetName(), answer.GetResourceVersion(), hash)] = time.Now()
	t.mu.Unlock()
	return nil
}

// entries is how many request hashes the cache holds.
func (t *ttlChildren) entries() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.seen)
}

func cacheKey(namespace, name, resourceVersion, hash string) string {
	return "v1, Kind=ConfigMap/" + namespace + "/" + name + "/" + resourceVersion + "/" + hash
}

func requestHash(config *corev1ac.ConfigMapApplyConfiguration) (string, error) {
	content, err := json.Marshal(config)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(content)
	return hex.EncodeToString(sum[:]), nil
}
