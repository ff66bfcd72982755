package testcluster

import (
	"slices"

	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

// FieldPaths renders every path in set, sorted, in structured-merge-diff's readable form
// (fieldpath.Path.String): `.status.phase`, `.metadata.finalizers[="example.com/cleanup"]`. An
// empty set gives an empty list, not nil, for tests that compare it with []string{}.
func FieldPaths(set *fieldpath.Set) []string {
	var paths []fieldpath.Path
	for p := range set.All() {
		paths = append(paths, p.Copy()) // All reuses one path while it iterates
	}
	slices.SortFunc(paths, fieldpath.Path.Compare)
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = p.String()
	}
	return out
}
