package reconcile

import (
	"errors"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/managedfields"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/ssakit/ssakit/internal/testcluster"
	ssareconcile "github.com/ssakit/ssakit/pkg/reconcile"
	"github.com/ssakit/ssakit/pkg/ssa"
)

// These tests call a StatusApplier directly, with objects read several writes ago, deleted and
// recreated under their name, or of a built-in type whose status has no observedGeneration.

var since = metav1.NewTime(time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC))

func createService(t *testing.T, namespace, name string) *corev1.Service {
	t.Helper()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}},
	}
	if err := cluster.Client.Create(t.Context(), svc, client.FieldOwner("user")); err != nil {
		t.Fatalf("creating service %s: %v", name, err)
	}
	return svc
}

func serviceStatus(reason string) *corev1ac.ServiceStatusApplyConfiguration {
	return corev1ac.ServiceStatus().WithConditions(metav1ac.Condition().
		WithType("Provisioned").WithStatus(metav1.ConditionTrue).WithReason(reason).WithMessage("ok").WithLastTransitionTime(since))
}

// Row 27: on /status a custom resource ignores the UID, so the applier's guard is the
// resourceVersion: a status computed for a deleted object never lands on its same-named successor.
// A Service checks the UID on /status as well; both must end in an error and an untouched
// successor.
func TestStatusApplier_NeverWritesTheStatusOfASameNamedSuccessor(t *testing.T) {
	for _, tc := range []struct {
		name   string
		create func(t *testing.T, ns string) client.Object
		empty  func() client.Object
		status any
	}{
		{"Widget", func(t *testing.T, ns string) client.Object { return createWidget(t, ns, "successor") },
			func() client.Object { return &testcluster.Widget{} }, map[string]any{"phase": "Ready"}},
		{"Service", func(t *testing.T, ns string) client.Object { return createService(t, ns, "successor") },
			func() client.Object { return &corev1.Service{} }, serviceStatus("Provisioned")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			ns := cluster.Namespace(t)
			stale := tc.create(t, ns)
			g.Expect(cluster.Client.Delete(t.Context(), stale)).To(Succeed())
			successor := tc.create(t, ns)

			err := ssareconcile.NewStatusApplier(cluster.Client, controllerName(ns), ssareconcile.StatusApplierOptions{}).Apply(t.Context(), stale, tc.status)

			g.Expect(err).To(HaveOccurred(), "a status apply with the deleted object's identity")
			after := tc.empty()
			g.Expect(cluster.Client.Get(t.Context(), client.ObjectKeyFromObject(successor), after)).To(Succeed())
			g.Expect(after.GetResourceVersion()).To(Equal(successor.GetResourceVersion()), "the successor was written")
		})
	}
}

// Row 11: a status apply with an object someone wrote since it was read is refused and writes
// nothing; the caller is told the object is stale.
func TestStatusApplier_RefusesAStaleObject(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	w := createWidget(t, ns, "stale-status")
	stale := w.DeepCopyObject().(*testcluster.Widget)
	w.Labels = map[string]string{"edited": "yes"}
	g.Expect(cluster.Client.Update(t.Context(), w, client.FieldOwner("user"))).To(Succeed())

	err := ssareconcile.NewStatusApplier(cluster.Client, controllerName(ns), ssareconcile.StatusApplierOptions{}).Apply(t.Context(), stale, map[string]any{"phase": "Ready"})

	g.Expect(err).To(MatchError(ssa.ErrStale))
	after, _, err := getWidget(t.Context(), w)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(after.ResourceVersion).To(Equal(w.ResourceVersion), "a write happened")
}

