package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"

	"github.com/ssakit/ssakit/pkg/ssa"
)

// finalizerJSON is one finalizer on one object in -o json.
type finalizerJSON struct {
	Object    objectJSON  `json:"object"`
	Finalizer string      `json:"finalizer"`
	Owners    []entryJSON `json:"owners"`
	// Name is the name's class, ssa.CheckFinalizerName's: "qualified", "unqualified" (the server
	// accepts it on custom resources with a warning, and refuses it on built-in types), "invalid"
	// (refused on every kind) or "reserved" (Kubernetes' own: kubernetes, orphan,
	// foregroundDeletion).
	Name ssa.NameClass `json:"name"`
	// NameProblem says what is wrong with the name, when something is: the server's warning for
	// an unqualified name, the broken rules for an invalid or reserved one.
	NameProblem string `json:"nameProblem,omitempty"`
	// TerminatingFor is how long the object has been terminating, in seconds; absent when it is
	// not terminating.
	TerminatingFor *int64 `json:"terminatingSeconds,omitempty"`
	// Stuck is true when the object has been terminating for longer than --stuck-after.
	Stuck bool `json:"stuck"`
}

func newFinalizersCommand(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	var (
		format     output
		selected   selection
		stuckAfter time.Duration
	)
	cmd := &cobra.Command{
		Use:   "finalizers TYPE [NAME...]",
		Short: "List each finalizer on each object: its owners, its name's class, whether it is stuck",
		Long: `List each finalizer on each object with the field managers that own it (an Update owner is a
controller that added it with Update or a merge patch: a candidate for kubectl ssakit
migrate), its name's class as ssa.CheckFinalizerName gives it, and how long the object has
been terminating: a finalizer on an object terminating for longer than --stuck-after is
reported stuck. The classes: qualified; unqualified, without a "/" path (a warning on custom
resources, refused on built-in types); invalid (refused on every kind); reserved, one of
Kubernetes' own (kubernetes, orphan, foregroundDeletion).`,
		Example: `  kubectl ssakit finalizers widgets.example.com -A
  kubectl ssakit finalizers configmaps -n prod --stuck-after 1h -o json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			objects, readErr := selected.objects(flags, args)
			if objects == nil && readErr != nil {
				return readErr
			}
			now := time.Now()
			var err error
			found := []finalizerJSON{}
			for _, obj := range objects {
				ownership, err := ssa.ParseOwnership(obj.GetManagedFields())
				if err != nil {
					return fmt.Errorf("%s: %w", objectOf(obj), err)
				}
				for _, name := range obj.GetFinalizers() {
					f := finalizerJSON{Object: objectOf(obj), Finalizer: name}
					f.Name, f.NameProblem = classify(name)
					var owners []ssa.Entry
					for _, e := range ownership.Entries {
						if e.Fields.Has(ssa.FinalizerPath(name)) {
							owners = append(owners, e)
						}
					}
					f.Owners = entriesOf(owners)
					if deleted := obj.GetDeletionTimestamp(); deleted != nil {
						terminating := terminatingFor(now, deleted.Time, obj.GetDeletionGracePeriodSeconds())
						seconds := int64(terminating / time.Second)
						f.TerminatingFor = &seconds
						f.Stuck = terminating > stuckAfter
					}
					found = append(found, f)
				}
			}
			if format == "json" {
				err = writeJSON(streams.Out, found)
			} else {
				err = printFinalizers(streams, found, len(objects))
			}
			if err != nil {
				return err
			}
			return readErr
		},
	}
	selected.addFlags(cmd)
	cmd.Flags().DurationVar(&stuckAfter, "stuck-after", 5*time.Minute, "Report a finalizer stuck when its object has been terminating for longer than this.")
	cmd.Flags().VarP(&format, "output", "o", "Output format: json, or none for text.")
	return cmd
}

// classify returns the class of a finalizer name and, unless it is qualified, what is wrong with
// it: the server's warning for an unqualified name, the broken rules for an invalid or reserved
// one.
func classify(name string) (ssa.NameClass, string) {
	check := ssa.CheckFinalizerName(name)
	switch {
	case check.Warning != "":
		return check.Class, check.Warning
	case check.Err != nil:
		if invalid, ok := errors.AsType[*ssa.InvalidNameError](check.Err); ok {
			return check.Class, strings.Join(invalid.Reasons, "; ")
		}
		return check.Class, check.Err.Error()
	}
	return check.Class, ""
}

// terminatingFor is how long an object has been terminating. The server sets deletionTimestamp to
// the end of the grace period (a Pod's, say), which can be in the future: the deletion started
// that many seconds before it.
func terminatingFor(now, deletionTimestamp time.Time, gracePeriodSeconds *int64) time.Duration {
	started := deletionTimestamp
	if gracePeriodSeconds != nil {
		started = started.Add(-time.Duration(*gracePeriodSeconds) * time.Second)
	}
	return max(now.Sub(started), 0)
}

func printFinalizers(streams genericiooptions.IOStreams, found []finalizerJSON, objects int) error {
	if len(found) == 0 {
		fmt.Fprintf(streams.ErrOut, "no finalizer on %d object(s)\n", objects)
		return nil
	}
	w := printers.GetNewTabWriter(streams.Out)
	fmt.Fprintln(w, "OBJECT\tFINALIZER\tOWNERS\tNAME\tTERMINATING")
	unqualified, stuck := 0, 0
	carrying := map[objectJSON]bool{}
	for _, f := range found {
		carrying[f.Object] = true
		owners := make([]string, len(f.Owners))
		for i, e := range f.Owners {
			owners[i] = e.String()
		}
		if len(owners) == 0 {
			owners = []string{"<none recorded>"}
		}
		terminating := ""
		if f.TerminatingFor != nil {
			terminating = duration.HumanDuration(time.Duration(*f.TerminatingFor) * time.Second)
			if f.Stuck {
				terminating += " (stuck)"
				stuck++
			}
		}
		if f.Name != ssa.NameQualified {
			unqualified++
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", f.Object, f.Finalizer, strings.Join(owners, ", "), f.Name, terminating)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(streams.ErrOut, "%d finalizer(s) on %d of %d object(s): %d without a domain-qualified name, %d stuck\n", len(found), len(carrying), objects, unqualified, stuck)
	return nil
}
