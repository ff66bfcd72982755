// Package gettingstarted runs docs/getting-started.md as a new user would: every command of the
// guide, in order, in an empty temporary directory, with every file it shows written where it
// says, so that the test fails when the guide and kubebuilder, ssakit or the code it shows drift
// apart. It sits under test/integration, not docs/, because it needs what the integration tests
// need (the control plane, for the guide's envtest run; bin/kubebuilder-*) and takes minutes:
// `make test` runs it once, and test-fieldsv1string, which runs the packages outside test/, does
// not run it again.
//
// # The guide's blocks
//
// Every fenced block of the guide is one of these, by its info string; any other (an indented
// fence, one without an info string, ```bash, a ```go without a title) fails the test, so nothing
// in the guide escapes it:
//
//	```sh                  commands, run by bash with -euo pipefail, each block after the one
//	                       before, as in one terminal: it starts in the directory, and with the
//	                       exported variables, that the previous block ended with.
//	```go title="path"     a whole file, written at path, relative to that directory; a Go file
//	                       must be gofmt'd. Any language but sh and diff with a title is a file.
//	```diff title="path"   an edit of a file already there (one the scaffold made): each hunk
//	                       starts with an @@ line, whose numbers, if any, are ignored; its ' ' and
//	                       '-' lines must occur in the file exactly once, in order, and are
//	                       replaced by its ' ' and '+' lines (see applyEdit).
//	```text output         what the previous sh block prints: each of its lines must be a line of
//	                       that output (spaces around ignored).
//
// # Substitutions
//
// Three, each of one line of the guide that must occur in its sh blocks exactly once (or the test
// fails, so the list cannot go stale); the guide's source says so in an HTML comment next to each:
//
//   - `go install sigs.k8s.io/kubebuilder/v4@v4.16.0` becomes `kubebuilder version`: the
//     kubebuilder on PATH is bin/kubebuilder-v4.16.0, built by `make kubebuilder` from the pinned
//     module hack/kubebuilder, and checked to report v4.16.0 before the guide starts.
//   - `go get github.com/ssakit/ssakit` becomes a `go mod edit -replace` of the module to this
//     repository, then a `go get` of it: the test checks the guide against the code beside it,
//     and ssakit is not on the Go module proxy.
//   - `export KUBEBUILDER_ASSETS=$HOME/ssakit/bin/controlplane/1.37.2` names the control plane the
//     other integration tests use (internal/controlplane.AssetsDir: KUBEBUILDER_ASSETS if set,
//     otherwise bin/controlplane/$KUBE_VERSION).
//
// Otherwise the commands run as written, with the test's environment: the Go module and build
// caches are this machine's, so the scaffold's downloads (its Go modules, the controller-gen
// v0.22.0 it pins and builds into its bin/, which differs from the project's v0.23.0) are
// reused from one run to the next; only KUBEBUILDER_ASSETS is removed, for the guide to set.
package gettingstarted

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"go/format"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ssakit/ssakit/internal/controlplane"
)

// KubebuilderVersion is the kubebuilder release the guide installs. It must match
// KUBEBUILDER_VERSION in the Makefile, the sigs.k8s.io/kubebuilder/v4 version in
// hack/kubebuilder/go.mod, and the guide.
const KubebuilderVersion = "v4.16.0"

// guidePath is the guide, relative to the repository root.
const guidePath = "docs/getting-started.md"

// substitution replaces one line of the guide's sh blocks with what the test runs instead.
type substitution struct {
	guide, run string
}

func substitutions(root, assets string) []substitution {
	return []substitution{
		{guide: "go install sigs.k8s.io/kubebuilder/v4@" + KubebuilderVersion, run: "kubebuilder version"},
		{
			guide: "go get github.com/ssakit/ssakit",
			run: "go mod edit -replace=github.com/ssakit/ssakit=" + shellQuote(root) +
				" && go get github.com/ssakit/ssakit@v0.0.0-00010101000000-000000000000",
		},
		{
			guide: "export KUBEBUILDER_ASSETS=$HOME/ssakit/bin/controlplane/" + controlplane.DefaultKubeVersion,
			run:   "export KUBEBUILDER_ASSETS=" + shellQuote(assets),
		},
	}
}

func TestGettingStarted(t *testing.T) {
	root, err := controlplane.RepositoryRoot()
	if err != nil {
		t.Fatal(err)
	}
	// A missing binary fails the test, as a missing control plane does: never a silent skip.
	kubebuilder, err := findKubebuilder(root)
	if err != nil {
		t.Fatal(err)
	}
	assets, err := controlplane.AssetsDir()
	if err != nil {
		t.Fatal(err)
	}
	markdown, err := os.ReadFile(filepath.Join(root, guidePath))
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := parseBlocks(string(markdown))
	if err != nil {
		t.Fatalf("%s: %v", guidePath, err)
	}
	if err := substitute(blocks, substitutions(root, assets)); err != nil {
		t.Fatalf("%s: %v", guidePath, err)
	}

	tools := t.TempDir()
	if err := os.Symlink(kubebuilder, filepath.Join(tools, "kubebuilder")); err != nil {
		t.Fatal(err)
	}
	sh := newTerminal(t, tools)
	for _, b := range blocks {
		var err error
		switch b.kind {
		case shell:
			err = sh.run(b)
		case file:
			err = writeFile(filepath.Join(sh.dir, b.path), b)
		case edit:
			err = editFile(filepath.Join(sh.dir, b.path), b)
		case output:
			err = checkOutput(sh.output, b)
		}
		if err != nil {
			t.Fatalf("%s:%d: %v", guidePath, b.line, err)
		}
	}
}

