package ssatest_test

// Each test here pins one way the fake client, as NewClientBuilder sets it up, differs from the
// API server (or, for TestPlainFake_*, what ssatest changes), as the package documentation lists
// them. A controller-runtime upgrade that changes one fails its test: update the documentation
// with it.

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/ssakit/ssakit/pkg/ssa"
	"github.com/ssakit/ssakit/pkg/ssatest"
)

// finalizersOnly is the configuration ssa.Finalizer applies: identity and finalizers.
func finalizersOnly(obj client.Object, gvk string, finalizers ...string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("v1")
	u.SetKind(gvk)
	u.SetNamespace(obj.GetNamespace())
	u.SetName(obj.GetName())
	u.SetUID(obj.GetUID())
	if finalizers != nil {
		u.SetFinalizers(finalizers)
	}
	return u
}

// terminating returns the ConfigMap from configMap() with finalizers, deleted: the finalizers
// hold it.
func terminating(t *testing.T, c client.Client, finalizers map[string]string) *corev1.ConfigMap {
	t.Helper()
	cm := configMap()
	if err := c.Create(t.Context(), cm); err != nil {
		t.Fatal(err)
	}
	for name, manager := range finalizers {
		if err := c.Apply(t.Context(), client.ApplyConfigurationFromUnstructured(finalizersOnly(cm, "ConfigMap", name)), client.FieldOwner(manager)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Delete(t.Context(), cm); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(t.Context(), client.ObjectKeyFromObject(cm), cm); err != nil {
		t.Fatal(err)
	}
	if cm.DeletionTimestamp == nil {
		t.Fatal("the ConfigMap is not terminating")
	}
	return cm
}

func TestPlainFake_MakesTheFinalizersOfAKindWithoutSchemaAtomic(t *testing.T) {
	g := NewWithT(t)
	c := fake.NewClientBuilder().Build()
	widget := &unstructured.Unstructured{}
	widget.SetAPIVersion("demo.example.com/v1")
	widget.SetKind("Widget")
	widget.SetNamespace("demo")
	widget.SetName("w")
	apply := func(manager, finalizer string) error {
		config := widget.DeepCopy()
		config.SetFinalizers([]string{finalizer})
		return c.Apply(t.Context(), client.ApplyConfigurationFromUnstructured(config), client.FieldOwner(manager))
	}
	g.Expect(apply("first", "example.com/first")).To(Succeed())

	err := apply("second", "example.com/second")

	// The deduced type converter makes the whole list one value, owned by "first"; on the API
	// server finalizers are a set and both managers' finalizers stay (docs/ssa-semantics.md rows 1, 2).
	g.Expect(apierrors.IsConflict(err)).To(BeTrue(), "err = %v, want a conflict on .metadata.finalizers", err)
	g.Expect(err).To(MatchError(ContainSubstring(".metadata.finalizers")))
}

func TestPlainFake_LetsAnApplyChangeTheUID(t *testing.T) {
	g := NewWithT(t)
	cm := configMap()
	cm.UID = "first"
	c := fake.NewClientBuilder().WithObjects(cm).Build()

	err := c.Apply(t.Context(), corev1ac.ConfigMap("settings", "demo").WithUID("second"), client.FieldOwner("demo"))

	g.Expect(err).NotTo(HaveOccurred()) // the API server: 422, field is immutable (row 10)
	got := &corev1.ConfigMap{}
	g.Expect(c.Get(t.Context(), client.ObjectKeyFromObject(cm), got)).To(Succeed())
	g.Expect(got.UID).To(BeEquivalentTo("second"))
}

func TestPlainFake_DeletesATerminatingObjectOnAnApplyWithoutFinalizersThoughOthersStillHoldIt(t *testing.T) {
	g := NewWithT(t)
	c := fake.NewClientBuilder().Build()
	cm := terminating(t, c, map[string]string{"example.com/mine": "mine", "example.com/theirs": "theirs"})

	g.Expect(c.Apply(t.Context(), client.ApplyConfigurationFromUnstructured(finalizersOnly(cm, "ConfigMap")), client.FieldOwner("mine"))).To(Succeed())

	// controller-runtime's versionedTracker.updateObject deletes a terminating object when the
	// *configuration* lists no finalizer, before anything is merged. The API server drops only
	// example.com/mine and keeps the object, held by example.com/theirs (rows 3, 13); so does the
	// client NewClientBuilder builds (TestFake_KeepsATerminatingObjectWhileAnotherFinalizerHoldsIt).
	// When this fails, controller-runtime merges first: the held apply (terminating.go) can go.
	err := c.Get(t.Context(), client.ObjectKeyFromObject(cm), &corev1.ConfigMap{})
	g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "err = %v, want not found", err)
}

func TestFake_AcceptsANewFinalizerOnATerminatingObject(t *testing.T) {
	g := NewWithT(t)
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).Build()
	cm := terminating(t, c, map[string]string{"example.com/holds": "holder"})

	err := c.Apply(t.Context(), client.ApplyConfigurationFromUnstructured(finalizersOnly(cm, "ConfigMap", "example.com/late")), client.FieldOwner("late"))

	// The API server: 422, no new finalizers can be added if the object is being deleted (row 12).
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(c.Get(t.Context(), client.ObjectKeyFromObject(cm), cm)).To(Succeed())
	g.Expect(cm.Finalizers).To(ContainElement("example.com/late"))
}

