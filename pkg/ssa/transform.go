package ssa

import (
	"bytes"
	"encoding/binary"
	"runtime"
	"slices"
	"strings"
	"sync"
	"unsafe"
	"weak"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
)

// KeepManagedFieldsOf returns an informer transform that keeps only the managedFields entries of
// managers and drops the rest, for controller-runtime's cache.Options.DefaultTransform or
// cache.ByObject.Transform. It sits between client-go's cache.TransformStripManagedFields, which
// drops every entry (docs/ssa-semantics.md row 23), and keeping them all: the cache stays as small
// as a stripped one, and a Finalizer whose manager is listed still sees that it owns its finalizer,
// so Add sends nothing at steady state; the status applier likewise proves a status unchanged from
// its manager's entry. Without the entry Add applies (the server writes nothing when nothing
// changes). Co-owners are always named from the server's answer, which has every entry.
//
// A kept entry has no Time. The time is the only part of an entry that differs between objects
// a controller wrote alike, and nothing in ssakit decides from a cached entry's time (Ownership
// passes it through; a takeover stamps the entry it sends with its own clock). Without it, all
// objects whose kept entries are equal share one kept list, so keeping the entries costs next to
// nothing per object. The list is interned in a table of weak pointers (Go's weak package), from
// which runtime.AddCleanup removes a list once no cached object holds it; the transform is safe
// for concurrent use, as informers call it from several goroutines.
//
// The shared list is immutable. controller-runtime's cache deep-copies an object on Get and List
// by default, so a caller may change its copy freely. With UnsafeDisableDeepCopy (or when reading
// an informer's store directly) the caller must not change a cached object, as always: here a
// change to one object's managedFields (also decoding a server's answer into it, which writes
// into the list in place) would show in every object that shares the list. The same holds for
// an object given to the transform directly: DeepCopy it before writing into it. A list found
// changed is never handed out again.
//
// Never write an object from such a cache back with Update or a patch that carries
// metadata.managedFields: the API server would take the trimmed list as the new managedFields and
// the other managers' ownership would be lost. ssakit's applies never send managedFields.
func KeepManagedFieldsOf(managers ...string) toolscache.TransformFunc {
	managers = slices.Clone(managers)
	return func(in any) (any, error) {
		// Tombstones (cache.DeletedFinalStateUnknown) and anything else without ObjectMeta pass
		// through unchanged.
		obj, err := meta.Accessor(in)
		if err != nil {
			return in, nil
		}
		entries := obj.GetManagedFields()
		if len(entries) == 0 {
			return in, nil
		}
		var kept []metav1.ManagedFieldsEntry
		for _, e := range entries {
			if slices.Contains(managers, e.Manager) {
				kept = append(kept, e)
			}
		}
		obj.SetManagedFields(keptEntries.intern(kept))
		return in, nil
	}
}

// keptEntries holds the kept lists of every KeepManagedFieldsOf transform.
var keptEntries = &internTable{lists: map[string]internedList{}}

// internTable interns lists of managedFields entries without their time: equal lists share one
// backing array. It holds each array weakly, and forgets it once the array is collected.
type internTable struct {
	mu    sync.Mutex
	lists map[string]internedList // by internKey
}

// internedList is a weak pointer to the first entry of an interned list, and its length.
type internedList struct {
	first  weak.Pointer[metav1.ManagedFieldsEntry]
	length int
}

// intern returns a list equal to entries without their time, shared with every other caller
// that passed equal entries while the list was alive, or nil when entries is empty.
func (t *internTable) intern(entries []metav1.ManagedFieldsEntry) []metav1.ManagedFieldsEntry {
	if len(entries) == 0 {
		return nil
	}
	key := internKey(entries)
	t.mu.Lock()
	defer t.mu.Unlock()
	if l, ok := t.lists[string(key)]; ok {
		if first := l.first.Value(); first != nil {
			list := unsafe.Slice(first, l.length)
			// A caller that wrote into a shared list despite the doc changed it for every
			// holder; it is at least never handed to another object.
			if equalWithoutTime(list, entries) {
				return list
			}
		}
	}
	list := make([]metav1.ManagedFieldsEntry, len(entries))
	for i, e := range entries {
		list[i] = metav1.ManagedFieldsEntry{
			Manager: strings.Clone(e.Manager), Operation: metav1.ManagedFieldsOperationType(strings.Clone(string(e.Operation))),
			APIVersion: strings.Clone(e.APIVersion), FieldsType: strings.Clone(e.FieldsType), Subresource: strings.Clone(e.Subresource),
		}
		if e.FieldsV1 != nil {
			list[i].FieldsV1 = &metav1.FieldsV1{}
			list[i].FieldsV1.SetRawBytes(e.FieldsV1.GetRawBytes()) // a copy
		}
	}
	l := internedList{first: weak.Make(&list[0]), length: len(list)}
	t.lists[string(key)] = l
	runtime.AddCleanup(&list[0], t.forget, internedKey{key: string(key), first: l.first})
	return list
}

// internedKey names an interned list for its cleanup.
type internedKey struct {
	key   string
	first weak.Pointer[metav1.ManagedFieldsEntry]
}

// forget removes the collected list k from the table, unless the key names a newer list.
func (t *internTable) forget(k internedKey) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if l, ok := t.lists[k.key]; ok && l.first == k.first {
		delete(t.lists, k.key)
	}
}

// size returns how many lists the table holds.
func (t *internTable) size() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.lists)
}

// internKey returns what identifies entries without their time: each entry's manager,
// operation, apiVersion, fieldsType, subresource and FieldsV1, each prefixed by its length.
func internKey(entries []metav1.ManagedFieldsEntry) []byte {
	var key []byte
	for _, e := range entries {
		for _, s := range []string{e.Manager, string(e.Operation), e.APIVersion, e.FieldsType, e.Subresource} {
			key = binary.AppendUvarint(key, uint64(len(s)))
			key = append(key, s...)
		}
		if e.FieldsV1 == nil {
			key = append(key, 0)
			continue
		}
		key = append(key, 1)
		raw := e.FieldsV1.GetRawBytes()
		key = binary.AppendUvarint(key, uint64(len(raw)))
		key = append(key, raw...)
	}
	return key
}

// equalWithoutTime reports whether list, an interned list, is still entries without their time.
func equalWithoutTime(list, entries []metav1.ManagedFieldsEntry) bool {
	return slices.EqualFunc(list, entries, func(l, e metav1.ManagedFieldsEntry) bool {
		return l.Time == nil && l.Manager == e.Manager && l.Operation == e.Operation && l.APIVersion == e.APIVersion &&
			l.FieldsType == e.FieldsType && l.Subresource == e.Subresource &&
			(l.FieldsV1 == nil) == (e.FieldsV1 == nil) && (l.FieldsV1 == nil || bytes.Equal(l.FieldsV1.GetRawBytes(), e.FieldsV1.GetRawBytes()))
	})
}
