package main_test

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"
	. "github.com/onsi/gomega"
)

// vetTool is the ssakit-vet binary TestMain builds for every test.
var vetTool string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "ssakit-vet")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	vetTool = filepath.Join(dir, "ssakit-vet")
	if out, err := exec.Command("go", "build", "-o", vetTool, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building ssakit-vet: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// finding is one line of ssakit-vet's output, with the file's base name: go vet writes paths
// relative to the working directory, the standalone checker absolute ones.
type finding struct {
	File    string
	Line    int
	Column  int
	Message string
}

var findingLine = regexp.MustCompile(`^(.+\.go):(\d+):(\d+): (.*)$`)

// findings reads the findings in output, in file and position order; go vet's "# package" lines
// are left out, and any other line fails the test.
func findings(t *testing.T, output []byte) []finding {
	t.Helper()
	var found []finding
	for line := range bytes.Lines(output) {
		line = bytes.TrimSuffix(line, []byte("\n"))
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		m := findingLine.FindSubmatch(line)
		if m == nil {
			t.Fatalf("unexpected output line: %s\noutput:\n%s", line, output)
		}
		lineNo, _ := strconv.Atoi(string(m[2]))
		column, _ := strconv.Atoi(string(m[3]))
		found = append(found, finding{File: filepath.Base(string(m[1])), Line: lineNo, Column: column, Message: string(m[4])})
	}
	slices.SortFunc(found, func(a, b finding) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
	return found
}

// modes run ssakit-vet on packages the two ways it is meant to be run, and return its output and
// exit code.
var modes = []struct {
	name string
	run  func(packages ...string) *exec.Cmd
	// exitFindings is the exit code when something was found: go vet's 1, the checker's 3.
	exitFindings int
}{
	{name: "go vet -vettool", exitFindings: 1, run: func(packages ...string) *exec.Cmd {
		return exec.Command("go", append([]string{"vet", "-vettool=" + vetTool}, packages...)...)
	}},
	{name: "standalone", exitFindings: 3, run: func(packages ...string) *exec.Cmd {
		return exec.Command(vetTool, packages...)
	}},
}

func runVet(t *testing.T, cmd *exec.Cmd) (output []byte, exitCode int) {
	t.Helper()
	output, err := cmd.CombinedOutput()
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		return output, exitErr.ExitCode()
	case err != nil:
		t.Fatalf("running %s: %v", cmd, err)
	}
	return output, 0
}

// kubebuilderNoPath is FinalizerName's finding where the kubebuilder controller adds its
// finalizer.
const kubebuilderNoPath = `finalizer name "storage.finalizers.tutorial.kubebuilder.io" has no path: ` +
	`custom resources get a warning each time it is added (metadata.finalizers: "storage.finalizers.tutorial.kubebuilder.io": ` +
	`prefer a domain-qualified finalizer name including a path (/) to avoid accidental conflicts with other finalizer writers) ` +
	`and built-in types refuse it; use a domain-qualified name such as example.com/cleanup, and ssa.FinalizerOptions.FormerNames to migrate live objects`

func TestKubebuilderControllerFindings(t *testing.T) {
	const useSSA = "use ssa.Finalizer (github.com/ssakit/ssakit/pkg/ssa), which applies only this finalizer, with a field manager of its own, " +
		"and migrate live objects with ssa.FinalizerOptions{TakeOverLegacy: true} or kubectl ssakit migrate"
	const file = "guestbook_controller.go"
	const ownedByUpdate = "Update records the finalizer under an Update field-manager entry, which an apply cannot release later " +
		"(ssa-semantics row 3, https://github.com/ssakit/ssakit/blob/main/docs/ssa-semantics.md#ownership-of-metadatafinalizers); "
	// The name is reported where it is added only: ContainsFinalizer and RemoveFinalizer deal
	// with a name already on objects.
	want := []finding{
		{file, 45, 4, "controllerutil.AddFinalizer on guestbook, written with r.Update (line 46): " + ownedByUpdate + useSSA},
		{file, 45, 43, kubebuilderNoPath},
		{file, 55, 4, "controllerutil.RemoveFinalizer on guestbook, written with r.Update (line 56): " + ownedByUpdate + useSSA},
	}
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			g := NewWithT(t)
			output, code := runVet(t, mode.run("./testdata/kubebuilder"))
			if diff := gocmp.Diff(want, findings(t, output)); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
			g.Expect(code).To(Equal(mode.exitFindings), string(output))
		})
	}
}

