package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// mutant is one plausible defect: a small change to one file, what a maintainer could get wrong
// in making it, and the suites that should catch it.
type mutant struct {
	id          string
	file        string // relative to the repository root
	why         string
	suites      []suite
	original    string
	replacement string
	line        int // where the mutant starts in the list, for errors
}

// suite is one `go test` run: a package and, optionally, a -run regexp.
type suite struct {
	pkg string
	run string
}

func (s suite) String() string {
	if s.run == "" {
		return s.pkg
	}
	return s.pkg + " -run " + s.run
}

// idPattern is what a mutant's id may look like: it is typed on command lines (MUTANTS=...).
var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// parseList reads the list format (see mutants.txt): a mutant starts with "== id", then the
// lines "file:", "why:" and one "test:" per suite, then "--- original" and "+++ mutant", each
// followed by its lines verbatim up to the next marker; blank lines at the end of a snippet are
// not part of it. Lines before the first "==" that start with "#" are comments.
func parseList(r io.Reader) ([]mutant, error) {
	p := &parser{}
	scanner := bufio.NewScanner(r)
	for n := 1; scanner.Scan(); n++ {
		if err := p.line(n, scanner.Text()); err != nil {
			return nil, err
		}
	}
	if err := scanner.Err(); err != nil {
		return nil, err
	}
	if err := p.finish(); err != nil {
		return nil, err
	}
	return p.mutants, nil
}

// parser holds what parseList has read so far.
type parser struct {
	mutants    []mutant
	cur        *mutant
	snippet    *[]string // the snippet being read, or nil
	orig, repl []string
}

// line reads line n of the list.
func (p *parser) line(n int, line string) error {
	switch {
	case strings.HasPrefix(line, "== "):
		if err := p.finish(); err != nil {
			return err
		}
		p.cur, p.snippet, p.orig, p.repl = &mutant{id: strings.TrimSpace(line[3:]), line: n}, nil, nil, nil
	case p.cur == nil && (strings.HasPrefix(line, "#") || strings.TrimSpace(line) == ""):
	case p.cur == nil:
		return fmt.Errorf("line %d: %q before the first mutant (a mutant starts with \"== id\"; comments start with \"#\")", n, line)
	case line == "--- original":
		p.snippet = &p.orig
	case line == "+++ mutant":
		p.snippet = &p.repl
	case p.snippet != nil:
		*p.snippet = append(*p.snippet, line)
	default:
		if err := p.cur.header(line); err != nil {
			return fmt.Errorf("line %d: mutant %s: %w", n, p.cur.id, err)
		}
	}
	return nil
}

// finish checks the mutant being read, if any, and adds it to the list.
func (p *parser) finish() error {
	if p.cur == nil {
		return nil
	}
	p.cur.original, p.cur.replacement = joinSnippet(p.orig), joinSnippet(p.repl)
	if err := p.cur.check(); err != nil {
		return err
	}
	p.mutants = append(p.mutants, *p.cur)
	return nil
}

// header reads one "key: value" line of a mutant's header.
func (m *mutant) header(line string) error {
	key, value, ok := strings.Cut(line, ":")
	value = strings.TrimSpace(value)
	switch {
	case strings.TrimSpace(line) == "":
		return nil
	case !ok:
		return fmt.Errorf("%q is neither a header (file:, why:, test:) nor a snippet marker (--- original, +++ mutant)", line)
	case key == "file":
		m.file = value
	case key == "why":
		m.why = value
	case key == "test":
		pkg, rest, _ := strings.Cut(value, " ")
		rest = strings.TrimSpace(rest)
		run, ok := strings.CutPrefix(rest, "-run ")
		if rest != "" && !ok {
			return fmt.Errorf("test: %q: after the package, only -run and a regexp", value)
		}
		if _, err := regexp.Compile(run); err != nil {
			return fmt.Errorf("test: %q: %w", value, err)
		}
		m.suites = append(m.suites, suite{pkg: pkg, run: strings.TrimSpace(run)})
	default:
		return fmt.Errorf("unknown header %q (file:, why:, test:)", key)
	}
	return nil
}

// check refuses a mutant that is incomplete or changes nothing.
func (m *mutant) check() error {
	switch {
	case !idPattern.MatchString(m.id):
		return fmt.Errorf("line %d: mutant id %q: use lower-case letters, digits and dashes", m.line, m.id)
	case m.file == "" || m.why == "" || len(m.suites) == 0:
		return fmt.Errorf("line %d: mutant %s needs a file, a why and at least one test line", m.line, m.id)
	case strings.TrimSpace(m.original) == "":
		return fmt.Errorf("line %d: mutant %s has no original snippet (--- original)", m.line, m.id)
	case m.original == m.replacement:
		return fmt.Errorf("line %d: mutant %s changes nothing: its replacement is its original", m.line, m.id)
	}
	return nil
}

// joinSnippet joins a snippet's lines, without the blank lines at its end.
func joinSnippet(lines []string) string {
	for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
		lines = lines[:len(lines)-1]
	}
	return strings.Join(lines, "\n")
}

// mutate returns the content of m.file under root with m applied. The original snippet must occur
// exactly once, or the list no longer says what it meant to.
func (m *mutant) mutate(root string) ([]byte, error) {
	content, err := os.ReadFile(filepath.Join(root, m.file))
	if err != nil {
		return nil, fmt.Errorf("mutant %s: %w", m.id, err)
	}
	if n := strings.Count(string(content), m.original); n != 1 {
		return nil, fmt.Errorf("mutant %s: its original snippet occurs %d times in %s, not once: the code moved; update the mutant in test/mutants/mutants.txt", m.id, n, m.file)
	}
	return []byte(strings.Replace(string(content), m.original, m.replacement, 1)), nil
}
