// Command kubectl-ssakit is a kubectl plugin that shows who owns what on a live cluster and
// migrates finalizers to ssakit's field managers: `kubectl ssakit blame|overlaps|finalizers|migrate`.
//
// It is built on k8s.io/cli-runtime, so it takes the flags every kubectl user knows (-n, -A,
// --context, --kubeconfig, -l), and on pkg/ssa for all of its logic: ssa.OwnedFields for blame,
// ssa.Ownership.Shared for overlaps, ssa.ValidateFinalizerName for the name check, and
// ssa.Finalizer.PlanMigration and Migrate for migrate.
//
// Install it with `go install github.com/ssakit/ssakit/cmd/kubectl-ssakit@latest` (or `make
// plugin`, which builds bin/kubectl-ssakit); kubectl finds it on PATH.
//
// Exit codes, as diff(1) has them: 0 when all went well, 1 when overlaps found overlapping
// fields, 2 on an error.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// errFound is returned by a command that ran well and found what it looks for (overlaps): the
// exit code is 1, and nothing more is printed.
var errFound = errors.New("found")

func main() {
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	os.Exit(run(newRootCommand(streams), streams))
}

// run executes root and turns its outcome into the exit code.
func run(root *cobra.Command, streams genericiooptions.IOStreams) int {
	err := root.Execute()
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errFound):
		return 1
	}
	fmt.Fprintln(streams.ErrOut, "error:", err)
	return 2
}

func newRootCommand(streams genericiooptions.IOStreams) *cobra.Command {
	flags := genericclioptions.NewConfigFlags(true)
	root := &cobra.Command{
		Use:   "kubectl-ssakit",
		Short: "See who owns which fields, and move finalizers to ssakit's field managers",
		Long: `kubectl ssakit shows the field ownership Server-Side Apply records on live objects, and
migrates finalizers that controllers added with Update or a merge patch, or under names
without a domain, to the field managers of ssakit's finalizers.`,
		Annotations:   map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl ssakit"},
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	// kubectl completes plugins through kubectl_complete-ssakit, not through this command.
	root.CompletionOptions.DisableDefaultCmd = true
	flags.AddFlags(root.PersistentFlags())
	root.AddCommand(
		newBlameCommand(flags, streams),
		newOverlapsCommand(flags, streams),
		newFinalizersCommand(flags, streams),
		newMigrateCommand(flags, streams),
	)
	return root
}
