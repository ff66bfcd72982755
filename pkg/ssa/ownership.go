package ssa

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/structured-merge-diff/v6/value"
)

// Entry is one managedFields entry with its fields parsed: what one manager owns through one
// operation (Apply or Update) on one subresource.
type Entry struct {
	Manager     string
	Operation   metav1.ManagedFieldsOperationType
	Subresource string
	APIVersion  string
	Time        *metav1.Time
	// Fields is the set of owned paths, parsed by structured-merge-diff's fieldpath.Set.FromJSON.
	Fields *fieldpath.Set
}

// String renders the entry's identity: `manager (Operation)` or `manager (Operation, status)`.
func (e Entry) String() string {
	if e.Subresource != "" {
		return fmt.Sprintf("%s (%s, %s)", e.Manager, e.Operation, e.Subresource)
	}
	return fmt.Sprintf("%s (%s)", e.Manager, e.Operation)
}

// Ownership is an object's metadata.managedFields, parsed into field sets.
type Ownership struct {
	// Entries are in the order of metadata.managedFields.
	Entries []Entry
}

// ParseOwnership parses managedFields entries (an object's GetManagedFields()). An entry with no
// fields, as left by a managedFields reset, parses to an empty set.
func ParseOwnership(managedFields []metav1.ManagedFieldsEntry) (*Ownership, error) {
	o := &Ownership{Entries: make([]Entry, 0, len(managedFields))}
	for _, mf := range managedFields {
		set := &fieldpath.Set{}
		if mf.FieldsV1 != nil {
			if raw := mf.FieldsV1.GetRawBytes(); len(raw) > 0 {
				if err := set.FromJSON(bytes.NewReader(raw)); err != nil {
					return nil, fmt.Errorf("parsing the fields of manager %q (%s): %w", mf.Manager, mf.Operation, err)
				}
			}
		}
		o.Entries = append(o.Entries, Entry{
			Manager: mf.Manager, Operation: mf.Operation, Subresource: mf.Subresource,
			APIVersion: mf.APIVersion, Time: mf.Time, Fields: set,
		})
	}
	return o, nil
}

// Managers returns the names of every manager with an entry, sorted and without repeats.
func (o *Ownership) Managers() []string {
	var names []string
	for _, e := range o.Entries {
		names = append(names, e.Manager)
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// FieldsOf returns every path manager owns, through any operation on any subresource.
func (o *Ownership) FieldsOf(manager string) *fieldpath.Set {
	set := &fieldpath.Set{}
	for _, e := range o.Entries {
		if e.Manager == manager {
			set = set.Union(e.Fields)
		}
	}
	return set
}

// EntriesOf returns manager's entries, one per operation and subresource.
func (o *Ownership) EntriesOf(manager string) []Entry {
	var entries []Entry
	for _, e := range o.Entries {
		if e.Manager == manager {
			entries = append(entries, e)
		}
	}
	return entries
}

// Owners returns the managers that own path, sorted.
func (o *Ownership) Owners(path fieldpath.Path) []string {
	var owners []string
	for _, e := range o.Entries {
		if e.Fields.Has(path) && !slices.Contains(owners, e.Manager) {
			owners = append(owners, e.Manager)
		}
	}
	slices.Sort(owners)
	return owners
}

// SharedField is a path owned by more than one manager.
type SharedField struct {
	Path     fieldpath.Path
	Managers []string
}

// String renders the shared field as `.path: "a", "b"`.
func (s SharedField) String() string { return s.Path.String() + ": " + quoteAll(s.Managers) }

// Shared returns every path owned by more than one of managers (of all managers when none are
// given), sorted by path. Only the owning managers among those asked about are listed.
func (o *Ownership) Shared(managers ...string) []SharedField {
	if len(managers) == 0 {
		managers = o.Managers()
	}
	managers = slices.Compact(slices.Sorted(slices.Values(managers)))
	sets := make([]*fieldpath.Set, len(managers))
	for i, m := range managers {
		sets[i] = o.FieldsOf(m)
	}
	owners := map[string]*SharedField{}
	for i := range managers {
		for j := i + 1; j < len(managers); j++ {
			for _, path := range sortedPaths(sets[i].Intersection(sets[j])) {
				key := path.String()
				shared, ok := owners[key]
				if !ok {
					shared = &SharedField{Path: path}
					owners[key] = shared
				}
				for _, m := range []string{managers[i], managers[j]} {
					if !slices.Contains(shared.Managers, m) {
						shared.Managers = append(shared.Managers, m)
					}
				}
			}
		}
	}
	out := make([]SharedField, 0, len(owners))
	for _, s := range owners {
		slices.Sort(s.Managers)
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b SharedField) int { return a.Path.Compare(b.Path) })
	return out
}

// OverlapError reports paths that managers expected to be disjoint share.
type OverlapError struct {
	Shared []SharedField
}

// Error implements error.
func (e *OverlapError) Error() string {
	lines := make([]string, len(e.Shared))
	for i, s := range e.Shared {
		lines[i] = s.String()
	}
	return fmt.Sprintf("field managers overlap on %d field(s): %s", len(e.Shared), strings.Join(lines, "; "))
}

// Disjoint returns nil when no path is owned by two of managers, and an [*OverlapError] listing
// every shared path otherwise. It is the one call tests and operators use to prove that a user,
// an operator and a finalizer manager never own the same field.
func (o *Ownership) Disjoint(managers ...string) error {
	if shared := o.Shared(managers...); len(shared) > 0 {
		return &OverlapError{Shared: shared}
	}
	return nil
}

// FinalizerPath is the path of one finalizer item in metadata.finalizers, a set
// (docs/ssa-semantics.md row 1): .metadata.finalizers[="name"].
func FinalizerPath(name string) fieldpath.Path {
	return fieldpath.MakePathOrDie("metadata", "finalizers", value.NewValueInterface(name))
}

// FinalizersOwnedBy returns the finalizers among finalizers that manager owns, in their order.
func (o *Ownership) FinalizersOwnedBy(manager string, finalizers []string) []string {
	fields := o.FieldsOf(manager)
	var owned []string
	for _, f := range finalizers {
		if fields.Has(FinalizerPath(f)) {
			owned = append(owned, f)
		}
	}
	return owned
}

// Paths renders every path in set, sorted, in the readable form structured-merge-diff prints:
// `.spec.replicas`, `.metadata.finalizers[="example.com/x"]`,
// `.spec.ports[port=80,protocol="TCP"].name`.
func Paths(set *fieldpath.Set) []string {
	paths := sortedPaths(set)
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = p.String()
	}
	return out
}

// sortedPaths returns the members of set in order. fieldpath.Set.All reuses one path while it
// iterates, so each member is copied.
func sortedPaths(set *fieldpath.Set) []fieldpath.Path {
	var paths []fieldpath.Path
	for p := range set.All() {
		paths = append(paths, p.Copy())
	}
	slices.SortFunc(paths, fieldpath.Path.Compare)
	return paths
}
