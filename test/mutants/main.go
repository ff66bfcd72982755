// Command mutants is the project's mutation test: it applies each plausible defect listed in
// test/mutants/mutants.txt to pkg/ssa or pkg/reconcile, one at a time, and runs the suites that
// should catch it. `make mutants` runs it from the repository's root:
//
//	go run ./test/mutants               # every mutant
//	MUTANTS=id1,id2 go run ./test/mutants
//	go run ./test/mutants -check        # each snippet occurs once and each mutant compiles; no test runs
//	go run ./test/mutants -list other.txt
//
// The working tree is never edited: the mutated file is written to a temporary directory and
// replaces the original at build time through `go test -overlay` (cmd/go's build overlay). The
// suites of a mutant run in the order listed (cheapest first), each with -count=1 -failfast, and
// stop at the first that fails: the mutant is killed by the test that failed. The first time a
// suite fails it runs once more without any mutant, and must pass there, or the tree is broken
// and nothing it says counts. A mutant that does not compile, or whose original snippet no
// longer occurs exactly once, is an error in the list, never counted as killed. A suite that times out kills the mutant, with a note. The integration
// suites run against the control plane `make controlplane` built, the proof at CI's size (its
// defaults: PROOF_SEQUENCES and PROOF_STEPS are removed from the suites' environment).
//
// It prints one line per mutant and "mutants: K of N killed in Ts"; it exits non-zero when a
// mutant survived or the list has an error. MUTANTS_VERBOSE=1 prints the output of the suite
// that killed each mutant too.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/ssakit/ssakit/internal/controlplane"
)

// listFile is the list of mutants, relative to the repository root.
const listFile = "test/mutants/mutants.txt"

// suiteTimeout is the -timeout of each suite: longer than any package of CI's takes.
const suiteTimeout = "15m"

func main() {
	check := flag.Bool("check", false, "only check that each mutant's snippet occurs once and that it compiles; run no test")
	list := flag.String("list", listFile, "the list of mutants, relative to the repository root or absolute")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Stdout, *list, *check)
	stop()
	os.Exit(code)
}

// verdict is how one mutant fared.
type verdict int

const (
	killed verdict = iota
	survived
	listError
	checked // -check: it applies and compiles
)

// result is one mutant's verdict and what decided it.
type result struct {
	verdict verdict
	by      string // the suite and test that killed it, or the error
	note    string
	output  string // of the suite that decided it
}

func run(ctx context.Context, out io.Writer, list string, checkOnly bool) int {
	root, err := controlplane.RepositoryRoot()
	if err != nil {
		fmt.Fprintln(out, "mutants:", err)
		return 2
	}
	if !filepath.IsAbs(list) {
		list = filepath.Join(root, list)
	}
	mutants, err := load(list, os.Getenv("MUTANTS"))
	if err != nil {
		fmt.Fprintln(out, "mutants:", err)
		return 2
	}
	tmp, err := os.MkdirTemp("", "ssakit-mutants-")
	if err != nil {
		fmt.Fprintln(out, "mutants:", err)
		return 2
	}
	defer os.RemoveAll(tmp)
	verbose := os.Getenv("MUTANTS_VERBOSE") != ""
	baseline := map[suite]result{}
	start := time.Now()
	counts := map[verdict]int{}
	var survivors, errored []string
	for i, m := range mutants {
		began := time.Now()
		r := m.run(ctx, root, filepath.Join(tmp, fmt.Sprint(i)), checkOnly, baseline)
		counts[r.verdict]++
		fmt.Fprintln(out, r.line(m, time.Since(began)))
		switch {
		case r.verdict == survived:
			survivors = append(survivors, m.id)
		case r.verdict == listError:
			errored = append(errored, m.id)
			fmt.Fprintln(out, indent(r.output))
		case verbose:
			fmt.Fprintln(out, indent(r.output))
		}
		if ctx.Err() != nil {
			fmt.Fprintln(out, "mutants: interrupted")
			return 2
		}
	}
	if checkOnly {
		fmt.Fprintf(out, "mutants: %d of %d apply and compile (no test was run) in %s\n", counts[checked], len(mutants), time.Since(start).Round(time.Second))
	} else {
		fmt.Fprintf(out, "mutants: %d of %d killed in %s\n", counts[killed], len(mutants), time.Since(start).Round(time.Second))
	}
	if len(survivors) > 0 {
		fmt.Fprintf(out, "mutants: survived: %s; each is a defect no test catches: write the test that kills it (or, for a mutant that changes no behaviour, replace it in %s)\n", strings.Join(survivors, ", "), listFile)
	}
	if len(errored) > 0 {
		fmt.Fprintf(out, "mutants: errors in the list: %s; fix them in %s\n", strings.Join(errored, ", "), listFile)
	}
	if len(survivors)+len(errored) > 0 {
		return 1
	}
	return 0
}

// load reads the list and keeps the mutants ids names (comma-separated; all when empty).
func load(listFile, ids string) ([]mutant, error) {
	f, err := os.Open(listFile)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	all, err := parseList(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", listFile, err)
	}
	seen := map[string]bool{}
	for _, m := range all {
		if seen[m.id] {
			return nil, fmt.Errorf("%s: mutant %s is listed twice", listFile, m.id)
		}
		seen[m.id] = true
	}
	if ids == "" {
		return all, nil
	}
	var chosen []mutant
	for id := range strings.SplitSeq(ids, ",") {
		id = strings.TrimSpace(id)
		if id == "" {
			continue
		}
		i := slices.IndexFunc(all, func(m mutant) bool { return m.id == id })
		if i < 0 {
			return nil, fmt.Errorf("MUTANTS names %q, which %s does not list", id, listFile)
		}
		chosen = append(chosen, all[i])
	}
	return chosen, nil
}

