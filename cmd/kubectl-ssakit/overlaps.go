package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"

	"github.com/ssakit/ssakit/pkg/ssa"
)

// overlapJSON is one object's shared fields in -o json.
type overlapJSON struct {
	Object objectJSON         `json:"object"`
	Shared []overlapFieldJSON `json:"shared"`
}

type overlapFieldJSON struct {
	// Path is the field as ssa.FormatPath renders it, as blame's.
	Path string `json:"path"`
	// Owners are the entries that own the field: `manager (Operation[, subresource])`.
	Owners []string `json:"owners"`
}

func newOverlapsCommand(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	var (
		format   output
		selected selection
		managers []string
	)
	cmd := &cobra.Command{
		Use:   "overlaps (TYPE [NAME...] | TYPE/NAME...)",
		Short: "List the fields owned by more than one manager; exit code 1 when there are any",
		Long: `List, per object, every field that more than one managedFields entry owns (ssa.Ownership.Overlaps
over entries): two managers, or one manager through both Apply and Update. A shared field is
one that no single owner can remove alone: the place to look when a field flips between
values, or a finalizer will not go away.

With --manager, only fields shared among the named managers are listed (ssakit's finalizer
managers and your user's, say). The exit code is 1 when any shared field is found, so the
command can guard a CI job; 0 when none is, 2 on an error.`,
		Example: `  kubectl ssakit overlaps widgets.example.com -A
  kubectl ssakit overlaps deployment web --manager kubectl --manager my-operator -o json`,
		Args: withUsage(someObjects),
		RunE: func(_ *cobra.Command, args []string) error {
			objects, readErr := selected.objects(flags, args)
			if objects == nil && readErr != nil {
				return readErr
			}
			var found []overlapJSON
			for _, obj := range objects {
				shared, err := overlapsByEntry(obj.GetManagedFields(), managers)
				if err != nil {
					return fmt.Errorf("%s: %w", objectOf(obj), err)
				}
				if len(shared) == 0 {
					continue
				}
				o := overlapJSON{Object: objectOf(obj)}
				for _, s := range shared {
					o.Shared = append(o.Shared, overlapFieldJSON{Path: ssa.FormatPath(s.Path), Owners: s.Managers})
				}
				found = append(found, o)
			}
			if format.structured() {
				if err := writeList(streams.Out, format, found); err != nil {
					return err
				}
			} else if err := printOverlaps(streams, found, len(objects)); err != nil {
				return err
			}
			switch {
			case readErr != nil:
				return readErr
			case len(found) > 0:
				return errFound
			}
			return nil
		},
	}
	selected.addFlags(cmd)
	cmd.Flags().StringSliceVar(&managers, "manager", nil, "Only fields shared among these managers (repeat the flag, or separate with commas); all managers when none is given.")
	cmd.Flags().VarP(&format, "output", "o", "Output format: json or yaml (a kubectl List), or none for text.")
	return cmd
}

// overlapsByEntry returns the fields that more than one managedFields entry owns, among the entries
// of managers (all when none is given). Entries, not managers, are compared: a manager that owns a
// field through both an Apply and an Update entry (a controller that moved to ssakit under its old
// name) cannot release it with an apply alone, which is what an overlap is about. Each owner is
// named as ssa.Entry renders it: `manager (Operation[, subresource])`.
func overlapsByEntry(managedFields []metav1.ManagedFieldsEntry, managers []string) ([]ssa.Overlap, error) {
	ownership, err := ssa.ParseOwnership(managedFields)
	if err != nil {
		return nil, err
	}
	byEntry := &ssa.Ownership{}
	for _, e := range ownership.Entries {
		if len(managers) == 0 || slices.Contains(managers, e.Manager) {
			e.Manager = e.String()
			byEntry.Entries = append(byEntry.Entries, e)
		}
	}
	return byEntry.Overlaps(), nil
}

func printOverlaps(streams genericiooptions.IOStreams, found []overlapJSON, objects int) error {
	if len(found) == 0 {
		fmt.Fprintf(streams.ErrOut, "no field is owned by more than one manager on %d object(s)\n", objects)
		return nil
	}
	w := printers.GetNewTabWriter(streams.Out)
	fmt.Fprintln(w, "NAMESPACE\tOBJECT\tFIELD\tMANAGERS")
	fields := 0
	for _, o := range found {
		for _, s := range o.Shared {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", o.Object.Namespace, o.Object.kubectlName(), s.Path, strings.Join(s.Owners, ", "))
			fields++
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(streams.ErrOut, "%d shared field(s) on %d of %d object(s)\n", fields, len(found), objects)
	return nil
}
