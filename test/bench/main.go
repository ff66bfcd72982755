// Command bench measures ssakit's finalizer, status and children writes against the usual ways
// of writing them, side by side on one control plane in one run, and writes the tables to
// docs/bench.md. `make bench` runs it from the repository's root:
//
//	go run ./test/bench [-sizes 1000,10000] [-repeat 3,1] [-scale 1] [-out docs/bench.md]
//
// It starts kube-apiserver and etcd from the binaries `make controlplane` built (or
// KUBEBUILDER_ASSETS), as the integration tests do. Every table is measured at each of -sizes
// objects, with a row per size, so that how the cost per object grows shows. Every figure that
// is a time is measured -repeat times at its size (one count per size, or one for all) and
// reported as the median with the range; counts of requests are the same on every run and are
// measured once. -scale multiplies every object count (0.1 for a quick look).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
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
	sizes := flag.String("sizes", joinInts(defaultSizes), "measure every table at these object counts, comma-separated")
	repeats := flag.String("repeat", "", "measure every timing this many times at each size, comma-separated in the order of -sizes (one count applies to all), and report the median and range (default: 3 below 10,000 objects, 1 from 10,000)")
	flag.StringVar(&opts.out, "out", "docs/bench.md", "write the markdown tables to this file too; empty writes none")
	only := flag.String("only", "", "run only these measurements, comma-separated: "+strings.Join(measurementNames(), ", "))
	flag.Parse()
	if *only != "" {
		opts.only = strings.Split(*only, ",")
	}
	var err error
	if opts.sizes, err = parseInts(*sizes); err == nil && *repeats != "" {
		opts.repeats, err = parseInts(*repeats)
	}
	if err == nil {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err = run(ctx, opts, os.Stdout, os.Stderr)
		stop()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

// The sizes `make bench` measures at, and its repeats at each: three at 1,000 objects, one at
// 10,000 (defaultRepeat), so that it finishes in a time a person can wait for on 2 cores.
var defaultSizes = []int{1000, 10000}

// defaultRepeat is how many times a timing is measured at n objects when -repeat is not given:
// three times below 10,000 objects, once from 10,000.
func defaultRepeat(n int) int {
	if n >= 10000 {
		return 1
	}
	return 3
}

// options are the command's flags.
type options struct {
	scale float64
	// sizes are the object counts every table is measured at, before scale; repeats, how many
	// times each timing is measured at each size (one count for all, or one per size).
	sizes   []int
	repeats []int
	out     string
	only    []string
	// command is how the report says it was produced.
	command string
}

// sized returns the object count of each size, scaled, and the repeats at each, or an error
// that says which flag to fix.
func (opts options) sized() ([]size, error) {
	if opts.scale <= 0 {
		return nil, fmt.Errorf("-scale must be positive (have %v)", opts.scale)
	}
	if len(opts.sizes) == 0 || slices.ContainsFunc(opts.sizes, func(n int) bool { return n < 1 }) {
		return nil, fmt.Errorf("-sizes must name at least one object count, each at least 1 (have %v)", opts.sizes)
	}
	if len(opts.repeats) > 0 && ((len(opts.repeats) != 1 && len(opts.repeats) != len(opts.sizes)) || slices.ContainsFunc(opts.repeats, func(n int) bool { return n < 1 })) {
		return nil, fmt.Errorf("-repeat must give one count for all sizes or one per size (%d), each at least 1 (have %v)", len(opts.sizes), opts.repeats)
	}
	sizes := make([]size, len(opts.sizes))
	for i, n := range opts.sizes {
		sizes[i] = size{objects: max(1, int(float64(n)*opts.scale+0.5)), repeat: defaultRepeat(n)}
		if len(opts.repeats) > 0 {
			sizes[i].repeat = opts.repeats[min(i, len(opts.repeats)-1)]
		}
	}
	return sizes, nil
}

// run starts the control plane, runs every measurement, prints the report to out and writes it
// to opts.out. Progress goes to progress.
func run(ctx context.Context, opts options, out, progress io.Writer) error {
	sizes, err := opts.sized()
	if err != nil {
		return err
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
	b := &bench{cluster: cluster, scale: opts.scale, sizes: sizes, only: opts.only, progress: progress, started: start}
	if unknown := b.unknownMeasurements(); len(unknown) > 0 {
		return fmt.Errorf("-only names no measurement %q; the measurements are %s", unknown, strings.Join(measurementNames(), ", "))
	}
	report, err := b.run(ctx)
	report.duration = time.Since(start)
	report.command = opts.command
	if report.command == "" {
		report.command = commandLine(opts)
	}
	if err != nil {
		if len(report.tables) > 0 {
			report.write(out)
			fmt.Fprintf(progress, "bench: the measurements finished before the failure are printed above; %s is left as it was\n", opts.out)
		}
		return err
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
	var flags []string
	if !slices.Equal(opts.sizes, defaultSizes) {
		flags = append(flags, "-sizes "+joinInts(opts.sizes))
	}
	if opts.scale != 1 {
		flags = append(flags, fmt.Sprintf("-scale %v", opts.scale))
	}
	if len(opts.repeats) > 0 {
		flags = append(flags, "-repeat "+joinInts(opts.repeats))
	}
	if len(opts.only) > 0 {
		flags = append(flags, "-only "+strings.Join(opts.only, ","))
	}
	if len(flags) == 0 {
		return "make bench"
	}
	return "make bench BENCH_FLAGS='" + strings.Join(flags, " ") + "'"
}

// parseInts parses a comma-separated list of integers.
func parseInts(list string) ([]int, error) {
	var ints []int
	for field := range strings.SplitSeq(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(field))
		if err != nil {
			return nil, fmt.Errorf("%q is not a comma-separated list of integers: %w", list, err)
		}
		ints = append(ints, n)
	}
	return ints, nil
}

func joinInts(ints []int) string {
	fields := make([]string, len(ints))
	for i, n := range ints {
		fields[i] = strconv.Itoa(n)
	}
	return strings.Join(fields, ",")
}