// A built-in type whose status has no observedGeneration (a Service) takes a status apply: the
// applier adds observedGeneration only where the Go type declares it.
func TestStatusApplier_AppliesTheStatusOfATypeWithoutObservedGeneration(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	svc := createService(t, ns, "lb")

	g.Expect(ssareconcile.NewStatusApplier(cluster.Client, controllerName(ns), ssareconcile.StatusApplierOptions{}).Apply(t.Context(), svc, serviceStatus("Provisioned"))).To(Succeed())

	live := &corev1.Service{}
	g.Expect(cluster.Client.Get(t.Context(), client.ObjectKeyFromObject(svc), live)).To(Succeed())
	g.Expect(live.Status.Conditions).To(HaveLen(1))
	g.Expect(live.Status.Conditions[0].Reason).To(Equal("Provisioned"))
	g.Expect(svc.Status.Conditions).To(HaveLen(1), "the object passed in holds the answer")
}

// An atomic map (x-kubernetes-map-type: atomic) is replaced whole by an apply: a key the desired
// status drops must be sent, or it would stay on the object forever.
func TestStatusApplier_RemovesAKeyDroppedFromAnAtomicMap(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	w := createWidget(t, ns, "atomic")
	applier := ssareconcile.NewStatusApplier(cluster.Client, controllerName(ns), ssareconcile.StatusApplierOptions{})
	g.Expect(applier.Apply(t.Context(), w, map[string]any{"selector": map[string]any{"app": "web", "tier": "front"}})).To(Succeed())

	g.Expect(applier.Apply(t.Context(), w, map[string]any{"selector": map[string]any{"app": "web"}})).To(Succeed())

	after, _, err := getWidget(t.Context(), w)
	g.Expect(err).NotTo(HaveOccurred())
	diff(t, "status.selector", map[string]string{"app": "web"}, after.Status.Selector)
}

// Row 21: another manager's condition in the same keyed list does not make the applier send its
// own, unchanged, condition again.
func TestStatusApplier_SendsNothingWhenAnotherManagersConditionSharesTheList(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	name := controllerName(ns)
	w := createWidget(t, ns, "shared-conditions")
	ready := []any{map[string]any{"type": "Ready", "status": "True", "reason": "Synced", "message": "ok", "lastTransitionTime": "2026-11-01T10:00:00Z"}}
	g.Expect(newWidgetStatusApplier(t, cluster.Client, name).Apply(t.Context(), w, map[string]any{"conditions": ready})).To(Succeed())
	other := ssareconcile.NewStatusApplier(cluster.Client, "other-controller", ssareconcile.StatusApplierOptions{})
	g.Expect(other.Apply(t.Context(), w, map[string]any{"conditions": []any{map[string]any{
		"type": "Backup", "status": "True", "reason": "Done", "message": "ok", "lastTransitionTime": "2026-11-01T10:00:00Z",
	}}})).To(Succeed())
	c, rec := cluster.RecordingClient(t)
	applier := newWidgetStatusApplier(t, c, name)

	for range 3 {
		cachedCopy, _, err := getWidget(t.Context(), w)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(applier.Apply(t.Context(), cachedCopy, map[string]any{"conditions": ready})).To(Succeed())
	}

	g.Expect(rec.Requests()).To(BeEmpty())
}

// newWidgetStatusApplier returns a StatusApplier that knows the Widget's schema from the server.
func newWidgetStatusApplier(t *testing.T, c client.Client, controller string) *ssareconcile.StatusApplier {
	t.Helper()
	return ssareconcile.NewStatusApplier(c, controller, ssareconcile.StatusApplierOptions{TypeConverters: []managedfields.TypeConverter{widgetTypes(t)}})
}

// widgetTypes is the Widget's schema as the server publishes it.
func widgetTypes(t *testing.T) managedfields.TypeConverter {
	t.Helper()
	types, err := loadWidgetTypes()
	if err != nil {
		t.Fatalf("reading the Widget's schema: %v", err)
	}
	return types
}

// loadWidgetTypes reads the Widget's schema once per test binary.
var loadWidgetTypes = sync.OnceValues(func() (managedfields.TypeConverter, error) {
	return cluster.ServerTypeConverter(testcluster.WidgetGVK.GroupVersion())
})

