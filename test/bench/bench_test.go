package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestRun_AtTinyScaleReportsEveryTableAtEverySizeAndWritesTheFile runs the whole bench at a tiny
// scale, so that `make bench` keeps working, and checks that every table has its rows at both
// sizes, and the figures that are promises rather than measurements: ssakit loses no finalizer
// and retries nothing under contention, and the drift applier sends nothing at steady state.
func TestRun_AtTinyScaleReportsEveryTableAtEverySizeAndWritesTheFile(t *testing.T) {
	out := filepath.Join(t.TempDir(), "bench.md")
	var printed bytes.Buffer
	if err := run(t.Context(), options{scale: 0.02, sizes: []int{1000, 2000}, repeats: []int{1}, out: out}, &printed, io.Discard); err != nil {
		t.Fatalf("run: %v", err)
	}
	written, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(printed.String(), string(written)); diff != "" {
		t.Errorf("the file differs from what was printed (-printed +file):\n%s", diff)
	}
	report := printed.String()
	if !strings.Contains(report, "make bench BENCH_FLAGS='-sizes 1000,2000 -scale 0.02 -repeat 1'") {
		t.Errorf("the report does not name the command that produced it:\n%s", report)
	}

	for title, rows := range map[string][]string{
		"Finalizer add and remove latency, one writer":  strategyNames,
		"Bytes sent per finalizer write":                strategyNames,
		"Requests per object lifecycle":                 lifecycleRows,
		"Contention: 8 writers on the same objects":     strategyNames,
		"Steady state: requests per resync":             childrenNames,
		"Cost of the local decision per object":         {decisionDrift, decisionHash},
		"End to end: the example operator's throughput": {operatorSSAKit, operatorUpdate},
		"kubectl ssakit migrate":                        {migrateRuns[0].name, migrateRuns[1].name},
		"Informer memory per object":                    {cacheFull, cacheStripped, cacheKeepOwn},
	} {
		var want [][2]string
		for _, size := range []string{"20", "40"} {
			for _, row := range rows {
				want = append(want, [2]string{size, row})
			}
		}
		if diff := cmp.Diff(want, firstColumns(tableRows(report, title))); diff != "" {
			t.Errorf("objects and rows of %q (-want +got):\n%s", title, diff)
		}
	}

	for _, size := range []string{"20", "40"} {
		contention := rowOf(tableRows(report, "Contention: 8 writers on the same objects"), size, strategySSAKit)
		if diff := cmp.Diff([]string{"0", "0", "0", "0", "0"}, contention[2:7]); diff != "" {
			t.Errorf("ssakit under contention at %s objects: lost, left behind, 409s, retries, failures (-want +got):\n%s", size, diff)
		}
		// Under leader election, an add and a removal per object, and reads once in all: the
		// kind's revision, and the live objects of the cleanups that ran while it was read (one per
		// worker at most), whose copies are older than it.
		n, _ := strconv.ParseFloat(size, 64)
		for _, row := range []string{electedStep, electedStrippedCache} {
			lifecycle := rowOf(tableRows(report, "Requests per object lifecycle"), size, row)
			if lifecycle[3] != "2.0" {
				t.Errorf("%s at %s objects: %s writes per lifecycle, want 2.0", row, size, lifecycle[3])
			}
			if reads, err := strconv.ParseFloat(lifecycle[4], 64); err != nil || reads*n > lifecycleWorkers+1+0.05*n {
				t.Errorf("%s at %s objects: %s reads per lifecycle, want at most %d in all (to the table's rounding)", row, size, lifecycle[4], lifecycleWorkers+1)
			}
		}
		steady := rowOf(tableRows(report, "Steady state: requests per resync"), size, childrenDrift)
		if diff := cmp.Diff([]string{"0.00", "0.00", "0.00", "0.00"}, steady[2:6]); diff != "" {
			t.Errorf("the drift applier's requests per resync at %s objects: finalizer, status, children, first resync (-want +got):\n%s", size, diff)
		}
	}
}

// tableRows returns the cells of the rows of the markdown table under the heading title.
func tableRows(report, title string) [][]string {
	_, section, found := strings.Cut(report, "## "+title+"\n")
	if !found {
		return nil
	}
	section, _, _ = strings.Cut(section, "\n## ")
	var rows [][]string
	for line := range strings.SplitSeq(section, "\n") {
		if !strings.HasPrefix(line, "| ") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "| "), " | ")
		rows = append(rows, cells)
	}
	if len(rows) > 0 {
		rows = rows[1:] // the header
	}
	return rows
}

// firstColumns returns the first two cells of each row: the objects and the row's name.
func firstColumns(rows [][]string) [][2]string {
	var first [][2]string
	for _, row := range rows {
		first = append(first, [2]string{row[0], row[1]})
	}
	return first
}

// rowOf returns the row of rows for objects and name.
func rowOf(rows [][]string, objects, name string) []string {
	for _, row := range rows {
		if row[0] == objects && row[1] == name {
			return row
		}
	}
	return make([]string, 9)
}

