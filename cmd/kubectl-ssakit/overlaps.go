package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"

	"github.com/ssakit/ssakit/pkg/ssa"
)

// overlapJSON is one object's shared fields in -o json.
type overlapJSON struct {
	Object objectJSON        `json:"object"`
	Shared []sharedFieldJSON `json:"shared"`
}

type sharedFieldJSON struct {
	Path     string   `json:"path"`
	Managers []string `json:"managers"`
}

func newOverlapsCommand(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	var (
		format   output
		selected selection
		managers []string
	)
	cmd := &cobra.Command{
		Use:   "overlaps TYPE [NAME...]",
		Short: "List the fields owned by more than one manager; exit code 1 when there are any",
		Long: `List, per object, every field that more than one field manager owns (ssa.Ownership.Shared).
A shared field is one that either manager may remove or change without a conflict: the place
to look when a field flips between values, or a finalizer will not go away.

With --manager, only fields shared among the named managers are listed (ssakit's finalizer
managers and your user's, say). The exit code is 1 when any shared field is found, so the
command can guard a CI job; 0 when none is, 2 on an error.`,
		Example: `  kubectl ssakit overlaps widgets.example.com -A
  kubectl ssakit overlaps deployment web --manager kubectl --manager my-operator -o json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			objects, err := selected.objects(flags, args)
			if err != nil {
				return err
			}
			var found []overlapJSON
			for _, obj := range objects {
				ownership, err := ssa.ParseOwnership(obj.GetManagedFields())
				if err != nil {
					return fmt.Errorf("%s: %w", objectOf(obj), err)
				}
				shared := ownership.Shared(managers...)
				if len(shared) == 0 {
					continue
				}
				o := overlapJSON{Object: objectOf(obj)}
				for _, s := range shared {
					o.Shared = append(o.Shared, sharedFieldJSON{Path: s.Path.String(), Managers: s.Managers})
				}
				found = append(found, o)
			}
			if format == "json" {
				if found == nil {
					found = []overlapJSON{}
				}
				if err := writeJSON(streams.Out, found); err != nil {
					return err
				}
			} else if err := printOverlaps(streams, found, len(objects)); err != nil {
				return err
			}
			if len(found) > 0 {
				return errFound
			}
			return nil
		},
	}
	selected.addFlags(cmd)
	cmd.Flags().StringSliceVar(&managers, "manager", nil, "Only fields shared among these managers (repeat the flag, or separate with commas); all managers when none is given.")
	cmd.Flags().VarP(&format, "output", "o", "Output format: json, or none for text.")
	return cmd
}

func printOverlaps(streams genericiooptions.IOStreams, found []overlapJSON, objects int) error {
	if len(found) == 0 {
		fmt.Fprintf(streams.ErrOut, "no field is owned by more than one manager on %d object(s)\n", objects)
		return nil
	}
	w := printers.GetNewTabWriter(streams.Out)
	fmt.Fprintln(w, "OBJECT\tFIELD\tMANAGERS")
	fields := 0
	for _, o := range found {
		for _, s := range o.Shared {
			fmt.Fprintf(w, "%s\t%s\t%s\n", o.Object, s.Path, strings.Join(s.Managers, ", "))
			fields++
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(streams.ErrOut, "%d shared field(s) on %d of %d object(s)\n", fields, len(found), objects)
	return nil
}
