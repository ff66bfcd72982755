package controller_test

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	mirrorv1alpha1 "github.com/ssakit/ssakit/example/operator/api/v1alpha1"
	mirrorapplyconfiguration "github.com/ssakit/ssakit/example/operator/api/v1alpha1/applyconfiguration"
	"github.com/ssakit/ssakit/example/operator/controller"
	"github.com/ssakit/ssakit/example/operator/setup"
	"github.com/ssakit/ssakit/pkg/ssa"
	"github.com/ssakit/ssakit/pkg/ssatest"
)

// newFakeClientBuilder returns a fake client builder for the operator's types: its scheme, the
// schema generated with ConfigMirror's apply configurations, and ConfigMirror's status
// subresource, as the CRD declares it.
func newFakeClientBuilder(t *testing.T) *ssatest.ClientBuilder {
	t.Helper()
	scheme, err := setup.Scheme()
	if err != nil {
		t.Fatal(err)
	}
	return ssatest.NewClientBuilder(scheme, mirrorapplyconfiguration.NewTypeConverter(scheme)).
		WithStatusSubresource(&mirrorv1alpha1.ConfigMirror{})
}

// newReconciler returns the ConfigMirror reconciler over c, without a manager.
func newReconciler(t *testing.T, c client.Client) reconcile.Reconciler {
	t.Helper()
	_, r, err := controller.NewReconciler(ssatest.Cluster{Client: c}, controller.Options{Recorder: events.NewFakeRecorder(100)})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// namespace returns a namespace that accepts copies from the mirrors' namespace, team.
func namespace(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{controller.AcceptFromAnnotation: "team"}}}
}

func source() *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "settings"},
		Data:       map[string]string{"mode": "fast"},
	}
}

// mirror returns a ConfigMirror as the API server would store it. The fake client never sets
// metadata.generation; the server starts it at 1, and the status reports it as observedGeneration.
func mirror(targets ...string) *mirrorv1alpha1.ConfigMirror {
	return &mirrorv1alpha1.ConfigMirror{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "settings-mirror", Generation: 1},
		Spec:       mirrorv1alpha1.ConfigMirrorSpec{Source: "settings", TargetNamespaces: targets},
	}
}

func requestFor(obj client.Object) reconcile.Request {
	return reconcile.Request{NamespacedName: client.ObjectKeyFromObject(obj)}
}

func TestReconcile_NewMirrorGetsTheFinalizerOwnedByItsOwnManager(t *testing.T) {
	g := NewWithT(t)
	m := mirror("prod")
	c := newFakeClientBuilder(t).WithObjects(namespace("team"), namespace("prod"), source(), m).Build()

	_, err := newReconciler(t, c).Reconcile(t.Context(), requestFor(m))

	g.Expect(err).NotTo(HaveOccurred())
	got := &mirrorv1alpha1.ConfigMirror{}
	g.Expect(c.Get(t.Context(), client.ObjectKeyFromObject(m), got)).To(Succeed())
	g.Expect(got.Finalizers).To(ConsistOf(controller.Finalizer))
	ownership, err := ssa.ParseOwnership(got.ManagedFields)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(ownership.Owners(ssa.FinalizerPath(controller.Finalizer))).To(ConsistOf(controller.FinalizerFieldOwner))
}

func TestReconcile_NewMirrorCopiesTheSourceIntoEachTargetNamespace(t *testing.T) {
	g := NewWithT(t)
	m := mirror("prod", "staging")
	c := newFakeClientBuilder(t).WithObjects(namespace("team"), namespace("prod"), namespace("staging"), source(), m).Build()

	_, err := newReconciler(t, c).Reconcile(t.Context(), requestFor(m))

	g.Expect(err).NotTo(HaveOccurred())
	for _, ns := range []string{"prod", "staging"} {
		copied := &corev1.ConfigMap{}
		g.Expect(c.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "settings"}, copied)).To(Succeed())
		if d := cmp.Diff(source().Data, copied.Data); d != "" {
			t.Errorf("data of the copy in %s (-want +got):\n%s", ns, d)
		}
		live := &mirrorv1alpha1.ConfigMirror{}
		g.Expect(c.Get(t.Context(), client.ObjectKeyFromObject(m), live)).To(Succeed())
		if d := cmp.Diff(map[string]string{controller.MirrorUIDLabel: string(live.UID)}, copied.Labels); d != "" {
			t.Errorf("labels of the copy in %s (-want +got):\n%s", ns, d)
		}
		if d := cmp.Diff(map[string]string{controller.MirrorAnnotation: "team/settings-mirror"}, copied.Annotations); d != "" {
			t.Errorf("annotations of the copy in %s (-want +got):\n%s", ns, d)
		}
	}
}