// A controller owns the status it reports: after someone else wrote a field it applies (a
// Status().Update, as `kubectl edit --subresource=status` does), the next apply takes it back
// instead of failing on the conflict forever.
func TestStatusApplier_TakesBackAStatusFieldSomeoneElseWrote(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	w := createWidget(t, ns, "edited-status")
	applier := ssareconcile.NewStatusApplier(cluster.Client, controllerName(ns), ssareconcile.StatusApplierOptions{})
	g.Expect(applier.Apply(t.Context(), w, map[string]any{"phase": "Ready"})).To(Succeed())
	w.Status.Phase = "Broken"
	g.Expect(cluster.Client.Status().Update(t.Context(), w, client.FieldOwner("kubectl-edit"))).To(Succeed())

	g.Expect(applier.Apply(t.Context(), w, map[string]any{"phase": "Ready"})).To(Succeed())

	after, _, err := getWidget(t.Context(), w)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(after.Status.Phase).To(Equal("Ready"))
}

// The server writes a keyed list in the order it is applied: a reordered list of the manager's
// own conditions is a change, and is sent.
func TestStatusApplier_SendsAReorderedListOfItsOwnItems(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	w := createWidget(t, ns, "reordered")
	applier := newWidgetStatusApplier(t, cluster.Client, controllerName(ns))
	condition := func(kind string) map[string]any {
		return map[string]any{"type": kind, "status": "True", "reason": "R", "message": "m", "lastTransitionTime": "2026-11-01T10:00:00Z"}
	}
	g.Expect(applier.Apply(t.Context(), w, map[string]any{"conditions": []any{condition("A"), condition("B")}})).To(Succeed())

	g.Expect(applier.Apply(t.Context(), w, map[string]any{"conditions": []any{condition("B"), condition("A")}})).To(Succeed())

	after, _, err := getWidget(t.Context(), w)
	g.Expect(err).NotTo(HaveOccurred())
	var order []string
	for _, c := range after.Status.Conditions {
		order = append(order, c.Type)
	}
	diff(t, "conditions in the order applied", []string{"B", "A"}, order)
}

// A kind without a status subresource answers a /status apply with a 404, which must not read as
// "the object is gone".
func TestStatusApplier_OnAKindWithoutAStatusSubresourceSaysSo(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	gadget := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{"color": "red"}}}
	gadget.SetGroupVersionKind(testcluster.GadgetGVK)
	gadget.SetNamespace(ns)
	gadget.SetName("no-status")
	g.Expect(cluster.Client.Create(t.Context(), gadget)).To(Succeed())

	err := ssareconcile.NewStatusApplier(cluster.Client, controllerName(ns), ssareconcile.StatusApplierOptions{}).Apply(t.Context(), gadget, map[string]any{"phase": "Ready"})

	g.Expect(err).To(MatchError(ContainSubstring("no status subresource")))
	g.Expect(errors.Is(err, ssa.ErrGone)).To(BeFalse(), "reported as gone: %v", err)
}

// Two controllers that apply different values to one status field: the second gets the conflict
// and writes nothing, rather than both overwriting each other on every reconcile.
func TestStatusApplier_DoesNotTakeAFieldAnotherControllerApplies(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	w := createWidget(t, ns, "disputed")
	g.Expect(ssareconcile.NewStatusApplier(cluster.Client, "first-controller", ssareconcile.StatusApplierOptions{}).Apply(t.Context(), w, map[string]any{"phase": "Ready"})).To(Succeed())
	rv := w.ResourceVersion

	err := ssareconcile.NewStatusApplier(cluster.Client, "second-controller", ssareconcile.StatusApplierOptions{}).Apply(t.Context(), w, map[string]any{"phase": "Degraded"})

	conflict, ok := errors.AsType[*ssa.ConflictError](err)
	g.Expect(ok).To(BeTrue(), "a *ssa.ConflictError: %v", err)
	diff(t, "conflicting managers", []string{"first-controller"}, []string{conflict.Conflicts[0].Manager})
	after, _, err := getWidget(t.Context(), w)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(after.ResourceVersion).To(Equal(rv), "a write happened")
}