// run applies m through an overlay in dir and runs its suites until one fails.
// A suite that fails kills the mutant only when it passes without it: the first time a suite
// fails, it runs again on the tree as it is, and the answer is kept in baseline.
func (m *mutant) run(ctx context.Context, root, dir string, checkOnly bool, baseline map[suite]result) result {
	overlay, err := m.overlay(root, dir)
	if err != nil {
		return result{verdict: listError, by: err.Error()}
	}
	// Compile the mutated package alone first: a mutant that does not build is the list's error,
	// and this says so in seconds.
	pkg := "./" + filepath.ToSlash(filepath.Dir(m.file))
	if output, err := goCommand(ctx, root, "build", "-overlay="+overlay, pkg); err != nil {
		return result{verdict: listError, by: "it does not compile: fix the replacement", output: output}
	}
	if checkOnly {
		return result{verdict: checked}
	}
	for _, s := range m.suites {
		r := runSuite(ctx, root, overlay, s)
		if r.verdict == survived {
			continue
		}
		if r.verdict == killed {
			if _, ok := baseline[s]; !ok {
				baseline[s] = runSuite(ctx, root, "", s)
			}
			if b := baseline[s]; b.verdict != survived {
				return result{verdict: listError, by: s.String() + " fails without the mutant too (" + b.by + "): fix the tree first", output: b.output}
			}
		}
		return r
	}
	return result{verdict: survived}
}

// runSuite runs s with overlay (none when empty): survived when it passes.
func runSuite(ctx context.Context, root, overlay string, s suite) result {
	args := []string{"test", "-count=1", "-failfast", "-timeout=" + suiteTimeout}
	if overlay != "" {
		args = append(args, "-overlay="+overlay)
	}
	if s.run != "" {
		args = append(args, "-run", s.run)
	}
	output, err := goCommand(ctx, root, append(args, s.pkg)...)
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return result{verdict: survived}
	case ctx.Err() != nil:
		return result{verdict: listError, by: "interrupted"}
	case !errors.As(err, &exitErr):
		return result{verdict: listError, by: err.Error()}
	}
	return judge(s, output)
}

// overlay writes the mutated file and the overlay that puts it in place of the original, and
// returns the overlay's path.
func (m *mutant) overlay(root, dir string) (string, error) {
	content, err := m.mutate(root)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	mutated := filepath.Join(dir, filepath.Base(m.file))
	if err := os.WriteFile(mutated, content, 0o644); err != nil {
		return "", err
	}
	raw, err := json.Marshal(map[string]map[string]string{"Replace": {filepath.Join(root, m.file): mutated}})
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "overlay.json")
	return path, os.WriteFile(path, raw, 0o644)
}

var (
	failedTest = regexp.MustCompile(`(?m)^--- FAIL: (\S+)`)
	panicIn    = regexp.MustCompile(`(?m)^panic: .*`)
	buildError = regexp.MustCompile(`(?m)\[(build|setup) failed\]`)
)

// judge returns the verdict of a suite that failed with output.
func judge(s suite, output string) result {
	switch {
	case buildError.MatchString(output):
		return result{verdict: listError, by: s.String() + " does not compile with it: fix the replacement", output: output}
	case strings.Contains(output, "panic: test timed out"):
		return result{verdict: killed, by: s.String(), note: "timed out after " + suiteTimeout + ": the mutant hangs a test", output: output}
	}
	if match := failedTest.FindStringSubmatch(output); match != nil {
		return result{verdict: killed, by: s.pkg + " " + match[1], output: output}
	}
	if match := panicIn.FindString(output); match != "" {
		return result{verdict: killed, by: s.String(), note: match, output: output}
	}
	return result{verdict: killed, by: s.String(), note: "the suite failed without a failing test (see MUTANTS_VERBOSE=1)", output: output}
}

// line renders r as the one line printed for m.
func (r result) line(m mutant, took time.Duration) string {
	word := map[verdict]string{killed: "killed", survived: "SURVIVED", listError: "ERROR", checked: "ok"}[r.verdict]
	text := fmt.Sprintf("%-8s %-36s %6.1fs", word, m.id, took.Seconds())
	switch r.verdict {
	case killed:
		text += "  by " + r.by
	case survived:
		text += "  (" + m.file + ": " + m.why + ")"
	case listError:
		text += "  " + r.by
	}
	if r.note != "" {
		text += " (" + r.note + ")"
	}
	return text
}

// goCommand runs the go command in root and returns its combined output. The proof's size
// variables are removed, so that the proof runs at CI's size.
func goCommand(ctx context.Context, root string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "PROOF_SEQUENCES=") || strings.HasPrefix(kv, "PROOF_STEPS=")
	})
	output, err := cmd.CombinedOutput()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		err = fmt.Errorf("running go %s: %w", strings.Join(args, " "), err)
	}
	return string(output), err
}

// indent indents output under a mutant's line.
func indent(output string) string {
	output = strings.TrimRight(output, "\n")
	if output == "" {
		return ""
	}
	return "    " + strings.ReplaceAll(output, "\n", "\n    ")
}
