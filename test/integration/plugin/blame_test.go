package plugin

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/ssakit/ssakit/pkg/ssa"
)

// blame prints what ssa.Blame prints for the live object: every field, its value, its owners.
func TestBlame_PrintsEveryFieldWithItsValueAndOwners(t *testing.T) {
	ns := cluster.Namespace(t)
	legacyFinalizer(t, userWidget(t, ns, "blamed"), cleanup)

	r := plugin(t, ns, "blame", widgets, "blamed")

	diff(t, "exit code", 0, r.code)
	want, err := ssa.Blame(live(t, key(ns, "blamed")))
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "output", want, r.stdout)
	for _, line := range []string{
		`.spec.color                                   "green"  kubectl (Apply)`,
		`.metadata.finalizers[="example.com/cleanup"]           legacy-operator (Update)`,
	} {
		if !strings.Contains(r.stdout, line) {
			t.Errorf("the output has no line %q:\n%s", line, r.stdout)
		}
	}
}

// -o json gives each field its path, its value as JSON, and its owners' manager, operation and
// subresource.
func TestBlame_JSONGivesEachFieldItsOwners(t *testing.T) {
	ns := cluster.Namespace(t)
	userWidget(t, ns, "blamed")

	r := plugin(t, ns, "blame", widgets, "blamed", "-o", "json")

	diff(t, "exit code", 0, r.code)
	var objects []struct {
		Object struct{ Kind, Namespace, Name string }
		Fields []struct {
			Path   string
			Value  any
			Owners []struct{ Manager, Operation, Subresource string }
		}
	}
	decodeList(t, r.stdout, &objects)
	if len(objects) != 1 {
		t.Fatalf("want one object, got %d:\n%s", len(objects), r.stdout)
	}
	out := objects[0]
	diff(t, "object", struct{ Kind, Namespace, Name string }{"Widget", ns, "blamed"}, out.Object)
	var color any
	var owners []struct{ Manager, Operation, Subresource string }
	for _, f := range out.Fields {
		if f.Path == ".spec.color" {
			color, owners = f.Value, f.Owners
		}
	}
	diff(t, ".spec.color", "green", color)
	diff(t, "owners of .spec.color", []struct{ Manager, Operation, Subresource string }{{"kubectl", "Apply", ""}}, owners)
}

// An object that does not exist is an error: exit code 2, and kubectl's message.
func TestBlame_OfAMissingObjectExitsTwo(t *testing.T) {
	r := plugin(t, cluster.Namespace(t), "blame", widgets, "missing")

	diff(t, "exit code", 2, r.code)
	if !strings.Contains(r.stderr, `"missing" not found`) {
		t.Errorf("stderr does not say the object was not found:\n%s", r.stderr)
	}
}

// blame takes TYPE/NAME, and several objects, each blame under its object's name.
func TestBlame_TakesTypeSlashNameAndSeveralObjects(t *testing.T) {
	ns := cluster.Namespace(t)
	userWidget(t, ns, "one")
	legacyFinalizer(t, userWidget(t, ns, "two"), cleanup)

	r := plugin(t, ns, "blame", "widget.test.ssakit.dev/one", widgets+"/two")

	diff(t, "exit code", 0, r.code)
	var want strings.Builder
	for _, name := range []string{"one", "two"} {
		text, err := ssa.Blame(live(t, key(ns, name)))
		if err != nil {
			t.Fatal(err)
		}
		want.WriteString("==> " + "widget.test.ssakit.dev/" + name + " -n " + ns + " <==\n" + text)
	}
	diff(t, "output", want.String(), r.stdout)
}

// A key holding dots and a slash, the label the API server puts on every Namespace, is printed as
// kubectl's JSONPath takes it: pasted into kubectl get -o jsonpath='{PATH}', the path prints the
// label's value.
func TestBlame_PrintsALabelPathKubectlReadsBack(t *testing.T) {
	ns := namespaceWithAppliedNameLabel(t)

	r := plugin(t, ns, "blame", "namespace", ns)

	diff(t, "exit code", 0, r.code)
	var path string
	for _, row := range table(r.stdout) {
		if len(row) > 1 && row[1] == strconv.Quote(ns) {
			path = row[0]
		}
	}
	diff(t, "the label's path", `.metadata.labels.kubernetes\.io/metadata\.name`, path)
	jsonPath := "{" + path + "}"
	out, err := exec.CommandContext(t.Context(), "kubectl", "get", "namespace", ns, "-o", "jsonpath="+jsonPath, "--kubeconfig", cluster.Kubeconfig(t, ns)).CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl get namespace %s -o jsonpath='%s': %v\n%s", ns, jsonPath, err, out)
	}
	diff(t, "kubectl get namespace -o jsonpath='"+jsonPath+"'", ns, string(out))
}

// -o json and -o yaml give the label the path the text gives it.
func TestBlame_JSONAndYAMLEscapeTheLabelPathAsTextDoes(t *testing.T) {
	ns := namespaceWithAppliedNameLabel(t)

	asJSON := plugin(t, ns, "blame", "namespace/"+ns, "-o", "json")
	asYAML := plugin(t, ns, "blame", "namespace/"+ns, "-o", "yaml")

	diff(t, "exit codes", []int{0, 0}, []int{asJSON.code, asYAML.code})
	converted, err := yaml.YAMLToJSON([]byte(asYAML.stdout))
	if err != nil {
		t.Fatalf("%v:\n%s", err, asYAML.stdout)
	}
	for format, out := range map[string]string{"json": asJSON.stdout, "yaml": string(converted)} {
		var objects []struct {
			Fields []struct {
				Path  string
				Value any
			}
		}
		decodeList(t, out, &objects)
		var paths []string
		for _, o := range objects {
			for _, f := range o.Fields {
				if f.Value == ns {
					paths = append(paths, f.Path)
				}
			}
		}
		diff(t, "-o "+format+": the label's path", []string{`.metadata.labels.kubernetes\.io/metadata\.name`}, paths)
	}
}

// namespaceWithAppliedNameLabel is a test namespace whose kubernetes.io/metadata.name label a user
// applied, with the value the API server gives it: the server sets the label after it records
// managedFields, so no manager owns it until someone applies it.
func namespaceWithAppliedNameLabel(t *testing.T) string {
	t.Helper()
	ns := cluster.Namespace(t)
	config := corev1ac.Namespace(ns).WithLabels(map[string]string{corev1.LabelMetadataName: ns})
	if err := cluster.Client.Apply(t.Context(), config, client.FieldOwner(userManager)); err != nil {
		t.Fatal(err)
	}
	return ns
}