// observedGeneration is defaulted for the controller that reports status, never taken from
// another manager that reports it (here a legacy Status().Update), whether the object passed in
// shows that manager or comes from a cache that strips managedFields.
func TestStatusApplier_LeavesObservedGenerationToTheManagerThatReportsIt(t *testing.T) {
	for _, stripped := range []bool{false, true} {
		t.Run(map[bool]string{false: "managedFields shown", true: "managedFields stripped"}[stripped], func(t *testing.T) {
			g := NewWithT(t)
			ns := cluster.Namespace(t)
			w := createWidget(t, ns, "reported")
			w.Status.ObservedGeneration = 1
			g.Expect(cluster.Client.Status().Update(t.Context(), w, client.FieldOwner("main-controller"))).To(Succeed())
			w.Spec.Color = "green"
			g.Expect(cluster.Client.Update(t.Context(), w, client.FieldOwner("user"))).To(Succeed())
			g.Expect(w.Generation).To(Equal(int64(2)))
			if stripped {
				w.ManagedFields = nil
			}

			g.Expect(ssareconcile.NewStatusApplier(cluster.Client, "aux-controller", ssareconcile.StatusApplierOptions{}).Apply(t.Context(), w, map[string]any{"phase": "Backed-up"})).To(Succeed())

			after, _, err := getWidget(t.Context(), w)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(after.Status.Phase).To(Equal("Backed-up"))
			g.Expect(after.Status.ObservedGeneration).To(Equal(int64(1)), "the generation main-controller reported")
			o, err := ssa.ParseOwnership(after.ManagedFields)
			g.Expect(err).NotTo(HaveOccurred())
			diff(t, "owners of .status.observedGeneration", []string{"main-controller"}, o.Owners(fieldpath.MakePathOrDie("status", "observedGeneration")))
		})
	}
}

// A condition computed from a stale copy's list (Ready since long ago, while the live object turned
// not ready since) is refused with the copy and never moves the live lastTransitionTime back; one
// computed from the live object, whose time was written by a clock ahead of this one's, keeps that
// time rather than go back before it.
func TestCondition_NeverMovesTheLiveLastTransitionTimeBackwards(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	applier := ssareconcile.NewStatusApplier(cluster.Client, controllerName(ns), ssareconcile.StatusApplierOptions{})
	w := createWidget(t, ns, "transitions")
	ready := metav1.Condition{Type: "Ready", Status: metav1.ConditionTrue, Reason: "Reconciled"}
	g.Expect(applier.Apply(t.Context(), w, map[string]any{"conditions": []any{ssareconcile.Condition(nil, ready)}})).To(Succeed())
	stale := w.DeepCopyObject().(*testcluster.Widget)
	ahead := metav1.NewTime(time.Now().Add(time.Hour).Truncate(time.Second))
	notReady := metav1ac.Condition().WithType("Ready").WithStatus(metav1.ConditionFalse).WithReason("Lost").WithMessage("").WithLastTransitionTime(ahead)
	g.Expect(applier.Apply(t.Context(), w, map[string]any{"conditions": []any{notReady}})).To(Succeed())

	err := applier.Apply(t.Context(), stale, map[string]any{"conditions": []any{ssareconcile.Condition(stale.Status.Conditions, ready)}})

	g.Expect(err).To(MatchError(ssa.ErrStale), "a condition computed from a stale list")
	g.Expect(applier.Apply(t.Context(), w, map[string]any{"conditions": []any{ssareconcile.Condition(w.Status.Conditions, ready)}})).To(Succeed())
	live, _, err := getWidget(t.Context(), w)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(live.Status.Conditions).To(HaveLen(1))
	g.Expect(live.Status.Conditions[0].Status).To(Equal(metav1.ConditionTrue))
	g.Expect(live.Status.Conditions[0].LastTransitionTime.Time).NotTo(BeTemporally("<", ahead.Time), "lastTransitionTime moved backwards")
}
