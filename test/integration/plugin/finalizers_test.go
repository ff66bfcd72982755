package plugin

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// finalizerRow is what a test reads of one finalizers -o json entry.
type finalizerRow struct {
	Object      struct{ Name string }
	Finalizer   string
	Owners      []struct{ Manager, Operation string }
	Name        string
	NameProblem string
	Terminating bool
	Stuck       bool
}

// Each finalizer is listed with its owners, its name's standing, and whether its object is
// terminating, and for longer than --stuck-after.
func TestFinalizers_ListsOwnersNameStandingAndStuckObjects(t *testing.T) {
	ns := cluster.Namespace(t)
	legacyFinalizer(t, userWidget(t, ns, "legacy"), cleanup)
	terminating := legacyFinalizer(t, userWidget(t, ns, "terminating"), oldName)
	if err := cluster.Client.Delete(t.Context(), terminating); err != nil {
		t.Fatal(err)
	}
	userWidget(t, ns, "none")

	r := plugin(t, ns, "finalizers", widgets, "--stuck-after", "0s", "-o", "json")

	diff(t, "exit code", 0, r.code)
	var rows []struct {
		finalizerRow
		TerminatingSeconds *int64
	}
	decodeList(t, r.stdout, &rows)
	var got []finalizerRow
	for _, row := range rows {
		row.Terminating = row.TerminatingSeconds != nil
		got = append(got, row.finalizerRow)
	}
	legacyOwner := []struct{ Manager, Operation string }{{legacyManager, "Update"}}
	want := []finalizerRow{
		{Finalizer: cleanup, Owners: legacyOwner, Name: "qualified"},
		{Finalizer: oldName, Owners: legacyOwner, Name: "unqualified", Terminating: true, Stuck: true},
	}
	want[0].Object.Name, want[1].Object.Name = "legacy", "terminating"
	diff(t, "finalizers", want, got, cmpopts.IgnoreFields(finalizerRow{}, "NameProblem"))
	if got[1].NameProblem == "" {
		t.Errorf("an unqualified name says nothing of what is wrong with it")
	}
}

// The text table has one row per finalizer, and a summary on stderr.
func TestFinalizers_PrintsATableAndASummary(t *testing.T) {
	ns := cluster.Namespace(t)
	legacyFinalizer(t, userWidget(t, ns, "legacy"), oldName)
	userWidget(t, ns, "none")

	r := plugin(t, ns, "finalizers", widgets)

	diff(t, "exit code", 0, r.code)
	diff(t, "table", [][]string{
		{"NAMESPACE", "OBJECT", "FINALIZER", "OWNERS", "NAME", "TERMINATING"},
		{ns, "widget.test.ssakit.dev/legacy", oldName, legacyManager, "(Update)", "unqualified"},
	}, table(r.stdout))
	diff(t, "summary", "1 finalizer(s) on 1 of 2 object(s): 1 without a domain-qualified name, 0 stuck\n", r.stderr)
}

// A Namespace stuck Terminating on spec.finalizers (no namespace controller runs here, so
// "kubernetes" stays) is reported stuck, with the command that releases it; that command, run as
// printed through sh with a real kubectl (and nothing else), lets the namespace go.
func TestFinalizers_ReportsANamespaceStuckOnSpecFinalizersAndHowToReleaseIt(t *testing.T) {
	ns := cluster.Namespace(t)
	if err := cluster.Client.Delete(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}

	r := plugin(t, ns, "finalizers", "namespace/"+ns, "--stuck-after", "0s", "-o", "json")

	diff(t, "exit code", 0, r.code)
	var rows []struct {
		Field, Finalizer, Release string
		Stuck                     bool
	}
	decodeList(t, r.stdout, &rows)
	if len(rows) != 1 || rows[0].Field != "spec.finalizers" || rows[0].Finalizer != "kubernetes" || !rows[0].Stuck {
		t.Fatalf("want one stuck spec.finalizers row for kubernetes, got %+v", rows)
	}
	want := "kubectl replace --raw /api/v1/namespaces/" + ns + "/finalize -f -"
	if !strings.HasPrefix(rows[0].Release, "echo '") || !strings.HasSuffix(rows[0].Release, want) || !strings.Contains(rows[0].Release, `"spec":{"finalizers":[]}`) {
		t.Errorf("release command %q: want an echo of the Namespace with no spec.finalizers piped to %q", rows[0].Release, want)
	}
	want = rows[0].Release

	text := plugin(t, ns, "finalizers", "namespace/"+ns, "--stuck-after", "0s")
	if !strings.Contains(text.stderr, want) || !strings.Contains(text.stderr, "skips") {
		t.Errorf("the text output gives no release command and no warning:\n%s", text.stderr)
	}

	release(t, ns, rows[0].Release)
	gone := &corev1.Namespace{}
	if err := cluster.Client.Get(t.Context(), client.ObjectKey{Name: ns}, gone); !apierrors.IsNotFound(err) {
		t.Errorf("the namespace is still there after its release command: %v, finalizers %v", err, gone.Spec.Finalizers)
	}
}