func TestPercentile_IsTheNearestRank(t *testing.T) {
	ds := []time.Duration{5, 1, 4, 2, 3, 6, 7, 8, 9, 10}
	got := []time.Duration{percentile(ds, 0.5), percentile(ds, 0.99), percentile(ds, 0.1), percentile(nil, 0.5)}
	if diff := cmp.Diff([]time.Duration{5, 10, 1, 0}, got); diff != "" {
		t.Errorf("p50, p99, p10, empty (-want +got):\n%s", diff)
	}
}

func TestRepeated_FormatsTheMedianAndTheRangeWhenRepeatsDiffer(t *testing.T) {
	got := []string{repeated{3, 1, 2}.format(1), repeated{2, 2}.format(0), repeated{4}.format(2), repeated{1, 2, 3, 4}.format(1), repeated(nil).format(1)}
	if diff := cmp.Diff([]string{"2.0 (1.0–3.0)", "2", "4.00", "2.5 (1.0–4.0)", "–"}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestOptions_GiveEachSizeItsScaledCountAndItsRepeats(t *testing.T) {
	got, err := options{scale: 0.1, sizes: []int{1000, 10000}, repeats: []int{3, 1}}.sized()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]size{{objects: 100, repeat: 3}, {objects: 1000, repeat: 1}}, got, cmp.AllowUnexported(size{})); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	got, err = options{scale: 1, sizes: []int{5, 7}, repeats: []int{2}}.sized()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]size{{objects: 5, repeat: 2}, {objects: 7, repeat: 2}}, got, cmp.AllowUnexported(size{})); diff != "" {
		t.Errorf("one repeat count for all sizes (-want +got):\n%s", diff)
	}
}

// Without -repeat, a size is measured three times below 10,000 objects and once from 10,000, so
// that `-sizes 1000` alone works.
func TestOptions_WithoutRepeatsMeasureThreeTimesBelowTenThousandAndOnceFrom(t *testing.T) {
	got, err := options{scale: 1, sizes: []int{1000}}.sized()
	if err != nil {
		t.Fatal(err)
	}
	more, err := options{scale: 0.1, sizes: []int{300, 10000}}.sized()
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, more...)
	want := []size{{objects: 1000, repeat: 3}, {objects: 30, repeat: 3}, {objects: 1000, repeat: 1}}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(size{})); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestOptions_RefuseRepeatsThatMatchNeitherOneNorEverySize(t *testing.T) {
	_, err := options{scale: 1, sizes: []int{1000, 10000}, repeats: []int{3, 1, 1}}.sized()
	if err == nil || !strings.Contains(err.Error(), "-repeat must give one count for all sizes or one per size") {
		t.Errorf("sized() = %v, want an error that names -repeat", err)
	}
}

func TestCommandLine_IsMakeBenchForTheDefaults(t *testing.T) {
	got := []string{
		commandLine(options{scale: 1, sizes: defaultSizes}),
		commandLine(options{scale: 0.1, sizes: defaultSizes, repeats: []int{1}, only: []string{"memory"}}),
	}
	want := []string{"make bench", "make bench BENCH_FLAGS='-scale 0.1 -repeat 1 -only memory'"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestMergeSizes_PrefixesTheObjectsAndKeepsANoteThatDiffersForEachSize(t *testing.T) {
	sizes := []size{{objects: 1000, repeat: 3}, {objects: 10000, repeat: 1}}
	got := mergeSizes(sizes, [][]table{
		{{title: "t", header: []string{"strategy", "x"}, rows: [][]string{{"a", "1"}}, notes: []string{"Same.", "Slower by 5%. Why. Because.", "A. B."}}},
		{{title: "t", header: []string{"strategy", "x"}, rows: [][]string{{"a", "2"}}, notes: []string{"Same.", "Slower by 9%. Why. Because.", "C. D."}}},
	}, []time.Duration{90 * time.Second, 10 * time.Minute})
	want := []table{{
		title:  "t",
		header: []string{"objects", "strategy", "x"},
		rows:   [][]string{{"1,000", "a", "1"}, {"10,000", "a", "2"}},
		notes: []string{
			"Same.",
			"At 1,000 objects: Slower by 5%. At 10,000 objects: Slower by 9%. Why. Because.",
			"At 1,000 objects: A. B. At 10,000 objects: C. D.",
			"Measured in 1m30s at 1,000 objects, 10m0s at 10,000 objects.",
		},
	}}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(table{})); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// The end-to-end note names a phase where the Update variant is ahead, with both figures, but not
// one whose gap rounds to 0%.
func TestSlowerPhases_NamesOnlyGapsThatShow(t *testing.T) {
	ssakit := &operatorFigures{create: repeated{100}, remove: repeated{50}, lifecycle: repeated{25.0}}
	other := &operatorFigures{create: repeated{110}, remove: repeated{49}, lifecycle: repeated{25.1}}

	got := slowerPhases(ssakit, other)

	if diff := cmp.Diff("create → Ready (110 against 100 objects/s, 10%)", got); diff != "" {
		t.Errorf("slower phases (-want +got):\n%s", diff)
	}
}
