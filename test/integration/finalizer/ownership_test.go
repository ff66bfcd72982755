package finalizer

import (
	"errors"
	"slices"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/ssakit/ssakit/internal/testcluster"
	"github.com/ssakit/ssakit/pkg/ssa"
)

const statusManager = controller

// A live Widget after a user created it, the Finalizer added its finalizer, the controller applied
// status, and a legacy controller added a finalizer with Update.
func liveStory(t *testing.T) *unstructured.Unstructured {
	t.Helper()
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	obj := typedWidget.create(t, ns, "story")
	g.Expect(newFinalizer(t, cluster.Client, cleanup, ssa.FinalizerOptions{}).Add(t.Context(), obj)).Error().To(Succeed())
	status := widgetConfig(ns, "story")
	status.Object["status"] = map[string]any{"phase": "Ready"}
	g.Expect(cluster.Client.Status().Apply(t.Context(), client.ApplyConfigurationFromUnstructured(status), client.FieldOwner(statusManager))).To(Succeed())
	addByUpdate(t.Context(), t, typedWidget.get(t, obj), legacyManager, "example.com/legacy")
	return live(t, testcluster.WidgetGVK, obj)
}

func widgetConfig(namespace, name string) *unstructured.Unstructured {
	config := &unstructured.Unstructured{}
	config.SetGroupVersionKind(testcluster.WidgetGVK)
	config.SetNamespace(namespace)
	config.SetName(name)
	return config
}

func TestOwnership_OfALiveObject(t *testing.T) {
	g := NewWithT(t)
	obj := liveStory(t)

	o, err := ssa.ParseOwnership(obj.GetManagedFields())

	g.Expect(err).NotTo(HaveOccurred())
	var managers []string
	var entries []ssa.Entry // the status manager's
	for _, e := range o.Entries {
		managers = append(managers, e.Manager)
		if e.Manager == statusManager {
			entries = append(entries, e)
		}
	}
	slices.Sort(managers)
	diff(t, "managers", []string{legacyManager, userManager, controller, finalizerManager}, slices.Compact(managers))
	diff(t, "owners of the finalizer", []string{finalizerManager}, o.Owners(ssa.FinalizerPath(cleanup)))
	diff(t, "owners of spec.color", []string{userManager}, o.Owners(fieldpath.MakePathOrDie("spec", "color")))
	g.Expect(entries).To(HaveLen(1))
	diff(t, "status entry", "widgets (Apply, status): .status.phase", entries[0].String()+": "+strings.Join(testcluster.FieldPaths(entries[0].Fields), ", "))
	g.Expect(o.CheckNoOverlap(userManager, statusManager, finalizerManager)).To(Succeed())
}

func TestBlame_OfALiveObject(t *testing.T) {
	g := NewWithT(t)
	obj := liveStory(t)

	out, err := ssa.Blame(obj)

	g.Expect(err).NotTo(HaveOccurred())
	var got []string
	for line := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
		got = append(got, strings.Join(strings.Fields(line), " "))
	}
	g.Expect(got).To(ContainElements(
		`.metadata.finalizers[="example.com/cleanup"] widgets/finalizer/example.com/cleanup (Apply)`,
		`.metadata.finalizers[="example.com/legacy"] legacy-operator (Update)`,
		`.spec.color "blue" user (Update)`,
		`.status.phase "Ready" widgets (Apply, status)`,
	))
}

// The causes of a real 409 name the manager that owns each conflicting field.
func TestFromApplyError_ParsesARealApplyConflict(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	typedWidget.create(t, ns, "conflict")
	config := widgetConfig(ns, "conflict")
	config.Object["spec"] = map[string]any{"color": "red", "replicas": int64(3)}
	ref := ssa.ObjectRef{GroupVersionKind: testcluster.WidgetGVK, Namespace: ns, Name: "conflict"}

	err := ssa.FromApplyError(ref, cluster.Client.Apply(t.Context(), client.ApplyConfigurationFromUnstructured(config), client.FieldOwner("intruder")))

	var conflict *ssa.ConflictError
	g.Expect(errors.As(err, &conflict)).To(BeTrue(), "error %v", err)
	diff(t, "conflicts", []ssa.Conflict{
		{Manager: userManager, Path: ".spec.color", Message: `conflict with "user" using test.ssakit.dev/v1`, ByUpdate: true},
		{Manager: userManager, Path: ".spec.replicas", Message: `conflict with "user" using test.ssakit.dev/v1`, ByUpdate: true},
	}, conflict.Conflicts)
	g.Expect(conflict.OnlyByUpdates()).To(BeTrue(), "the user created the Widget with an Update")
}

// A field another manager applied is a conflict with an apply: ByUpdate is false.
func TestFromApplyError_TellsAnAppliedFieldFromAnUpdatedOne(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	typedWidget.create(t, ns, "applied")
	first := widgetConfig(ns, "applied")
	first.Object["spec"] = map[string]any{"color": "green"}
	g.Expect(cluster.Client.Apply(t.Context(), client.ApplyConfigurationFromUnstructured(first), client.FieldOwner("owner"), client.ForceOwnership)).To(Succeed())
	second := widgetConfig(ns, "applied")
	second.Object["spec"] = map[string]any{"color": "red"}
	ref := ssa.ObjectRef{GroupVersionKind: testcluster.WidgetGVK, Namespace: ns, Name: "applied"}

	err := ssa.FromApplyError(ref, cluster.Client.Apply(t.Context(), client.ApplyConfigurationFromUnstructured(second), client.FieldOwner("intruder")))

	conflict, ok := errors.AsType[*ssa.ConflictError](err)
	g.Expect(ok).To(BeTrue(), "error %v", err)
	diff(t, "conflicts", []ssa.Conflict{{Manager: "owner", Path: ".spec.color", Message: `conflict with "owner"`}}, conflict.Conflicts)
	g.Expect(conflict.OnlyByUpdates()).To(BeFalse())
}
