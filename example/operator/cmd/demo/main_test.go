package main

import (
	"errors"
	"flag"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// -h lists the demo's own flags, and not controller-runtime's -kubeconfig, which its
// pkg/client/config registers on flag.CommandLine and the demo never reads.
func TestParseFlags_HelpListsOnlyTheDemosFlags(t *testing.T) {
	var out strings.Builder

	_, err := parseFlags([]string{"-h"}, &out)

	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: want flag.ErrHelp, got %v", err)
	}
	var listed []string
	for line := range strings.Lines(out.String()) {
		if strings.HasPrefix(line, "  -") {
			listed = append(listed, strings.Fields(line)[0])
		}
	}
	if d := cmp.Diff([]string{"-keep", "-v"}, listed); d != "" {
		t.Errorf("flags -h lists (-want +got):\n%s\n%s", d, out.String())
	}
	if strings.Contains(out.String(), "-kubeconfig") {
		t.Errorf("-h lists -kubeconfig:\n%s", out.String())
	}
}

// The demo's flags reach run.
func TestParseFlags_ReadsTheDemosFlags(t *testing.T) {
	got, err := parseFlags([]string{"-v", "-keep", "/tmp/kubeconfig"}, &strings.Builder{})

	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(options{verbose: true, keep: "/tmp/kubeconfig"}, got, cmp.AllowUnexported(options{})); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}