func TestFake_DeletesATerminatingObjectOnAnApplyPatchWithoutFinalizers(t *testing.T) {
	g := NewWithT(t)
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).Build()
	cm := terminating(t, c, map[string]string{"example.com/mine": "mine", "example.com/theirs": "theirs"})

	//nolint:staticcheck // client.Apply as a patch type is deprecated: the path this pins.
	g.Expect(c.Patch(t.Context(), finalizersOnly(cm, "ConfigMap"), client.Apply, client.FieldOwner("mine"))).To(Succeed())

	// Only Client.Apply is merged first (TestFake_KeepsATerminatingObjectWhileAnotherFinalizerHoldsIt).
	// The API server drops only example.com/mine and keeps the object (rows 3, 13).
	err := c.Get(t.Context(), client.ObjectKeyFromObject(cm), &corev1.ConfigMap{})
	g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "err = %v, want not found", err)
}

func TestFake_NoOpApplyBumpsTheResourceVersion(t *testing.T) {
	g := NewWithT(t)
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).Build()
	apply := func() *corev1ac.ConfigMapApplyConfiguration {
		config := corev1ac.ConfigMap("settings", "demo").WithData(map[string]string{"mode": "fast"})
		g.Expect(c.Apply(t.Context(), config, client.FieldOwner("demo"))).To(Succeed())
		return config
	}
	first := apply()

	second := apply()

	// The API server does not write an apply that changes nothing (row 21).
	g.Expect(*second.ResourceVersion).NotTo(Equal(*first.ResourceVersion))
}

func TestFake_RefusesAStatusApplyWithAStaleResourceVersionInItsOwnWords(t *testing.T) {
	g := NewWithT(t)
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "web"}}
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).WithObjects(svc).Build()
	stale := svc.ResourceVersion
	svc.Labels = map[string]string{"app": "web"}
	g.Expect(c.Update(t.Context(), svc)).To(Succeed())
	status := corev1ac.Service("web", "demo").WithResourceVersion(stale).
		WithStatus(corev1ac.ServiceStatus().WithLoadBalancer(corev1ac.LoadBalancerStatus().
			WithIngress(corev1ac.LoadBalancerIngress().WithIP("192.0.2.1"))))

	err := c.Status().Apply(t.Context(), status, client.FieldOwner("demo"))

	// A 409 Conflict like the API server's (row 11), but the server says "the object has been
	// modified" and the fake "object was modified"; ssa.FromApplyError goes by the reason, so
	// both are ssa.ErrStale.
	g.Expect(apierrors.IsConflict(err)).To(BeTrue(), "err = %v, want a conflict", err)
	g.Expect(err).To(MatchError(ContainSubstring("object was modified")))
	g.Expect(err.Error()).NotTo(ContainSubstring("the object has been modified"))
	g.Expect(ssa.FromApplyError(ssa.ObjectRef{}, err)).To(MatchError(ssa.ErrStale))
}

