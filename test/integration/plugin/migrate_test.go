package plugin

import (
	"fmt"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	ctrlclient "sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ssakit/ssakit/internal/testcluster"
	"github.com/ssakit/ssakit/pkg/ssa"
)

// finalizerManager is the field manager of the controller's cleanup finalizer.
var finalizerManager = ssa.FinalizerFieldOwner("widgets", cleanup)

// migrationFixture is a namespace with one Widget of each kind migrate meets: a finalizer a
// legacy Update added, a finalizer under its former name, a terminating object under the former name,
// and an object without a finalizer.
func migrationFixture(t *testing.T) string {
	t.Helper()
	ns := cluster.Namespace(t)
	legacyFinalizer(t, userWidget(t, ns, "a-update"), cleanup)
	legacyFinalizer(t, userWidget(t, ns, "b-renamed"), oldName)
	terminating := legacyFinalizer(t, userWidget(t, ns, "c-terminating"), oldName)
	if err := cluster.Client.Delete(t.Context(), terminating); err != nil {
		t.Fatal(err)
	}
	userWidget(t, ns, "d-unprotected")
	return ns
}

var migrateArgs = []string{"migrate", widgets, "--controller", "widgets", "--finalizer", cleanup, "--former-name", oldName}

// Why the fixture's objects are left alone.
const (
	keptTerminating = `it is terminating: the server refuses new finalizers (docs/ssa-semantics.md row 12), so it keeps "widget-finalizer" until its cleanup is done and the controller's Remove releases it`
	keptNeither     = `it carries neither "example.com/cleanup" nor a former name of it: there is nothing to migrate, and the controller adds the finalizer to the objects it manages`
)

// The expected lines: each changed object's, in the order kubectl lists them (by name), then one
// for the objects left alone.
func migrationLines(ns string) []string {
	object := func(name string) string { return "widget.test.ssakit.dev/" + name + " -n " + ns }
	return []string{
		object("a-update") + `: apply "example.com/cleanup", take "example.com/cleanup" over from "legacy-operator"`,
		object("b-renamed") + `: put "example.com/cleanup" on, release "widget-finalizer"`,
		"2 object(s) unchanged (--show-unchanged lists them): 1: " + keptTerminating + "; 1: " + keptNeither,
	}
}

// --dry-run writes nothing, and says per object what the migration would do.
func TestMigrate_DryRunChangesNothingAndSaysWhatWouldChange(t *testing.T) {
	ns := migrationFixture(t)
	before := map[string]string{}
	for _, name := range []string{"a-update", "b-renamed", "c-terminating", "d-unprotected"} {
		before[name] = live(t, key(ns, name)).GetResourceVersion()
	}

	r := plugin(t, ns, append(migrateArgs, "--dry-run")...)

	diff(t, "exit code", 0, r.code)
	var want []string
	for _, line := range migrationLines(ns) {
		want = append(want, "(dry run) "+line)
	}
	diff(t, "output", want, strings.Split(strings.TrimSpace(r.stdout), "\n"))
	diff(t, "stderr", `(dry run) migrating finalizer "example.com/cleanup" to field manager "widgets/finalizer/example.com/cleanup" on 4 object(s)
(dry run) 4/4 objects: 2 would change, 2 unchanged, 0 failed
`, r.stderr)
	for name, version := range before {
		diff(t, name+"'s resourceVersion", version, live(t, key(ns, name)).GetResourceVersion())
	}
}

