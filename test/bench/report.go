package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// table is one measurement's result, rendered as a markdown section.
type table struct {
	title  string
	intro  string
	header []string
	rows   [][]string
	notes  []string
}

func (t table) write(w io.Writer) {
	fmt.Fprintf(w, "## %s\n\n", t.title)
	if t.intro != "" {
		fmt.Fprintf(w, "%s\n\n", t.intro)
	}
	fmt.Fprintf(w, "| %s |\n", strings.Join(t.header, " | "))
	separators := make([]string, len(t.header))
	for i := range separators {
		separators[i] = "---"
	}
	fmt.Fprintf(w, "|%s|\n", strings.Join(separators, "|"))
	for _, row := range t.rows {
		fmt.Fprintf(w, "| %s |\n", strings.Join(row, " | "))
	}
	for _, note := range t.notes {
		fmt.Fprintf(w, "\n%s\n", note)
	}
	fmt.Fprintln(w)
}

// mergeSizes merges the tables one measurement returned at each of sizes into one set: each
// table gets a first column with the number of objects and the rows of every size in turn. A
// note that differs between sizes is kept for each, after the size it is about. took is how
// long the measurement ran at each size; a last note says so.
func mergeSizes(sizes []size, bySize [][]table, took []time.Duration) []table {
	if len(bySize) == 0 {
		return nil
	}
	merged := make([]table, len(bySize[0]))
	for i := range merged {
		t := bySize[len(bySize)-1][i]
		t.header = append([]string{"objects"}, t.header...)
		t.rows, t.notes = nil, nil
		for k, tables := range bySize {
			for _, row := range tables[i].rows {
				t.rows = append(t.rows, append([]string{thousands(sizes[k].objects)}, row...))
			}
		}
		for n := range bySize[0][i].notes {
			var differ bool
			for _, tables := range bySize[1:] {
				differ = differ || n >= len(tables[i].notes) || tables[i].notes[n] != bySize[0][i].notes[n]
			}
			if !differ {
				t.notes = append(t.notes, bySize[0][i].notes[n])
				continue
			}
			t.notes = append(t.notes, noteBySize(sizes, bySize, i, n))
		}
		if i == len(merged)-1 {
			t.notes = append(t.notes, tookNote(sizes, took))
		}
		merged[i] = t
	}
	return merged
}

// noteBySize is note n of table i when it differs between sizes: the sentences that differ, after
// the size they are about, then the sentences every size's note ends with.
func noteBySize(sizes []size, bySize [][]table, i, n int) string {
	var notes []string
	for _, tables := range bySize {
		if n < len(tables[i].notes) {
			notes = append(notes, tables[i].notes[n])
		}
	}
	common := commonSentences(notes)
	var parts []string
	for k, tables := range bySize {
		if n < len(tables[i].notes) {
			parts = append(parts, fmt.Sprintf("At %s objects: %s", thousands(sizes[k].objects), strings.TrimSuffix(tables[i].notes[n], common)))
		}
	}
	if common != "" {
		parts = append(parts, strings.TrimSpace(common))
	}
	return strings.Join(parts, " ")
}

// commonSentences is the longest run of whole sentences every note ends with, with the space
// before it.
func commonSentences(notes []string) string {
	if len(notes) == 0 {
		return ""
	}
	first := notes[0]
	for start := 0; start < len(first); {
		next := strings.Index(first[start:], ". ")
		if next < 0 {
			return ""
		}
		start += next + 1
		suffix := first[start:]
		shared := true
		for _, note := range notes[1:] {
			shared = shared && strings.HasSuffix(note, suffix)
		}
		if shared {
			return suffix
		}
	}
	return ""
}

// tookNote says how long a measurement ran at each size.
func tookNote(sizes []size, took []time.Duration) string {
	parts := make([]string, len(took))
	for k, d := range took {
		parts[k] = fmt.Sprintf("%s at %s objects", d.Round(time.Second), thousands(sizes[k].objects))
	}
	return "Measured in " + strings.Join(parts, ", ") + "."
}

// thousands writes n with a comma between each group of three digits: 10,000.
func thousands(n int) string {
	digits := strconv.Itoa(n)
	var out strings.Builder
	for i, d := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			out.WriteByte(',')
		}
		out.WriteRune(d)
	}
	return out.String()
}
