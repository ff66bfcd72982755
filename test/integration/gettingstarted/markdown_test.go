package gettingstarted

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// blockKind is what the test does with a fenced block of the guide.
type blockKind int

const (
	// shell blocks are run.
	shell blockKind = iota
	// file blocks are written, whole.
	file
	// edit blocks are applied to a file as a diff.
	edit
	// output blocks are checked against the previous shell block's output.
	output
)

// block is one fenced block of the guide.
type block struct {
	kind blockKind
	// lang is the info string's first word: sh, go, diff, text, ...
	lang string
	// path is the title of a file or edit block.
	path string
	// line is the guide's line of the opening fence, for messages.
	line int
	// text is the block's content, with a final newline.
	text string
}

// infoString matches a fence's info string: a language, then title="path" or the word output.
var infoString = regexp.MustCompile(`^([a-z]+)(?:\s+title="([^"]+)")?(?:\s+(output))?$`)

// parseBlocks returns the fenced blocks of a Markdown text, refusing any it cannot check: an
// unknown info string, a fence that is indented (inside a list, say) or made of tildes, or one
// never closed.
func parseBlocks(markdown string) ([]block, error) {
	var blocks []block
	var open *block
	for i, line := range strings.Split(markdown, "\n") {
		n := i + 1
		if open != nil {
			if line == "```" {
				blocks = append(blocks, *open)
				open = nil
				continue
			}
			open.text += line + "\n"
			continue
		}
		trimmed := strings.TrimLeft(line, " \t>")
		if strings.HasPrefix(trimmed, "~~~") || (strings.HasPrefix(trimmed, "```") && trimmed != line) {
			return nil, fmt.Errorf("line %d: a fence the test does not read (indented, quoted or ~~~): %q", n, line)
		}
		if !strings.HasPrefix(line, "```") {
			continue
		}
		b, err := newBlock(strings.TrimSpace(strings.TrimPrefix(line, "```")))
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		b.line = n
		open = &b
	}
	if open != nil {
		return nil, fmt.Errorf("line %d: the block is never closed", open.line)
	}
	return blocks, nil
}

// newBlock returns the empty block a fence's info string opens.
func newBlock(info string) (block, error) {
	m := infoString.FindStringSubmatch(info)
	if m == nil {
		return block{}, fmt.Errorf("a block whose info string %q the test cannot check: use sh, a language with title=\"path\", diff with title=\"path\", or text output", info)
	}
	lang, path, isOutput := m[1], m[2], m[3] != ""
	switch {
	case lang == "sh" && path == "" && !isOutput:
		return block{kind: shell, lang: lang}, nil
	case lang == "text" && path == "" && isOutput:
		return block{kind: output, lang: lang}, nil
	case lang == "diff" && path != "" && !isOutput:
		return block{kind: edit, lang: lang, path: path}, nil
	case lang != "sh" && lang != "diff" && path != "" && !isOutput:
		return block{kind: file, lang: lang, path: path}, nil
	}
	return block{}, fmt.Errorf("a block whose info string %q the test cannot check: use sh, a language with title=\"path\", diff with title=\"path\", or text output", info)
}

// applyEdit applies the hunks of an edit block to content. Each hunk starts with a line that
// starts with @@ (the rest, line numbers included, is ignored); its ' ' and '-' lines (an empty
// line is an empty ' ' line) must occur in content exactly once, in that order, and are replaced
// by its ' ' and '+' lines.
func applyEdit(content, diff string) (string, error) {
	lines := strings.Split(content, "\n")
	hunks, err := parseHunks(diff)
	if err != nil {
		return "", err
	}
	for i, h := range hunks {
		at := -1
		for start := 0; start+len(h.old) <= len(lines); start++ {
			if slices.Equal(lines[start:start+len(h.old)], h.old) {
				if at >= 0 {
					return "", fmt.Errorf("hunk %d: its ' ' and '-' lines occur more than once:\n%s", i+1, strings.Join(h.old, "\n"))
				}
				at = start
			}
		}
		if at < 0 {
			return "", fmt.Errorf("hunk %d: its ' ' and '-' lines are not in the file:\n%s", i+1, strings.Join(h.old, "\n"))
		}
		lines = slices.Concat(lines[:at], h.new, lines[at+len(h.old):])
	}
	return strings.Join(lines, "\n"), nil
}

