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

// IsApplyOf reports whether e is manager's Apply entry on subresource ("" for the main resource,
// "status" for /status): the one entry that manager's applies there change. Every test of that
// kind in ssakit is this method.
func (e Entry) IsApplyOf(manager, subresource string) bool {
	return e.Manager == manager && e.Operation == metav1.ManagedFieldsOperationApply && e.Subresource == subresource
}

// identity is mf as an Entry without its fields, for IsApplyOf before anything is parsed.
func identity(mf metav1.ManagedFieldsEntry) Entry {
	return Entry{Manager: mf.Manager, Operation: mf.Operation, Subresource: mf.Subresource, APIVersion: mf.APIVersion, Time: mf.Time}
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

// Overlap is a path owned by more than one manager.
type Overlap struct {
	Path     fieldpath.Path
	Managers []string
}

// String renders the overlap as `.path: "a", "b"`, the path as FormatPath writes it (a key holding a
// dot is escaped, as kubectl's JSONPath takes it).
func (o Overlap) String() string { return FormatPath(o.Path) + ": " + quoteAll(o.Managers) }

// Overlaps returns every path owned by more than one of managers (of all managers when none are
// given), sorted by path. Only the owning managers among those asked about are listed.
func (o *Ownership) Overlaps(managers ...string) []Overlap {
	if len(managers) == 0 {
		for _, e := range o.Entries {
			managers = append(managers, e.Manager)
		}
	}
	managers = slices.Compact(slices.Sorted(slices.Values(managers)))
	sets := make([]*fieldpath.Set, len(managers))
	for i, m := range managers {
		sets[i] = o.FieldsOf(m)
	}
	owners := map[string]*Overlap{}
	for i := range managers {
		for j := i + 1; j < len(managers); j++ {
			for _, path := range sortedPaths(sets[i].Intersection(sets[j])) {
				key := path.String()
				overlap, ok := owners[key]
				if !ok {
					overlap = &Overlap{Path: path}
					owners[key] = overlap
				}
				for _, m := range []string{managers[i], managers[j]} {
					if !slices.Contains(overlap.Managers, m) {
						overlap.Managers = append(overlap.Managers, m)
					}
				}
			}
		}
	}
	out := make([]Overlap, 0, len(owners))
	for _, overlap := range owners {
		slices.Sort(overlap.Managers)
		out = append(out, *overlap)
	}
	slices.SortFunc(out, func(a, b Overlap) int { return a.Path.Compare(b.Path) })
	return out
}

// OverlapError reports paths owned by more than one of managers that were expected to own
// nothing in common.
type OverlapError struct {
	Overlaps []Overlap
}

// Error implements error.
func (e *OverlapError) Error() string {
	lines := make([]string, len(e.Overlaps))
	for i, o := range e.Overlaps {
		lines[i] = o.String()
	}
	return fmt.Sprintf("field managers overlap on %d field(s): %s", len(e.Overlaps), strings.Join(lines, "; "))
}

// CheckNoOverlap returns nil when no path is owned by two of managers, and an [*OverlapError]
// listing every overlap otherwise. It is the one call tests and operators use to prove that a
// user, an operator and a finalizer manager never own the same field.
func (o *Ownership) CheckNoOverlap(managers ...string) error {
	if overlaps := o.Overlaps(managers...); len(overlaps) > 0 {
		return &OverlapError{Overlaps: overlaps}
	}
	return nil
}

// FinalizerPath is the path of one finalizer item in metadata.finalizers, a set
// (docs/ssa-semantics.md row 1): .metadata.finalizers[="name"].
func FinalizerPath(name string) fieldpath.Path {
	return fieldpath.MakePathOrDie("metadata", "finalizers", value.NewValueInterface(name))
}

// paths renders every path in set, sorted, as FormatPath writes them: `.spec.replicas`,
// `.metadata.finalizers[="example.com/x"]`, `.spec.ports[port=80,protocol="TCP"].name`,
// `.metadata.labels.app\.kubernetes\.io/name`.
func paths(set *fieldpath.Set) []string {
	paths := sortedPaths(set)
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = FormatPath(p)
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
