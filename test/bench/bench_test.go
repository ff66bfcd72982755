package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestRun_AtTinyScaleReportsEveryTableAndWritesTheFile runs the whole bench at a tiny scale, so
// that `make bench` keeps working, and checks the figures that are promises rather than
// measurements: ssakit loses no finalizer and retries nothing under contention, and the drift
// applier sends nothing at steady state.
func TestRun_AtTinyScaleReportsEveryTableAndWritesTheFile(t *testing.T) {
	out := filepath.Join(t.TempDir(), "bench.md")
	var printed bytes.Buffer
	if err := run(t.Context(), options{scale: 0.02, repeat: 1, out: out}, &printed, io.Discard); err != nil {
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
	if !strings.Contains(report, "make bench BENCH_FLAGS='-scale 0.02 -repeat 1'") {
		t.Errorf("the report does not name the command that produced it:\n%s", report)
	}

	for title, rows := range map[string][]string{
		"Finalizer add and remove latency, one writer":  strategyNames,
		"Bytes sent per finalizer write":                strategyNames,
		"Requests per object lifecycle":                 append(append([]string(nil), strategyNames...), strippedCache),
		"Contention: 8 writers on the same objects":     strategyNames,
		"Steady state: requests per resync":             childrenNames,
		"Cost of the local decision per object":         {"ssa.Applier.WouldChange (drift applier)", "SHA-256 of the request (lower bound of a TTL cache key)"},
		"End to end: the example operator's throughput": {operatorSSAKit, operatorUpdate},
		"kubectl ssakit migrate":                        {"20", "20", "200", "200"},
	} {
		if diff := cmp.Diff(rows, firstColumn(tableRows(report, title))); diff != "" {
			t.Errorf("rows of %q (-want +got):\n%s", title, diff)
		}
	}

	contention := rowOf(tableRows(report, "Contention: 8 writers on the same objects"), strategySSAKit)
	if diff := cmp.Diff([]string{"0", "0", "0", "0", "0"}, contention[1:6]); diff != "" {
		t.Errorf("ssakit under contention: lost, left behind, 409s, retries, failures (-want +got):\n%s", diff)
	}
	steady := rowOf(tableRows(report, "Steady state: requests per resync"), childrenDrift)
	if diff := cmp.Diff([]string{"0.00", "0.00", "0.00", "0.00"}, steady[1:5]); diff != "" {
		t.Errorf("the drift applier's requests per resync: finalizer, status, children, first resync (-want +got):\n%s", diff)
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

func firstColumn(rows [][]string) []string {
	var first []string
	for _, row := range rows {
		first = append(first, row[0])
	}
	return first
}

func rowOf(rows [][]string, name string) []string {
	for _, row := range rows {
		if row[0] == name {
			return row
		}
	}
	return make([]string, 8)
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