// The migration does what the dry run said: the finalizer is owned by its manager alone, under
// its new name; the user's spec, the terminating object's former name and the unprotected object
// are as they were.
func TestMigrate_MovesTheFinalizersAsTheDryRunSaid(t *testing.T) {
	ns := migrationFixture(t)

	r := plugin(t, ns, migrateArgs...)

	diff(t, "exit code", 0, r.code)
	diff(t, "output", migrationLines(ns), strings.Split(strings.TrimSpace(r.stdout), "\n"))
	for _, name := range []string{"a-update", "b-renamed"} {
		obj := live(t, key(ns, name))
		ownership, err := ssa.ParseOwnership(obj.GetManagedFields())
		if err != nil {
			t.Fatal(err)
		}
		diff(t, name+": finalizers", []string{cleanup}, obj.GetFinalizers())
		diff(t, name+": owners of the finalizer", []string{finalizerManager}, ownership.Owners(ssa.FinalizerPath(cleanup)))
		diff(t, name+": what the user owns", []string{".spec.color"}, testcluster.FieldPaths(ownership.FieldsOf(userManager)))
		color, _, _ := unstructured.NestedString(obj.Object, "spec", "color")
		diff(t, name+": spec.color", "green", color)
	}
	diff(t, "the terminating object's finalizers", []string{oldName}, live(t, key(ns, "c-terminating")).GetFinalizers())
	diff(t, "the unprotected object's finalizers", []string(nil), live(t, key(ns, "d-unprotected")).GetFinalizers())

	again := plugin(t, ns, migrateArgs...)
	diff(t, "a second run's summary", "4/4 objects: 0 changed, 4 unchanged, 0 failed", lastLine(again.stderr))
	// The legacy controller wrote nothing but the finalizer: once migrated, blame names it nowhere.
	for _, name := range []string{"a-update", "b-renamed"} {
		blame := plugin(t, ns, "blame", widgets, name)
		diff(t, name+": blame's exit code", 0, blame.code)
		if strings.Contains(blame.stdout, legacyManager) {
			t.Errorf("blame of the migrated %s names %s:\n%s", name, legacyManager, blame.stdout)
		}
	}
}

// Without --controller the command cannot know the finalizer's field manager, and says so.
func TestMigrate_WithoutAControllerSaysWhatIsMissing(t *testing.T) {
	r := plugin(t, cluster.Namespace(t), "migrate", widgets, "--finalizer", cleanup)

	diff(t, "exit code", 2, r.code)
	if !strings.Contains(r.stderr, "--controller NAME") {
		t.Errorf("stderr does not name the missing flag:\n%s", r.stderr)
	}
}

// A finalizer name the server would warn on is refused before anything is read.
func TestMigrate_RefusesAnUnqualifiedFinalizerName(t *testing.T) {
	r := plugin(t, cluster.Namespace(t), "migrate", widgets, "--controller", "widgets", "--finalizer", oldName)

	diff(t, "exit code", 2, r.code)
	if !strings.Contains(r.stderr, "domain-qualified") {
		t.Errorf("stderr does not say what is wrong with the name:\n%s", r.stderr)
	}
}