func TestReconcile_NewMirrorReportsReadyInStatus(t *testing.T) {
	g := NewWithT(t)
	m := mirror("prod", "staging")
	c := newFakeClientBuilder(t).WithObjects(namespace("team"), namespace("prod"), namespace("staging"), source(), m).Build()

	_, err := newReconciler(t, c).Reconcile(t.Context(), requestFor(m))

	g.Expect(err).NotTo(HaveOccurred())
	got := &mirrorv1alpha1.ConfigMirror{}
	g.Expect(c.Get(t.Context(), client.ObjectKeyFromObject(m), got)).To(Succeed())
	g.Expect(got.Status.Targets).To(Equal([]mirrorv1alpha1.TargetStatus{
		{Namespace: "prod", Synced: true, Reason: mirrorv1alpha1.ReasonSynced},
		{Namespace: "staging", Synced: true, Reason: mirrorv1alpha1.ReasonSynced},
	}))
	ready := meta.FindStatusCondition(got.Status.Conditions, mirrorv1alpha1.ConditionReady)
	g.Expect(ready).NotTo(BeNil())
	g.Expect(ready.Status).To(Equal(metav1.ConditionTrue))
	g.Expect(ready.Reason).To(Equal("Synced"))
}

func TestReconcile_SecondReconcileOfAnUnchangedMirrorWritesNothing(t *testing.T) {
	g := NewWithT(t)
	m := mirror("prod")
	c := newFakeClientBuilder(t).WithObjects(namespace("team"), namespace("prod"), source(), m).Build()
	r := newReconciler(t, c)
	_, err := r.Reconcile(t.Context(), requestFor(m))
	g.Expect(err).NotTo(HaveOccurred())
	before := &mirrorv1alpha1.ConfigMirror{}
	g.Expect(c.Get(t.Context(), client.ObjectKeyFromObject(m), before)).To(Succeed())

	_, err = r.Reconcile(t.Context(), requestFor(m))

	g.Expect(err).NotTo(HaveOccurred())
	after := &mirrorv1alpha1.ConfigMirror{}
	g.Expect(c.Get(t.Context(), client.ObjectKeyFromObject(m), after)).To(Succeed())
	// The finalizer is owned and the status unchanged, which the managedFields prove: neither
	// the finalizer nor the status is applied again.
	g.Expect(after.ResourceVersion).To(Equal(before.ResourceVersion))
}

func TestReconcile_DeletedMirrorLosesItsCopiesAndThenItsFinalizer(t *testing.T) {
	g := NewWithT(t)
	m := mirror("prod", "staging")
	c := newFakeClientBuilder(t).WithObjects(namespace("team"), namespace("prod"), namespace("staging"), source(), m).Build()
	r := newReconciler(t, c)
	_, err := r.Reconcile(t.Context(), requestFor(m))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(c.Delete(t.Context(), m)).To(Succeed()) // the finalizer holds it: terminating

	_, err = r.Reconcile(t.Context(), requestFor(m))

	g.Expect(err).NotTo(HaveOccurred())
	for _, ns := range []string{"prod", "staging"} {
		err := c.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "settings"}, &corev1.ConfigMap{})
		g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "the copy in %s is still there: %v", ns, err)
	}
	err = c.Get(t.Context(), client.ObjectKeyFromObject(m), &mirrorv1alpha1.ConfigMirror{})
	g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "the ConfigMirror is still there: %v", err)
}

func TestReconcile_TargetThatHasNotConsentedGetsNoCopyAndAWarning(t *testing.T) {
	g := NewWithT(t)
	m := mirror("prod", "platform")
	c := newFakeClientBuilder(t).WithObjects(namespace("team"), namespace("prod"), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "platform"}}, source(), m).Build()
	recorder := events.NewFakeRecorder(10)
	_, r, err := controller.NewReconciler(ssatest.Cluster{Client: c}, controller.Options{Recorder: recorder})
	g.Expect(err).NotTo(HaveOccurred())

	_, err = r.Reconcile(t.Context(), requestFor(m))

	g.Expect(err).NotTo(HaveOccurred())
	err = c.Get(t.Context(), client.ObjectKey{Namespace: "platform", Name: "settings"}, &corev1.ConfigMap{})
	g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "a copy in platform: %v", err)
	got := &mirrorv1alpha1.ConfigMirror{}
	g.Expect(c.Get(t.Context(), client.ObjectKeyFromObject(m), got)).To(Succeed())
	g.Expect(got.Status.Targets).To(HaveExactElements(
		HaveField("Reason", mirrorv1alpha1.ReasonSynced),
		HaveField("Reason", mirrorv1alpha1.ReasonNamespaceNotConsenting),
	))
	g.Expect(recorder.Events).To(Receive(HavePrefix("Warning NamespaceNotConsenting namespace platform does not accept copies from team; the operator writes nothing there")))
}