// hunk is one hunk of an edit block: the lines it replaces, and those it puts in their place.
type hunk struct {
	old, new []string
}

func parseHunks(diff string) ([]hunk, error) {
	var hunks []hunk
	for line := range strings.Lines(diff) {
		line = strings.TrimSuffix(line, "\n")
		if strings.HasPrefix(line, "@@") {
			hunks = append(hunks, hunk{})
			continue
		}
		if len(hunks) == 0 {
			return nil, fmt.Errorf("%q comes before the first @@ line", line)
		}
		h := &hunks[len(hunks)-1]
		switch {
		case line == "":
			h.old, h.new = append(h.old, ""), append(h.new, "")
		case line[0] == ' ':
			h.old, h.new = append(h.old, line[1:]), append(h.new, line[1:])
		case line[0] == '-':
			h.old = append(h.old, line[1:])
		case line[0] == '+':
			h.new = append(h.new, line[1:])
		default:
			return nil, fmt.Errorf("%q starts with none of ' ', '-', '+'", line)
		}
	}
	if len(hunks) == 0 {
		return nil, errors.New("no hunk: an edit block starts with an @@ line")
	}
	return hunks, nil
}

func TestParseBlocks(t *testing.T) {
	markdown := "# Guide\n\n```sh\nmkdir x\ncd x\n```\n\n```text output\nok\n```\n\n" +
		"```go title=\"main.go\"\npackage main\n```\n\n```diff title=\"go.mod\"\n@@\n-a\n+b\n```\n"
	got, err := parseBlocks(markdown)
	if err != nil {
		t.Fatal(err)
	}
	want := []block{
		{kind: shell, lang: "sh", line: 3, text: "mkdir x\ncd x\n"},
		{kind: output, lang: "text", line: 8, text: "ok\n"},
		{kind: file, lang: "go", path: "main.go", line: 12, text: "package main\n"},
		{kind: edit, lang: "diff", path: "go.mod", line: 16, text: "@@\n-a\n+b\n"},
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(block{})); diff != "" {
		t.Errorf("parseBlocks (-want +got):\n%s", diff)
	}

	for _, refused := range []string{
		"```\nls\n```\n",                   // no info string
		"```bash\nls\n```\n",               // not sh
		"```go\npackage main\n```\n",       // a Go block without a title is not run
		"- step\n  ```sh\n  ls\n  ```\n",   // indented, in a list
		"~~~sh\nls\n~~~\n",                 // tildes
		"```sh\nls\n",                      // never closed
		"```diff\n@@\n-a\n+b\n```\n",       // an edit of no file
		"```sh title=\"x\"\nls\n```\n",     // sh is never a file
		"```text\nnot checked\n```\n",      // text that is not output
		"```go title=\"a.go\" output\n```", // both
	} {
		if _, err := parseBlocks(refused); err == nil {
			t.Errorf("parseBlocks(%q) did not refuse it", refused)
		}
	}
}

func TestApplyEdit(t *testing.T) {
	content := "package main\n\nimport (\n\t\"fmt\"\n)\n\nfunc main() {\n\tfmt.Println(1)\n}\n"
	tests := []struct {
		name, diff, want, err string
	}{{
		name: "two hunks; an empty line is empty context",
		diff: "@@ -3,3 +3,4 @@\n import (\n \t\"fmt\"\n+\t\"os\"\n )\n@@\n\n func main() {\n-\tfmt.Println(1)\n+\tfmt.Println(len(os.Args))\n",
		want: "package main\n\nimport (\n\t\"fmt\"\n\t\"os\"\n)\n\nfunc main() {\n\tfmt.Println(len(os.Args))\n}\n",
	}, {
		name: "old lines not in the file",
		diff: "@@\n-\tfmt.Println(2)\n+\tfmt.Println(3)\n",
		err:  "are not in the file",
	}, {
		name: "old lines more than once",
		diff: "@@\n \n+// x\n",
		err:  "more than once",
	}, {
		name: "a line before the first hunk",
		diff: " package main\n",
		err:  "before the first @@",
	}, {
		name: "a line that is not a diff line",
		diff: "@@\n*package main\n",
		err:  "starts with none of",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := applyEdit(content, tt.diff)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("applyEdit: error %v, want one saying %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("applyEdit (-want +got):\n%s", diff)
			}
		})
	}
}
