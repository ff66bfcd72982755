package reconcile

import (
	"errors"
	"net/http"
	"testing"

	. "github.com/onsi/gomega"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ssakit/ssakit/internal/testcluster"
	ssareconcile "github.com/ssakit/ssakit/pkg/reconcile"
	"github.com/ssakit/ssakit/pkg/ssa"
)

// Status applies with answers without managedFields (KEP-5958, docs/ssa-semantics.md row 32),
// and on objects whose managedFields were dropped (kubernetes#136919; row 24).

// clientWithoutManagedFields returns an admin client whose answers carry no managedFields and that
// records its requests, and w read through it.
func clientWithoutManagedFields(t *testing.T, w *testcluster.Widget) (client.Client, *testcluster.Recorder, *testcluster.Widget) {
	t.Helper()
	cfg, rec := testcluster.Recording(testcluster.WithoutManagedFields(cluster.Config))
	c := cluster.ClientFor(t, cfg)
	read := &testcluster.Widget{}
	if err := c.Get(t.Context(), client.ObjectKeyFromObject(w), read); err != nil {
		t.Fatal(err)
	}
	if len(read.ManagedFields) != 0 {
		t.Fatalf("the client's answer carries managedFields: %v", read.ManagedFields)
	}
	rec.Reset()
	return c, rec, read
}

// Without the manager's entry nothing proves a status unchanged: every Apply sends, and what an
// Apply leaves out goes, as the server still records the entry.
func TestStatusApplier_WithoutManagedFieldsInAnswersSendsEveryApplyAndStaysDeclarative(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	c, rec, w := clientWithoutManagedFields(t, createWidget(t, ns, "status"))
	applier := newWidgetStatusApplier(t, c, "widgets")

	g.Expect(applier.Apply(t.Context(), w, map[string]any{"phase": "Ready", "selector": map[string]any{"app": "demo"}})).To(Succeed())
	g.Expect(applier.Apply(t.Context(), w, map[string]any{"phase": "Ready"})).To(Succeed())
	g.Expect(applier.Apply(t.Context(), w, map[string]any{"phase": "Ready"})).To(Succeed())

	diff(t, "requests", []string{http.MethodPatch, http.MethodPatch, http.MethodPatch}, methodsOf(rec.Requests()))
	live, _, err := getWidget(t.Context(), w)
	g.Expect(err).NotTo(HaveOccurred())
	diff(t, "status", testcluster.WidgetStatus{Phase: "Ready", ObservedGeneration: 1}, live.Status)
}

// The takeover patch sets the whole managedFields list: computed from an answer without them it
// would strip every other writer's ownership. The status is applied; nothing is taken over, and
// the error says why.
func TestStatusApplier_WithoutManagedFieldsInAnswersTakesNothingOverAndSaysWhy(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	created := createWidget(t, ns, "status-takeover")
	applyStatusAs(t, created, "widgets-v1", map[string]any{"phase": "Ready", "selector": map[string]any{"app": "demo"}})
	c, _, w := clientWithoutManagedFields(t, created)
	applier := ssareconcile.NewStatusApplier(c, "widgets-v2", ssareconcile.StatusApplierOptions{TypeConverters: []managedfields.TypeConverter{widgetTypes(t)}, LegacyManagers: []string{"widgets-v1"}})

	err := applier.Apply(t.Context(), w, map[string]any{"phase": "Ready"})

	g.Expect(errors.Is(err, ssa.ErrNoManagedFields)).To(BeTrue(), "error %v", err)
	g.Expect(w.Status.Phase).To(Equal("Ready"))
	diff(t, "owners of status.phase: shared, as the apply left it", []string{"widgets-v1", "widgets-v2"}, statusOwners(t, created, "status", "phase"))
	diff(t, "owners of status.selector", []string{"widgets-v1"}, statusOwners(t, created, "status", "selector"))
}

