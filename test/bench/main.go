// Command bench measures ssakit's finalizer, status and children writes against the usual ways
// of writing them, side by side on one control plane in one run, and writes the tables to
// docs/bench.md. `make bench` runs it from the repository's root:
//
//	go run ./test/bench [-scale 1] [-repeat 3] [-out docs/bench.md]
//
// It starts kube-apiserver and etcd from the binaries `make controlplane` built (or
// KUBEBUILDER_ASSETS), as the integration tests do. Every figure that is a time is measured
// -repeat times and reported as the median with the range; counts of requests are the same on
// every run and are measured once. -scale multiplies every object count (0.1 for a quick look).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/ssakit/ssakit/internal/testcluster"
)

func main() {
	opts := options{}
	flag.Float64Var(&opts.scale, "scale", 1, "multiply every object count by this factor")
	flag.IntVar(&opts.repeat, "repeat", 3, "measure every timing this many times and report the median and range")
	flag.StringVar(&opts.out, "out", "docs/bench.md", "write the markdown tables to this file too; empty writes none")
	only := flag.String("only", "", "run only these measurements, comma-separated: latency, lifecycle, contention, steady, e2e, migrate")
	flag.Parse()
	if *only != "" {
		opts.only = strings.Split(*only, ",")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, opts, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	scale  float64
	repeat int
	out    string
	only   []string
	// command is how the report says it was produced.
	command string
}

// run starts the control plane, runs every measurement, prints the report to out and writes it
// to opts.out. Progress goes to progress.
func run(ctx context.Context, opts options, out, progress io.Writer) error {
	if opts.scale <= 0 || opts.repeat < 1 {
		return fmt.Errorf("-scale must be positive and -repeat at least 1 (have %v and %d)", opts.scale, opts.repeat)
	}
	ctrllog.SetLogger(logr.Discard())
	start := time.Now()
	fmt.Fprintln(progress, "bench: starting kube-apiserver and etcd")
	cluster, err := testcluster.Start()
	if err != nil {
		return err
	}
	defer func() { _ = cluster.Stop() }()
	if err := installMirrorCRD(cluster); err != nil {
		return err
	}
	b := &bench{cluster: cluster, scale: opts.scale, repeat: opts.repeat, only: opts.only, progress: progress}
	if unknown := b.unknownMeasurements(); len(unknown) > 0 {
		return fmt.Errorf("-only names no measurement %q; the measurements are latency, lifecycle, contention, steady, e2e and migrate", unknown)
	}
	report, err := b.run(ctx)
	if err != nil {
		return err
	}
	report.duration = time.Since(start)
	report.command = opts.command
	if report.command == "" {
		report.command = commandLine(opts)
	}
	report.write(out)
	if opts.out == "" {
		return nil
	}
	f, err := os.Create(opts.out)
	if err != nil {
		return err
	}
	report.write(f)
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(progress, "bench: wrote %s\n", opts.out)
	return nil
}

// commandLine is the command that reproduces a run with opts.
func commandLine(opts options) string {
	if opts.scale == 1 && opts.repeat == 3 && len(opts.only) == 0 {
		return "make bench"
	}
	flags := fmt.Sprintf("-scale %v -repeat %d", opts.scale, opts.repeat)
	if len(opts.only) > 0 {
		flags += " -only " + strings.Join(opts.only, ",")
	}
	return "make bench BENCH_FLAGS='" + flags + "'"
}