// The example operator's controller is built on ssakit. (Its demo, which plays the operator's
// previous release, adds a finalizer with AddFinalizer and Update on purpose.)
func TestExampleOperatorControllerHasNoFindings(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			g := NewWithT(t)
			output, code := runVet(t, mode.run("github.com/ssakit/ssakit/example/operator/controller"))
			g.Expect(findings(t, output)).To(BeEmpty())
			g.Expect(code).To(Equal(0), string(output))
		})
	}
}

// A test file's fixtures are reported, unless each analyzer's tests flag leaves them out, the
// way docs/vet.md tells go vet users to.
func TestTestsFlagsLeaveOutTestFiles(t *testing.T) {
	leaveOut := []string{"-finalizerupdate.tests=false", "-finalizername.tests=false", "-typedapply.tests=false"}
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			g := NewWithT(t)
			output, code := runVet(t, mode.run("./testdata/testfiles"))
			g.Expect(findings(t, output)).To(HaveLen(2), string(output))
			g.Expect(code).To(Equal(mode.exitFindings), string(output))

			output, code = runVet(t, mode.run(append(leaveOut, "./testdata/testfiles")...))
			g.Expect(findings(t, output)).To(BeEmpty())
			g.Expect(code).To(Equal(0), string(output))
		})
	}
}

// A helper's fact crosses packages both ways: go vet passes it from helper's run to caller's in
// a file, the standalone checker in memory.
func TestHelperInAnotherPackageIsFollowed(t *testing.T) {
	want := []finding{{"caller.go", 14, 5, "helper.EnsureFinalizer changes the finalizers of cm, written with c.Update (line 15): "}}
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			g := NewWithT(t)
			output, code := runVet(t, mode.run("./testdata/caller"))
			got := findings(t, output)
			for i := range got {
				got[i].Message = got[i].Message[:min(len(got[i].Message), len(want[0].Message))]
			}
			if diff := gocmp.Diff(want, got); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
			g.Expect(code).To(Equal(mode.exitFindings), string(output))
		})
	}
}

// The end-to-end tests run on the very controller whose want comments analysistest checks
// against stubs: only this copy compiles against the real controller-runtime.
func TestKubebuilderControllerIsTheOneAnalysistestChecks(t *testing.T) {
	g := NewWithT(t)
	stubbed := filepath.Join("..", "..", "pkg", "vet", "testdata", "src", "kubebuilder")
	stubbedFiles, err := filepath.Glob(filepath.Join(stubbed, "*.go"))
	g.Expect(err).NotTo(HaveOccurred())
	realFiles, err := filepath.Glob(filepath.Join("testdata", "kubebuilder", "*.go"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(baseNames(realFiles)).To(Equal(baseNames(stubbedFiles)))
	for _, name := range stubbedFiles {
		want, err := os.ReadFile(name)
		g.Expect(err).NotTo(HaveOccurred())
		got, err := os.ReadFile(filepath.Join("testdata", "kubebuilder", filepath.Base(name)))
		g.Expect(err).NotTo(HaveOccurred())
		if diff := gocmp.Diff(string(want), string(got)); diff != "" {
			t.Errorf("testdata/kubebuilder/%s differs from %s (-want +got):\n%s", filepath.Base(name), name, diff)
		}
	}
}

func baseNames(paths []string) []string {
	names := make([]string, len(paths))
	for i, p := range paths {
		names[i] = filepath.Base(p)
	}
	return names
}
