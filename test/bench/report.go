package main

import (
	"fmt"
	"io"
	"strings"
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