func TestFake_AcceptsFinalizerNamesTheServerRefuses(t *testing.T) {
	g := NewWithT(t)
	cm := configMap()
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).WithObjects(cm).Build()

	// The API server refuses both on a ConfigMap with 422 (rows 15, 16), and warns about the
	// first on a custom resource; the fake sends no warnings.
	for _, name := range []string{"legacy-finalizer", "Foo_bar!"} {
		config := finalizersOnly(cm, "ConfigMap", name)
		g.Expect(c.Apply(t.Context(), client.ApplyConfigurationFromUnstructured(config), client.FieldOwner(name))).To(Succeed(), name)
	}
}

func TestFake_NeverSetsGeneration(t *testing.T) {
	g := NewWithT(t)
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).Build()
	deployment := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "web"}}
	g.Expect(c.Create(t.Context(), deployment)).To(Succeed())
	deployment.Spec.MinReadySeconds = 5

	g.Expect(c.Update(t.Context(), deployment)).To(Succeed())

	// The API server starts it at 1 and bumps it on every spec change (row 6).
	g.Expect(deployment.Generation).To(BeZero())
}

func TestFake_IgnoresAUIDPreconditionOnDelete(t *testing.T) {
	g := NewWithT(t)
	cm := configMap()
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).WithObjects(cm).Build()
	other := types.UID("another-object")

	// The API server: 409, the UID in the precondition does not match.
	g.Expect(c.Delete(t.Context(), cm, client.Preconditions{UID: &other})).To(Succeed())
}

func TestFake_AppliesTheZeroValuesOfTheKindsGoType(t *testing.T) {
	g := NewWithT(t)
	labels := map[string]string{"app": "web"}
	deployment := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "web"}}},
			},
		},
	}
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).Build()
	g.Expect(c.Create(t.Context(), deployment, client.FieldOwner("kubectl"))).To(Succeed())
	f := newFinalizer(t, c, "example.com/deployment")

	_, err := f.Add(t.Context(), deployment)

	// The fake turns the configuration into an appsv1.Deployment and back before it merges it,
	// so the apply also holds `spec.selector: null`, which conflicts with kubectl's selector. The
	// API server merges the configuration as sent: only the finalizer.
	var conflict *ssa.ConflictError
	g.Expect(errors.As(err, &conflict)).To(BeTrue(), "err = %v, want a *ssa.ConflictError", err)
	g.Expect(conflict.Conflicts).To(ContainElement(HaveField("Path", ".spec.selector")))
}

func TestFake_MainResourceApplyOwnsTheStoredStatus(t *testing.T) {
	g := NewWithT(t)
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "web"},
		Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{
			Ingress: []corev1.LoadBalancerIngress{{IP: "192.0.2.1"}},
		}},
	}
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).WithObjects(svc).Build()
	f := newFinalizer(t, c, "example.com/status")

	g.Expect(errOf(f.Add(t.Context(), svc))).To(Succeed())

	// The fake copies the stored status into a main-resource configuration of a kind with a
	// status subresource; the API server drops status there, unowned.
	ownership, err := ssa.ParseOwnership(svc.ManagedFields)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(ownership.FieldsOf(f.FieldOwner()).Has(fieldpath.MakePathOrDie("status", "loadBalancer", "ingress"))).To(BeTrue())
}

func TestFake_DoesNotTrackUpdatesOfInitialObjects(t *testing.T) {
	g := NewWithT(t)
	cm := configMap()
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).WithObjects(cm).Build()
	cm.Labels = map[string]string{"app": "demo"}

	g.Expect(c.Update(t.Context(), cm, client.FieldOwner("legacy-operator"))).To(Succeed())

	// An object given to WithObjects has no managedFields, and apimachinery's field manager starts
	// tracking Updates only on an object that has some, as the API server gives every object it
	// creates. The next apply gives every field to "before-first-apply" (row 24).
	g.Expect(cm.ManagedFields).To(BeEmpty())
}