// substitute makes the substitutions in the sh blocks; each guide line must occur exactly once.
func substitute(blocks []block, subs []substitution) error {
	for _, s := range subs {
		found := 0
		for i := range blocks {
			if blocks[i].kind != shell {
				continue
			}
			lines := strings.Split(blocks[i].text, "\n")
			for j, line := range lines {
				if strings.TrimSpace(line) == s.guide {
					lines[j] = s.run
					found++
				}
			}
			blocks[i].text = strings.Join(lines, "\n")
		}
		if found != 1 {
			return fmt.Errorf("the substituted line %q occurs %d times in sh blocks, not once: change the guide or the test's substitutions together", s.guide, found)
		}
	}
	return nil
}

// terminal runs sh blocks one after the other as in one terminal: each starts in the directory,
// and with the exported environment, the previous one ended with.
type terminal struct {
	t     *testing.T
	dir   string
	env   []string
	state string
	// output is what the last block printed, stdout and stderr together.
	output string
}

func newTerminal(t *testing.T, tools string) *terminal {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "KUBEBUILDER_ASSETS=")
	})
	for i, kv := range env {
		if path, ok := strings.CutPrefix(kv, "PATH="); ok {
			env[i] = "PATH=" + tools + string(os.PathListSeparator) + path
		}
	}
	return &terminal{t: t, dir: t.TempDir(), env: env, state: filepath.Join(t.TempDir(), "state")}
}

// run runs a sh block and keeps its directory and environment for the next; a failing command
// is an error that shows the block and the end of its output.
func (s *terminal) run(b block) error {
	script := "set -euo pipefail\n" + b.text +
		"\npwd > " + shellQuote(s.state+".dir") + "\nenv -0 > " + shellQuote(s.state+".env") + "\n"
	ctx, cancel := s.context()
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script)
	cmd.Dir, cmd.Env = s.dir, s.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// The block's processes (a go test, the kube-apiserver and etcd it starts) go with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	start := time.Now()
	err := cmd.Run()
	s.output = out.String()
	s.t.Logf("%s:%d: %s (%s)", guidePath, b.line, firstLine(b.text), time.Since(start).Round(100*time.Millisecond))
	if err != nil {
		return fmt.Errorf("the block failed: %w\n--- block\n%s--- output (the last 150 lines)\n%s", err, b.text, lastLines(s.output, 150))
	}
	dir, err := os.ReadFile(s.state + ".dir")
	if err != nil {
		return err
	}
	env, err := os.ReadFile(s.state + ".env")
	if err != nil {
		return err
	}
	s.dir = strings.TrimSpace(string(dir))
	s.env = strings.Split(strings.TrimSuffix(string(env), "\x00"), "\x00")
	return nil
}

// context ends a block a minute before the test's deadline, so that its failure is reported
// with its output instead of by the test binary's panic.
func (s *terminal) context() (context.Context, context.CancelFunc) {
	if deadline, ok := s.t.Deadline(); ok {
		return context.WithDeadline(s.t.Context(), deadline.Add(-time.Minute))
	}
	return context.WithCancel(s.t.Context())
}

// writeFile writes a file block; a Go file must be gofmt'd, as the user's editor would make it.
func writeFile(path string, b block) error {
	if filepath.Ext(path) == ".go" {
		formatted, err := format.Source([]byte(b.text))
		if err != nil {
			return fmt.Errorf("%s does not parse: %w", b.path, err)
		}
		if !bytes.Equal(formatted, []byte(b.text)) {
			return fmt.Errorf("%s is not gofmt'd (tabs for indentation, gofmt's alignment)", b.path)
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(b.text), 0o644)
}

// editFile applies an edit block to the file at path.
func editFile(path string, b block) error {
	content, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("editing %s: %w", b.path, err)
	}
	edited, err := applyEdit(string(content), b.text)
	if err != nil {
		return fmt.Errorf("editing %s: %w", b.path, err)
	}
	return os.WriteFile(path, []byte(edited), 0o644)
}

// checkOutput checks that each line of an output block is a line of the previous sh block's
// output.
func checkOutput(got string, b block) error {
	lines := map[string]bool{}
	for line := range strings.Lines(got) {
		lines[strings.TrimSpace(line)] = true
	}
	for line := range strings.Lines(b.text) {
		if want := strings.TrimSpace(line); want != "" && !lines[want] {
			return fmt.Errorf("the previous block printed no line %q; it printed:\n%s", want, lastLines(got, 50))
		}
	}
	return nil
}

// findKubebuilder returns bin/kubebuilder-<KubebuilderVersion>, or an error that says to run
// `make kubebuilder`.
func findKubebuilder(root string) (string, error) {
	path := filepath.Join(root, "bin", "kubebuilder-"+KubebuilderVersion)
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("no kubebuilder %s at %s: run `make kubebuilder` to build it from hack/kubebuilder (under a minute the first time)", KubebuilderVersion, path)
	}
	out, err := exec.Command(path, "version").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("running %s version: %w\n%s", path, err, out)
	}
	// The version comes from the module's build info, as with go install.
	if !strings.Contains(string(out), "KubeBuilder:") || !strings.Contains(string(out), " "+KubebuilderVersion+"\n") {
		return "", fmt.Errorf("%s does not report version %s:\n%s\ndelete it and run `make kubebuilder`", path, KubebuilderVersion, out)
	}
	return path, nil
}

// shellQuote quotes s for bash, in single quotes.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}

func lastLines(s string, n int) string {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n") + "\n"
}
