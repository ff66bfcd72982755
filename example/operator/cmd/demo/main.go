// Command demo runs the ConfigMirror operator end to end with no cluster: it starts kube-apiserver
// and etcd from the binaries `make controlplane` built, installs the CRD, runs the operator in
// this process, plays a user's story printing who owns what, and ends with a one-line verdict.
// It exits 0 when the story went as expected and ownership stayed disjoint.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/ssakit/ssakit/example/operator/config"
	"github.com/ssakit/ssakit/example/operator/demo"
	"github.com/ssakit/ssakit/example/operator/setup"
	"github.com/ssakit/ssakit/internal/controlplane"
)

func main() {
	opts, err := parseFlags(os.Args[1:], os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case err != nil:
		os.Exit(2) // the FlagSet printed the error and the usage
	}
	if err := run(opts.verbose, opts.keep); err != nil {
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		os.Exit(1)
	}
}

// options are the demo's flags.
type options struct {
	verbose bool
	keep    string
}

// parseFlags parses the demo's flags from args on a FlagSet of its own, writing errors and the
// usage to output. flag.CommandLine would list controller-runtime's -kubeconfig in -h (its
// pkg/client/config registers it there in an init), which the demo, running its own control
// plane, never reads.
func parseFlags(args []string, output io.Writer) (options, error) {
	var opts options
	flags := flag.NewFlagSet("demo", flag.ContinueOnError)
	flags.SetOutput(output)
	flags.BoolVar(&opts.verbose, "v", false, "print the operator's logs too")
	flags.StringVar(&opts.keep, "keep", "", "after the story, write a kubeconfig to this file and keep the control plane and the operator running, "+
		"with two ConfigMirrors to look at (try kubectl ssakit), until Ctrl-C")
	return opts, flags.Parse(args)
}

func run(verbose bool, keep string) (err error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctrl.SetLogger(zap.New(zap.WriteTo(logSink(verbose))))
	start := time.Now()

	assets, err := controlplane.AssetsDir()
	if err != nil {
		return err
	}
	crd, err := config.CRD()
	if err != nil {
		return err
	}
	env := controlplane.Environment(assets)
	env.CRDs = []*apiextensionsv1.CustomResourceDefinition{crd}
	fmt.Printf("starting kube-apiserver and etcd from %s\n", assets)
	cfg, err := env.Start()
	if err != nil {
		return fmt.Errorf("starting the control plane: %w", err)
	}
	defer func() {
		// Stopping kills kube-apiserver and etcd and removes their data: nothing is left behind.
		if stopErr := env.Stop(); stopErr != nil {
			err = errors.Join(err, fmt.Errorf("stopping the control plane: %w", stopErr))
		}
	}()
	fmt.Println("installed the ConfigMirror CRD (config/crd)")

	mgr, err := setup.NewManager(cfg, setup.Options{MetricsAddr: "0", HealthAddr: "0"})
	if err != nil {
		return err
	}
	mgrCtx, stopOperator := context.WithCancel(ctx)
	operatorDone := make(chan error, 1)
	go func() { operatorDone <- mgr.Start(mgrCtx) }()
	defer func() {
		stopOperator()
		if opErr := <-operatorDone; opErr != nil {
			err = errors.Join(err, fmt.Errorf("the operator stopped with: %w", opErr))
		}
	}()
	fmt.Println("started the ConfigMirror operator in this process")

	scheme, err := setup.Scheme()
	if err != nil {
		return err
	}
	user, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	story := &demo.Story{Client: user, Out: os.Stdout}
	verdict, err := story.Run(ctx)
	if err != nil {
		return err
	}
	if !verdict.Passed() {
		return errors.New("field managers overlapped; see the verdict above")
	}
	fmt.Printf("demo finished in %s\n", time.Since(start).Round(100*time.Millisecond))
	if keep == "" {
		return nil
	}
	if err := story.Explore(ctx); err != nil {
		return err
	}
	if err := controlplane.WriteKubeconfig(cfg, "demo", keep); err != nil {
		return err
	}
	fmt.Printf("the control plane and the operator keep running; in another shell:\n\n"+
		"    export KUBECONFIG=%s\n    make plugin && export PATH=$PWD/bin:$PATH\n    kubectl ssakit finalizers configmirrors\n\n"+
		"Ctrl-C stops them and removes their data\n", keep)
	<-ctx.Done()
	return nil
}

func logSink(verbose bool) *os.File {
	if verbose {
		return os.Stderr
	}
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return os.Stderr
	}
	return devNull
}