// An object terminating for longer than --stuck-after with a name no controller releases gets the
// exact kubectl command that releases it, and the command works.
func TestFinalizers_GivesTheCommandThatReleasesAStuckFinalizer(t *testing.T) {
	ns := cluster.Namespace(t)
	stuck := legacyFinalizer(t, userWidget(t, ns, "stuck"), oldName)
	legacyFinalizer(t, stuck, cleanup)
	if err := cluster.Client.Delete(t.Context(), stuck); err != nil {
		t.Fatal(err)
	}

	r := plugin(t, ns, "finalizers", widgets+"/stuck", "--stuck-after", "0s", "-o", "json")

	diff(t, "exit code", 0, r.code)
	var rows []struct{ Finalizer, Release string }
	decodeList(t, r.stdout, &rows)
	diff(t, "release commands", []struct{ Finalizer, Release string }{
		{oldName, `kubectl patch widget.test.ssakit.dev/stuck -n ` + ns + ` --type=json -p '[{"op":"test","path":"/metadata/finalizers/0","value":"widget-finalizer"},{"op":"remove","path":"/metadata/finalizers/0"}]'`},
		{cleanup, `kubectl patch widget.test.ssakit.dev/stuck -n ` + ns + ` --type=json -p '[{"op":"test","path":"/metadata/finalizers/1","value":"example.com/cleanup"},{"op":"remove","path":"/metadata/finalizers/1"}]'`},
	}, rows)

	release(t, ns, rows[1].Release)
	diff(t, "finalizers left", []string{oldName}, live(t, key(ns, "stuck")).GetFinalizers())
}

// release runs a command the plugin printed, through sh, with the test cluster's kubeconfig.
func release(t *testing.T, namespace, command string) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "sh", "-c", command)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+cluster.Kubeconfig(t, namespace))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", command, err, out)
	}
}

// -o yaml prints the same kubectl List as -o json, in YAML.
func TestFinalizers_YAMLIsTheJSONList(t *testing.T) {
	ns := cluster.Namespace(t)
	legacyFinalizer(t, userWidget(t, ns, "legacy"), cleanup)

	asJSON := plugin(t, ns, "finalizers", widgets, "-o", "json")
	asYAML := plugin(t, ns, "finalizers", widgets, "-o", "yaml")

	diff(t, "exit codes", []int{0, 0}, []int{asJSON.code, asYAML.code})
	converted, err := yaml.YAMLToJSON([]byte(asYAML.stdout))
	if err != nil {
		t.Fatalf("%v:\n%s", err, asYAML.stdout)
	}
	var fromJSON, fromYAML map[string]any
	if err := json.Unmarshal([]byte(asJSON.stdout), &fromJSON); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(converted, &fromYAML); err != nil {
		t.Fatal(err)
	}
	diff(t, "the YAML list", fromJSON, fromYAML, cmpopts.IgnoreMapEntries(func(k string, _ any) bool { return k == "terminatingSeconds" }))
	diff(t, "kind", "List", fromYAML["kind"])
}