// On long runs a progress line goes to stderr (here after every object).
func TestMigrate_PrintsProgressOnStderr(t *testing.T) {
	ns := migrationFixture(t)

	r := plugin(t, ns, append(migrateArgs, "--progress-every", "0s")...)

	diff(t, "exit code", 0, r.code)
	diff(t, "progress", []string{
		"1/4 objects: 1 changed, 0 unchanged, 0 failed",
		"2/4 objects: 2 changed, 0 unchanged, 0 failed",
		"3/4 objects: 2 changed, 1 unchanged, 0 failed",
		"4/4 objects: 2 changed, 2 unchanged, 0 failed",
	}, strings.Split(strings.TrimSpace(r.stderr), "\n")[1:])
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// A name that cannot be read does not stop the others: they are migrated, and the exit code is 2
// with the error on stderr.
func TestMigrate_CarriesOnPastAnObjectThatCannotBeRead(t *testing.T) {
	ns := migrationFixture(t)

	r := plugin(t, ns, "migrate", widgets, "a-update", "missing", "b-renamed", "--controller", "widgets", "--finalizer", cleanup, "--former-name", oldName)

	diff(t, "exit code", 2, r.code)
	diff(t, "output", migrationLines(ns)[:2], strings.Split(strings.TrimSpace(r.stdout), "\n"))
	if !strings.Contains(r.stderr, `"missing" not found`) {
		t.Errorf("stderr does not name the object that could not be read:\n%s", r.stderr)
	}
	diff(t, "a-update's finalizers", []string{cleanup}, live(t, key(ns, "a-update")).GetFinalizers())
}

// --concurrency migrates several objects at once and still prints one line per object in the
// order kubectl lists them; --qps and --burst are taken. Every object ends up migrated.
func TestMigrate_ConcurrentlyKeepsTheListedOrder(t *testing.T) {
	ns := cluster.Namespace(t)
	var want []string
	for i := range 24 {
		name := fmt.Sprintf("w-%02d", i)
		legacyFinalizer(t, userWidget(t, ns, name), cleanup)
		want = append(want, "widget.test.ssakit.dev/"+name+" -n "+ns+`: apply "example.com/cleanup", take "example.com/cleanup" over from "legacy-operator"`)
	}

	r := plugin(t, ns, "migrate", widgets, "--controller", "widgets", "--finalizer", cleanup, "--concurrency", "6", "--qps", "200", "--burst", "200")

	diff(t, "exit code", 0, r.code)
	diff(t, "output", want, strings.Split(strings.TrimSpace(r.stdout), "\n"))
	diff(t, "summary", "24/24 objects: 24 changed, 0 unchanged, 0 failed", lastLine(r.stderr))
	for i := range 24 {
		obj := live(t, key(ns, fmt.Sprintf("w-%02d", i)))
		ownership, err := ssa.ParseOwnership(obj.GetManagedFields())
		if err != nil {
			t.Fatal(err)
		}
		diff(t, obj.GetName()+": owners of the finalizer", []string{finalizerManager}, ownership.Owners(ssa.FinalizerPath(cleanup)))
	}
}

// --show-unchanged gives each object left alone its lines, as before.
func TestMigrate_ShowUnchangedListsTheObjectsLeftAlone(t *testing.T) {
	ns := migrationFixture(t)

	r := plugin(t, ns, append(migrateArgs, "--dry-run", "--show-unchanged")...)

	diff(t, "exit code", 0, r.code)
	object := func(name string) string { return "(dry run) " + "widget.test.ssakit.dev/" + name + " -n " + ns }
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) < 2 {
		t.Fatalf("want the changed objects' lines first, got:\n%s", r.stdout)
	}
	diff(t, "lines of the objects left alone", []string{
		object("c-terminating") + ": unchanged",
		object("c-terminating") + ":   kept: " + keptTerminating,
		object("d-unprotected") + ": unchanged",
		object("d-unprotected") + ":   kept: " + keptNeither,
	}, lines[2:])
}

// --dry-run=server sends the real writes with dryRun=All: the lines are the real run's, and
// nothing changes.
func TestMigrate_ServerDryRunSaysWhatTheRealRunDoesAndChangesNothing(t *testing.T) {
	ns := migrationFixture(t)
	before := map[string]string{}
	for _, name := range []string{"a-update", "b-renamed", "c-terminating", "d-unprotected"} {
		before[name] = live(t, key(ns, name)).GetResourceVersion()
	}

	r := plugin(t, ns, append(migrateArgs, "--dry-run=server")...)

	diff(t, "exit code", 0, r.code)
	var want []string
	for _, line := range migrationLines(ns) {
		want = append(want, "(server dry run) "+line)
	}
	diff(t, "output", want, strings.Split(strings.TrimSpace(r.stdout), "\n"))
	diff(t, "summary", "(server dry run) 4/4 objects: 2 would change, 2 unchanged, 0 failed", lastLine(r.stderr))
	for name, version := range before {
		diff(t, name+"'s resourceVersion", version, live(t, key(ns, name)).GetResourceVersion())
	}
}