// resetManagedFields drops every managedFields entry of w, as kubernetes#136919 leaves objects.
func resetManagedFields(t *testing.T, w *testcluster.Widget) {
	t.Helper()
	reset := client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"managedFields":[{}]}}`))
	if err := cluster.Client.Patch(t.Context(), w, reset); err != nil {
		t.Fatalf("resetting managedFields: %v", err)
	}
	if len(w.ManagedFields) != 0 {
		t.Fatalf("managedFields after the reset: %v", w.ManagedFields)
	}
}

// After managedFields were dropped, the first status apply gives every status field to
// before-first-apply too (row 24); the applier takes back what it applies, so a field it stops
// applying later goes.
func TestStatusApplier_AfterManagedFieldsWereDroppedOwnsWhatItAppliesAlone(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	w := createWidget(t, ns, "status-after-reset")
	applier := newWidgetStatusApplier(t, cluster.Client, "widgets")
	g.Expect(applier.Apply(t.Context(), w, map[string]any{"phase": "Ready", "selector": map[string]any{"app": "demo"}})).To(Succeed())
	resetManagedFields(t, w)

	g.Expect(applier.Apply(t.Context(), w, map[string]any{"phase": "Ready", "selector": map[string]any{"app": "demo"}})).To(Succeed())
	g.Expect(applier.Apply(t.Context(), w, map[string]any{"phase": "Ready"})).To(Succeed())

	live, _, err := getWidget(t.Context(), w)
	g.Expect(err).NotTo(HaveOccurred())
	diff(t, "status", testcluster.WidgetStatus{Phase: "Ready", ObservedGeneration: 1}, live.Status)
	diff(t, "owners of status.phase", []string{"widgets"}, statusOwners(t, w, "status", "phase"))
}

func methodsOf(requests []testcluster.Request) []string {
	var methods []string
	for _, r := range requests {
		methods = append(methods, r.Method)
	}
	return methods
}

// The managedFields patch of the recovery goes to the main resource. A controller that may patch
// only /status still applies status after managedFields were dropped: the recovery is skipped,
// said once in the log, and the steady state sends nothing.
func TestStatusApplier_AfterManagedFieldsWereDroppedWithStatusRightsOnlyAppliesAndStopsTrying(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	w := createWidget(t, ns, "status-only")
	name := "status-only-" + ns
	g.Expect(cluster.Client.Create(t.Context(), &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{testcluster.TestGroup}, Resources: []string{"widgets"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{testcluster.TestGroup}, Resources: []string{"widgets/status"}, Verbs: []string{"patch"}},
	}})).To(Succeed())
	g.Expect(cluster.Client.Create(t.Context(), &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: name}},
	})).To(Succeed())
	user, err := cluster.AddUser(name)
	g.Expect(err).NotTo(HaveOccurred())
	cfg, rec := testcluster.Recording(user)
	c := cluster.ClientFor(t, cfg)
	read := func() *testcluster.Widget {
		obj := &testcluster.Widget{}
		g.Eventually(func() error { return c.Get(t.Context(), client.ObjectKeyFromObject(w), obj) }).WithTimeout(eventually).Should(Succeed())
		return obj
	}
	applier := newWidgetStatusApplier(t, c, "widgets")
	g.Expect(applier.Apply(t.Context(), read(), map[string]any{"phase": "Ready"})).To(Succeed(), "before managedFields were dropped")
	resetManagedFields(t, w)

	g.Expect(applier.Apply(t.Context(), read(), map[string]any{"phase": "Ready"})).To(Succeed(), "the first Apply after")
	steady := read()
	rec.Reset()
	g.Expect(applier.Apply(t.Context(), steady, map[string]any{"phase": "Ready"})).To(Succeed(), "the next Apply")

	g.Expect(rec.Requests()).To(BeEmpty(), "requests of the steady state")
	diff(t, "owners of status.phase: shared, as the first Apply left it", []string{"widgets", "before-first-apply"}, statusOwners(t, w, "status", "phase"))
}

// Only the server's before-first-apply is taken from: an Apply entry of that name is a controller's
// declared status, and stays its own.
func TestStatusApplier_NeverTakesFromAnApplyEntryNamedBeforeFirstApply(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	w := createWidget(t, ns, "applied-as-before-first-apply")
	applyStatusAs(t, w, "before-first-apply", map[string]any{"phase": "Ready"})
	g.Expect(cluster.Client.Get(t.Context(), client.ObjectKeyFromObject(w), w)).To(Succeed())
	applier := newWidgetStatusApplier(t, cluster.Client, "widgets")

	g.Expect(applier.Apply(t.Context(), w, map[string]any{"phase": "Ready"})).To(Succeed())
	g.Expect(applier.Apply(t.Context(), w, map[string]any{})).To(Succeed())

	live, _, err := getWidget(t.Context(), w)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(live.Status.Phase).To(Equal("Ready"), "the other controller's phase")
	diff(t, "owners of status.phase", []string{"before-first-apply"}, statusOwners(t, w, "status", "phase"))
}
