// Command kubectl-ssakit is a kubectl plugin that shows who owns what on a live cluster and
// migrates finalizers to ssakit's field managers: `kubectl ssakit blame|overlaps|finalizers|migrate`.
//
// It is built on k8s.io/cli-runtime, so it takes the flags every kubectl user knows (-n, -A,
// --context, --kubeconfig, -l), and on pkg/ssa for all of its logic: ssa.OwnedFields for blame,
// ssa.Ownership.Overlaps for overlaps, ssa.CheckFinalizerName for the name check, and
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
	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/rest"
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

// kubectl's client-side rate limits (k8s.io/kubectl's defaultConfigFlags, for its discovery
// client), where client-go's own defaults (5 requests/s, bursts of 10) would make a migration of
// thousands of objects take an hour.
const (
	defaultQPS   = 50
	defaultBurst = 300
)

// configFlags returns kubectl's connection flags, whose rest.Config gets the rate limits of the
// --qps and --burst flags that addTo adds.
func configFlags() (*genericclioptions.ConfigFlags, *rateLimits) {
	flags := genericclioptions.NewConfigFlags(true).WithDiscoveryBurst(defaultBurst).WithDiscoveryQPS(defaultQPS)
	rate := &rateLimits{qps: defaultQPS, burst: defaultBurst}
	flags.WrapConfigFn = rate.apply
	return flags, rate
}

func newRootCommand(streams genericiooptions.IOStreams) *cobra.Command {
	flags, rate := configFlags()
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
	rate.addTo(root.PersistentFlags())
	root.PersistentPreRunE = func(*cobra.Command, []string) error { return rate.validate() }
	root.AddCommand(
		newBlameCommand(flags, streams),
		newOverlapsCommand(flags, streams),
		newFinalizersCommand(flags, streams),
		newMigrateCommand(flags, streams),
	)
	return root
}

// rateLimits are the client-side limits of every request the plugin sends.
type rateLimits struct {
	qps   float32
	burst int
}

// addTo adds --qps and --burst to fs.
func (r *rateLimits) addTo(fs *pflag.FlagSet) {
	fs.Float32Var(&r.qps, "qps", defaultQPS, "Requests per second to the API server, at most (client-side; the server's API Priority and Fairness applies too).")
	fs.IntVar(&r.burst, "burst", defaultBurst, "Requests allowed at once above --qps.")
}

// apply sets the limits on a rest.Config made from kubectl's flags.
func (r *rateLimits) apply(config *rest.Config) *rest.Config {
	config.QPS, config.Burst = r.qps, r.burst
	return config
}

func (r *rateLimits) validate() error {
	switch {
	case r.qps <= 0:
		return fmt.Errorf("--qps %v: give the most requests per second to send, above 0 (the default is %d)", r.qps, defaultQPS)
	case r.burst < 1:
		return fmt.Errorf("--burst %d: give how many requests may go at once above --qps, at least 1 (the default is %d)", r.burst, defaultBurst)
	}
	return nil
}
