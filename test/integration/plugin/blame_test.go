package plugin

import (
	"strings"
	"testing"

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
