package docs_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// semanticsDoc is the contract, relative to this package.
const semanticsDoc = "ssa-semantics.md"

var (
	// rowLine is a table row of the contract: "| 12 | ...".
	rowLine = regexp.MustCompile(`^\| (\d+) \|`)
	// testName is a test named in backquotes.
	testName = regexp.MustCompile("`(Test\\w+)`")
	// citation is "row 3", "rows 3 and 4", "rows 9 to 11", "rows 1, 2", "rows 8–13, 15".
	citation   = regexp.MustCompile(`\b[Rr]ows? (\d+(?:(?:, | and | to |–)\d+)*)`)
	citedRange = regexp.MustCompile(`(\d+)(?:( to |–)(\d+))?`)
	testFunc   = regexp.MustCompile(`(?m)^func (Test\w+)\(`)
	// testLink is a named test linked to its file: [`TestX`](../path/x_test.go).
	testLink = regexp.MustCompile("\\[`(Test\\w+)`\\]\\(\\.\\./([^)]+)\\)")
)

// rows returns the contract's rows, each with the tests it names.
func rows(t *testing.T) map[int][]string {
	t.Helper()
	raw, err := os.ReadFile(semanticsDoc)
	if err != nil {
		t.Fatal(err)
	}
	rows := map[int][]string{}
	for line := range strings.SplitSeq(string(raw), "\n") {
		m := rowLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		n, _ := strconv.Atoi(m[1])
		if _, dup := rows[n]; dup {
			t.Errorf("%s: row %d appears twice", semanticsDoc, n)
		}
		rows[n] = []string{}
		for _, name := range testName.FindAllStringSubmatch(line, -1) {
			rows[n] = append(rows[n], name[1])
		}
	}
	return rows
}

// sources returns the module's Go and Markdown files, by path relative to the module root.
func sources(t *testing.T) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "bin" || strings.HasPrefix(d.Name(), ".")) && path != ".." {
			return filepath.SkipDir
		}
		if d.IsDir() || (!strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, ".md")) {
			return nil
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files[filepath.ToSlash(strings.TrimPrefix(path, "../"))] = string(raw)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// citedRows expands a citation's list of rows.
func citedRows(list string) []int {
	var out []int
	for _, m := range citedRange.FindAllStringSubmatch(list, -1) {
		first, _ := strconv.Atoi(m[1])
		last := first
		if m[3] != "" {
			last, _ = strconv.Atoi(m[3])
		}
		for n := first; n <= last; n++ {
			out = append(out, n)
		}
	}
	return out
}

func TestSemantics_EveryCitedRowExists(t *testing.T) {
	rows := rows(t)
	for path, text := range sources(t) {
		if path == "docs/"+semanticsDoc {
			continue
		}
		for i, line := range strings.Split(text, "\n") {
			for _, m := range citation.FindAllStringSubmatch(line, -1) {
				for _, n := range citedRows(m[1]) {
					if _, ok := rows[n]; !ok {
						t.Errorf("%s:%d cites row %d, which docs/%s does not have", path, i+1, n, semanticsDoc)
					}
				}
			}
		}
	}
}

func TestSemantics_EveryTestARowNamesExists(t *testing.T) {
	defined := map[string]bool{}
	for path, text := range sources(t) {
		if strings.HasSuffix(path, "_test.go") {
			for _, m := range testFunc.FindAllStringSubmatch(text, -1) {
				defined[m[1]] = true
			}
		}
	}
	rows := rows(t)
	for _, n := range slices.Sorted(func(yield func(int) bool) {
		for n := range rows {
			if !yield(n) {
				return
			}
		}
	}) {
		if len(rows[n]) == 0 {
			t.Errorf("docs/%s row %d names no test that pins it", semanticsDoc, n)
		}
		for _, name := range rows[n] {
			if !defined[name] {
				t.Errorf("docs/%s row %d names %s, which no test file defines", semanticsDoc, n, name)
			}
		}
	}
}

// A row links each test it names to its file, so a reader gets from the row to the test in one
// click; the link must lead to the file that defines the test.
func TestSemantics_EveryTestLinkLeadsToItsFile(t *testing.T) {
	raw, err := os.ReadFile(semanticsDoc)
	if err != nil {
		t.Fatal(err)
	}
	links := testLink.FindAllStringSubmatch(string(raw), -1)
	if len(links) == 0 {
		t.Fatalf("docs/%s links no test", semanticsDoc)
	}
	files := sources(t)
	for _, m := range links {
		if !regexp.MustCompile(`(?m)^func ` + m[1] + `\(`).MatchString(files[m[2]]) {
			t.Errorf("docs/%s links %s to %s, which does not define it", semanticsDoc, m[1], m[2])
		}
	}
}

// The contract used to live outside the repository, as SSA-SEMANTICS.md; every citation now
// points into it.
func TestSemantics_CitationsNameTheFileInTheRepository(t *testing.T) {
	for path, text := range sources(t) {
		for i, line := range strings.Split(text, "\n") {
			if strings.Contains(line, "SSA-SEMANTICS") && path != "docs/semantics_test.go" {
				t.Errorf("%s:%d cites SSA-SEMANTICS; cite docs/%s row N", path, i+1, semanticsDoc)
			}
		}
	}
}

// exampleName is an Example function named in backquotes.
var exampleName = regexp.MustCompile("`(Example\\w+)`")

// The tour points at runnable Examples by name; each must exist.
func TestTour_EveryExampleItNamesExists(t *testing.T) {
	defined := map[string]bool{}
	for path, text := range sources(t) {
		if strings.HasSuffix(path, "_test.go") {
			for _, m := range regexp.MustCompile(`(?m)^func (Example\w+)\(`).FindAllStringSubmatch(text, -1) {
				defined[m[1]] = true
			}
		}
	}
	raw, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	named := exampleName.FindAllStringSubmatch(string(raw), -1)
	if len(named) == 0 {
		t.Fatal("docs/README.md names no Example")
	}
	for _, m := range named {
		if !defined[m[1]] {
			t.Errorf("docs/README.md names %s, which no test file defines", m[1])
		}
	}
}