func TestFake_DeleteRecordsAnUpdateOfDeletionTimestamp(t *testing.T) {
	g := NewWithT(t)
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).Build()

	cm := terminating(t, c, map[string]string{"example.com/holds": "holder"})

	// The API server sets deletionTimestamp without a managedFields entry.
	ownership, err := ssa.ParseOwnership(cm.ManagedFields)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(ownership.Owners(fieldpath.MakePathOrDie("metadata", "deletionTimestamp"))).To(ConsistOf("unknown"))
}

func TestFake_DropsExplicitZeroValuesOfOmitemptyFieldsFromAnApply(t *testing.T) {
	g := NewWithT(t)
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).Build()
	// Only an apply to an existing object takes the round trip; one that creates is merged as sent.
	g.Expect(c.Create(t.Context(), &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "web"}})).To(Succeed())
	config := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Service",
		"metadata": map[string]any{"namespace": "demo", "name": "web"},
		"spec":     map[string]any{"healthCheckNodePort": int64(0), "ports": []any{map[string]any{"port": int64(80)}}},
	}}

	g.Expect(c.Apply(t.Context(), client.ApplyConfigurationFromUnstructured(config), client.FieldOwner("demo"))).To(Succeed())

	// The same round trip through corev1.Service: `healthCheckNodePort,omitempty` loses the 0, so
	// "demo" does not own the field it applied. On the API server it does. A status that applies
	// observedGeneration 0 (the fake never sets generation) is hit the same way.
	ownership, err := ssa.ParseOwnership(config.GetManagedFields())
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(ownership.FieldsOf("demo").Has(fieldpath.MakePathOrDie("spec", "healthCheckNodePort"))).To(BeFalse())
}

func TestFake_RecordsStatusUpdatesUnderTheMainResource(t *testing.T) {
	g := NewWithT(t)
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "web", Labels: map[string]string{"app": "web"}}}
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).Build()
	g.Expect(c.Create(t.Context(), svc, client.FieldOwner("kubectl"))).To(Succeed())
	svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "192.0.2.1"}}

	g.Expect(c.Status().Update(t.Context(), svc, client.FieldOwner("legacy-status"))).To(Succeed())

	// Only a /status apply is recorded with subresource "status", as the API server records
	// every /status write.
	g.Expect(c.Get(t.Context(), client.ObjectKeyFromObject(svc), svc)).To(Succeed())
	g.Expect(svc.ManagedFields).To(ContainElement(And(
		HaveField("Manager", "legacy-status"),
		HaveField("Subresource", ""),
	)))
}

func TestFake_CreatesTheObjectOfAStatusApplyWithoutAUIDThatIsNotThere(t *testing.T) {
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).Build()

	err := c.Status().Apply(t.Context(), loadBalancerStatus(), client.FieldOwner("status-owner"))

	// The API server creates nothing: a custom resource's /status answers 404, a Service's takes
	// the create path of its main resource and create validation refuses it. The fake creates the
	// object from the main resource, its status emptied, which the applier owns there.
	if err != nil {
		t.Fatalf("err = %v, want the object created", err)
	}
	got := get(t, c, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "web"}}, &corev1.Service{})
	want := []entry{{Manager: "status-owner", Operation: metav1.ManagedFieldsOperationApply, Fields: `{"f:status":{}}`}}
	if d := cmp.Diff(want, entries(got.ManagedFields)); d != "" {
		t.Errorf("managedFields of the created object (-want +got):\n%s", d)
	}
	if d := cmp.Diff(corev1.ServiceStatus{}, got.Status, cmpopts.EquateEmpty()); d != "" {
		t.Errorf("status of the created object (-want +got):\n%s", d)
	}
}

func TestFake_LeavesACreatedUnstructuredObjectWithoutItsUID(t *testing.T) {
	g := NewWithT(t)
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).Build()
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("v1")
	u.SetKind("ConfigMap")
	u.SetNamespace("demo")
	u.SetName("untyped")

	g.Expect(c.Create(t.Context(), u)).To(Succeed())

	g.Expect(u.GetUID()).To(BeEmpty(), "the caller's object")
	stored := &corev1.ConfigMap{}
	g.Expect(c.Get(t.Context(), client.ObjectKeyFromObject(u), stored)).To(Succeed())
	g.Expect(stored.UID).NotTo(BeEmpty(), "the stored object")
}