// A user who may read the objects but not patch them: the client-side dry run cannot know, the
// server dry run fails as the real run would, and the error names the missing permission instead
// of advising to run again.
func TestMigrate_ServerDryRunCatchesAMissingPermission(t *testing.T) {
	ns := migrationFixture(t)
	reader := readOnlyUser(t, ns)

	client := plugin(t, ns, append(migrateArgs, "--dry-run", "--as", reader)...)
	diff(t, "client dry run's exit code", 0, client.code)

	for _, mode := range []string{"--dry-run=server", "--dry-run=none"} {
		r := plugin(t, ns, append(migrateArgs, mode, "--as", reader)...)

		diff(t, mode+": exit code", 2, r.code)
		last := lastLine(r.stderr)
		for _, want := range []string{"403", `cannot patch resource "widgets"`, "kubectl auth can-i patch"} {
			if !strings.Contains(last, want) {
				t.Errorf("%s: the error does not say %q:\n%s", mode, want, last)
			}
		}
		if strings.Contains(last, "run the command again") {
			t.Errorf("%s: the error advises to run again:\n%s", mode, last)
		}
	}
	diff(t, "a-update's owners", []string{legacyManager}, owners(t, ns, "a-update", cleanup))
}

// readOnlyUser is a user, for --as, who may get and list Widgets in namespace, and nothing else.
func readOnlyUser(t *testing.T, namespace string) string {
	t.Helper()
	name := "reader-" + namespace
	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "widget-reader"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{testcluster.WidgetGVK.Group}, Resources: []string{"widgets"}, Verbs: []string{"get", "list"}}},
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "widget-reader"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: name}},
	}
	for _, obj := range []ctrlclient.Object{role, binding} {
		if err := cluster.Client.Create(t.Context(), obj); err != nil {
			t.Fatal(err)
		}
	}
	// The API server's authorizer sees a new binding a moment after it is created.
	config := rest.CopyConfig(cluster.Config)
	config.Impersonate = rest.ImpersonationConfig{UserName: name}
	as := cluster.ClientFor(t, config)
	NewWithT(t).Eventually(func() error {
		return as.List(t.Context(), &testcluster.WidgetList{}, ctrlclient.InNamespace(namespace))
	}).WithTimeout(30*time.Second).WithPolling(100*time.Millisecond).Should(Succeed(), "the reader's Role is in force")
	return name
}

// owners are the managers of finalizer on the Widget name.
func owners(t *testing.T, namespace, name, finalizer string) []string {
	t.Helper()
	ownership, err := ssa.ParseOwnership(live(t, key(namespace, name)).GetManagedFields())
	if err != nil {
		t.Fatal(err)
	}
	return ownership.Owners(ssa.FinalizerPath(finalizer))
}

// --allow-unqualified-name migrates a finalizer whose current name has no domain: its item is
// taken over from the legacy writer.
func TestMigrate_AllowUnqualifiedNameMigratesAFinalizerWithoutADomain(t *testing.T) {
	ns := cluster.Namespace(t)
	legacyFinalizer(t, userWidget(t, ns, "w"), oldName)

	r := plugin(t, ns, "migrate", widgets, "--controller", "widgets", "--finalizer", oldName, "--allow-unqualified-name")

	diff(t, "exit code", 0, r.code)
	diff(t, "output", "widget.test.ssakit.dev/w -n "+ns+`: apply "widget-finalizer", take "widget-finalizer" over from "legacy-operator"`, strings.TrimSpace(r.stdout))
	diff(t, "owners", []string{ssa.FinalizerFieldOwner("widgets", oldName)}, owners(t, ns, "w", oldName))
}

// After a migration, every managedFields entry of a migrated object carries its time: the
// finalizer manager's entry too.
func TestMigrate_EveryEntryKeepsItsTime(t *testing.T) {
	ns := migrationFixture(t)

	r := plugin(t, ns, migrateArgs...)

	diff(t, "exit code", 0, r.code)
	for _, name := range []string{"a-update", "b-renamed"} {
		for _, e := range live(t, key(ns, name)).GetManagedFields() {
			if e.Time == nil {
				t.Errorf("%s: the entry of %s (%s) has no time", name, e.Manager, e.Operation)
			}
		}
	}
}