func TestReconcile_WithdrawnConsentDeletesTheCopy(t *testing.T) {
	g := NewWithT(t)
	m := mirror("prod")
	prod := namespace("prod")
	c := newFakeClientBuilder(t).WithObjects(namespace("team"), prod, source(), m).Build()
	r := newReconciler(t, c)
	_, err := r.Reconcile(t.Context(), requestFor(m))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(c.Get(t.Context(), client.ObjectKey{Namespace: "prod", Name: "settings"}, &corev1.ConfigMap{})).To(Succeed())
	g.Expect(c.Patch(t.Context(), prod, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"annotations":null}}`)))).To(Succeed())

	_, err = r.Reconcile(t.Context(), requestFor(m))

	g.Expect(err).NotTo(HaveOccurred())
	err = c.Get(t.Context(), client.ObjectKey{Namespace: "prod", Name: "settings"}, &corev1.ConfigMap{})
	g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "the copy is still there: %v", err)
}

func TestReconcile_MissingSourceReportsSourceNotFound(t *testing.T) {
	g := NewWithT(t)
	m := mirror("prod")
	c := newFakeClientBuilder(t).WithObjects(namespace("team"), namespace("prod"), m).Build()

	_, err := newReconciler(t, c).Reconcile(t.Context(), requestFor(m))

	g.Expect(err).NotTo(HaveOccurred())
	got := &mirrorv1alpha1.ConfigMirror{}
	g.Expect(c.Get(t.Context(), client.ObjectKeyFromObject(m), got)).To(Succeed())
	ready := meta.FindStatusCondition(got.Status.Conditions, mirrorv1alpha1.ConditionReady)
	g.Expect(ready).NotTo(BeNil())
	g.Expect(ready.Status).To(Equal(metav1.ConditionFalse))
	g.Expect(ready.Reason).To(Equal("SourceNotFound"))
	copies := &corev1.ConfigMapList{}
	g.Expect(c.List(t.Context(), copies, client.InNamespace("prod"))).To(Succeed())
	g.Expect(slices.ContainsFunc(copies.Items, func(cm corev1.ConfigMap) bool { return cm.Name == "settings" })).To(BeFalse())
}

// A user's ConfigMap that the cache has not seen yet looks like a free name: the create that
// follows fails, and the operator must find the ConfigMap the user holds, not adopt it.
func TestReconcile_ConfigMapTheCacheHasNotSeenIsNotAdopted(t *testing.T) {
	g := NewWithT(t)
	m := mirror("prod")
	users := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "prod", Name: "settings"}, Data: map[string]string{"mine": "yes"}}
	c := newFakeClientBuilder(t).WithObjects(namespace("team"), namespace("prod"), source(), m).Build()
	// The cache lags: it has not seen the user's ConfigMap, created after it.
	_, r, err := controller.NewReconciler(ssatest.Cluster{Client: ssatest.NewLaggingClient(c)}, controller.Options{Recorder: events.NewFakeRecorder(10)})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(c.Create(t.Context(), users, client.FieldOwner("user"))).To(Succeed())
	before := &corev1.ConfigMap{}
	g.Expect(c.Get(t.Context(), client.ObjectKeyFromObject(users), before)).To(Succeed())

	_, err = r.Reconcile(t.Context(), requestFor(m))

	g.Expect(err).NotTo(HaveOccurred())
	after := &corev1.ConfigMap{}
	g.Expect(c.Get(t.Context(), client.ObjectKeyFromObject(users), after)).To(Succeed())
	if d := cmp.Diff(before, after); d != "" {
		t.Errorf("the user's ConfigMap was changed (-before +after):\n%s", d)
	}
	got := &mirrorv1alpha1.ConfigMirror{}
	g.Expect(c.Get(t.Context(), client.ObjectKeyFromObject(m), got)).To(Succeed())
	g.Expect(got.Status.Targets).To(HaveExactElements(HaveField("Reason", mirrorv1alpha1.ReasonTargetConflict)))
}

// A copy created a moment before the mirror's deletion may not be in the cache yet when the
// cleanup runs; the cleanup lists through the API reader and deletes it all the same.
func TestCleanup_DeletesACopyTheCacheHasNotSeen(t *testing.T) {
	g := NewWithT(t)
	m := mirror("prod")
	c := newFakeClientBuilder(t).WithObjects(namespace("team"), namespace("prod"), source(), m).Build()
	g.Expect(c.Get(t.Context(), client.ObjectKeyFromObject(m), m)).To(Succeed())
	// The cache lags: it will not see the copy, created after it.
	mirrorOf, _, err := controller.NewReconciler(ssatest.Cluster{Client: ssatest.NewLaggingClient(c)}, controller.Options{})
	g.Expect(err).NotTo(HaveOccurred())
	copied := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "prod", Name: "settings",
		Labels: map[string]string{controller.MirrorUIDLabel: string(m.UID)}}}
	g.Expect(c.Create(t.Context(), copied, client.FieldOwner(controller.Name))).To(Succeed()) // as the operator creates it

	result, err := mirrorOf.Cleanup(t.Context(), m)
	g.Expect(result, err).To(BeZero(), "a cleanup done at once")

	err = c.Get(t.Context(), client.ObjectKeyFromObject(copied), &corev1.ConfigMap{})
	g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "the copy is still there: %v", err)
}
