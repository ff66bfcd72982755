package ssatest_test

import (
	"errors"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/ssakit/ssakit/pkg/ssa"
	"github.com/ssakit/ssakit/pkg/ssatest"
)

// configMap returns a ConfigMap as a test gives it to WithObjects: no UID, no managedFields.
func configMap() *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "settings"},
		Data:       map[string]string{"mode": "fast"},
	}
}

// newFinalizer declares a finalizer of controller "demo" on c.
func newFinalizer(t *testing.T, c client.Client, name string) *ssa.Finalizer {
	t.Helper()
	f, err := ssa.NewFinalizer(c, "demo", name, ssa.FinalizerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// errOf is the error of a Finalizer's Add or Remove, for a test that does not look at whether it
// sent an apply.
func errOf(_ bool, err error) error {
	return err
}

// owners returns the managers that own finalizer name on obj.
func owners(t *testing.T, obj client.Object, name string) []string {
	t.Helper()
	ownership, err := ssa.ParseOwnership(obj.GetManagedFields())
	if err != nil {
		t.Fatal(err)
	}
	return ownership.Owners(ssa.FinalizerPath(name))
}

func TestFinalizer_AddThenRemoveOnAFakeConfigMap(t *testing.T) {
	g := NewWithT(t)
	cm := configMap()
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).WithObjects(cm).Build()
	f := newFinalizer(t, c, "example.com/cleanup")

	g.Expect(errOf(f.Add(t.Context(), cm))).To(Succeed())
	g.Expect(cm.Finalizers).To(ConsistOf("example.com/cleanup"))
	g.Expect(owners(t, cm, "example.com/cleanup")).To(ConsistOf(f.FieldOwner()))

	g.Expect(errOf(f.Remove(t.Context(), cm))).To(Succeed())
	got := &corev1.ConfigMap{}
	g.Expect(c.Get(t.Context(), client.ObjectKeyFromObject(cm), got)).To(Succeed())
	g.Expect(got.Finalizers).To(BeEmpty())
}

func TestFinalizer_AddSendsNothingOnceTheFakeShowsTheFinalizerOwned(t *testing.T) {
	g := NewWithT(t)
	cm := configMap()
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).WithObjects(cm).Build()
	f := newFinalizer(t, c, "example.com/once")
	g.Expect(errOf(f.Add(t.Context(), cm))).To(Succeed())
	added := cm.ResourceVersion

	sent, err := f.Add(t.Context(), cm)

	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(sent).To(BeFalse(), "Add says it sent an apply")
	// The fake bumps resourceVersion on every apply (see TestFake_NoOpApplyBumpsTheResourceVersion),
	// so an unchanged one proves that nothing was sent.
	got := &corev1.ConfigMap{}
	g.Expect(c.Get(t.Context(), client.ObjectKeyFromObject(cm), got)).To(Succeed())
	g.Expect(got.ResourceVersion).To(Equal(added))
}

func TestFinalizer_TwoFinalizersOfOneControllerBothStay(t *testing.T) {
	g := NewWithT(t)
	cm := configMap()
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).WithObjects(cm).Build()
	first := newFinalizer(t, c, "example.com/first")
	second := newFinalizer(t, c, "example.com/second")

	g.Expect(errOf(first.Add(t.Context(), cm))).To(Succeed())
	g.Expect(errOf(second.Add(t.Context(), cm))).To(Succeed())

	got := &corev1.ConfigMap{}
	g.Expect(c.Get(t.Context(), client.ObjectKeyFromObject(cm), got)).To(Succeed())
	g.Expect(got.Finalizers).To(ConsistOf("example.com/first", "example.com/second"))
	g.Expect(owners(t, got, "example.com/first")).To(ConsistOf(first.FieldOwner()))
	g.Expect(owners(t, got, "example.com/second")).To(ConsistOf(second.FieldOwner()))
}

func TestFinalizer_RemoveNamesALegacyUpdateThatAlsoOwnsTheFinalizer(t *testing.T) {
	g := NewWithT(t)
	cm := configMap()
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).Build()
	// Created through the client, not given to WithObjects: the field manager tracks the Updates
	// of an object only once it has managedFields (TestFake_DoesNotTrackUpdatesOfInitialObjects).
	g.Expect(c.Create(t.Context(), cm, client.FieldOwner("kubectl"))).To(Succeed())
	f := newFinalizer(t, c, "example.com/shared")
	// A legacy controller added the finalizer with Update before this one took it over.
	cm.Finalizers = []string{"example.com/shared"}
	g.Expect(c.Update(t.Context(), cm, client.FieldOwner("legacy-operator"))).To(Succeed())
	g.Expect(errOf(f.Add(t.Context(), cm))).To(Succeed())

	_, err := f.Remove(t.Context(), cm)

	var coOwned *ssa.CoOwnedError
	g.Expect(errors.As(err, &coOwned)).To(BeTrue(), "err = %v, want a *ssa.CoOwnedError", err)
	g.Expect(coOwned.CoOwners).To(Equal([]string{"legacy-operator"}))
}

func TestFinalizer_RemoveOnAnObjectDeletedSinceItWasReadCreatesNothing(t *testing.T) {
	g := NewWithT(t)
	cm := configMap()
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).WithObjects(cm).Build()
	f := newFinalizer(t, c, "example.com/gone")
	g.Expect(errOf(f.Add(t.Context(), cm))).To(Succeed())
	stale := cm.DeepCopy()
	cm.Finalizers = nil
	g.Expect(c.Update(t.Context(), cm)).To(Succeed())
	g.Expect(c.Delete(t.Context(), cm)).To(Succeed())

	// The apply carries the UID, and the fake, like the API server, answers 409 "uid mismatch"
	// instead of creating the object again (docs/ssa-semantics.md row 9).
	g.Expect(errOf(f.Remove(t.Context(), stale))).To(Succeed())

	err := c.Get(t.Context(), client.ObjectKeyFromObject(cm), &corev1.ConfigMap{})
	g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "the ConfigMap was created again: %v", err)
}

func TestFinalizer_AddToAnObjectReplacedUnderItsNameIsErrReplaced(t *testing.T) {
	g := NewWithT(t)
	cm := configMap()
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).WithObjects(cm).Build()
	f := newFinalizer(t, c, "example.com/replaced")
	g.Expect(c.Delete(t.Context(), cm.DeepCopy())).To(Succeed())
	g.Expect(c.Create(t.Context(), configMap())).To(Succeed())

	_, err := f.Add(t.Context(), cm)

	g.Expect(errors.Is(err, ssa.ErrReplaced)).To(BeTrue(), "err = %v, want ssa.ErrReplaced", err)
}

func TestPlainFakeClient_AddFailsForLackOfAUID(t *testing.T) {
	g := NewWithT(t)
	cm := configMap()
	c := fake.NewClientBuilder().WithReturnManagedFields().WithObjects(cm).Build()
	f := newFinalizer(t, c, "example.com/plain")

	_, err := f.Add(t.Context(), cm)

	g.Expect(err).To(MatchError(ContainSubstring("has no UID")))
	g.Expect(err).To(MatchError(ContainSubstring("ssatest.NewClientBuilder")))
}

func TestNewClientBuilder_GivesInitialObjectsUIDs(t *testing.T) {
	g := NewWithT(t)
	cm := configMap()
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).WithObjects(cm).Build()

	got := &corev1.ConfigMap{}
	g.Expect(c.Get(t.Context(), client.ObjectKeyFromObject(cm), got)).To(Succeed())
	g.Expect(got.UID).NotTo(BeEmpty())
	g.Expect(cm.UID).To(Equal(got.UID), "the object given to WithObjects gets the UID too")
}

func TestNewClientBuilder_KeepsTheUIDOfAnInitialObject(t *testing.T) {
	g := NewWithT(t)
	cm := configMap()
	cm.UID = "given"
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).WithObjects(cm).Build()

	got := &corev1.ConfigMap{}
	g.Expect(c.Get(t.Context(), client.ObjectKeyFromObject(cm), got)).To(Succeed())
	g.Expect(got.UID).To(BeEquivalentTo("given"))
}

func TestNewClientBuilder_GivesObjectsCreatedThroughTheClientUIDs(t *testing.T) {
	g := NewWithT(t)
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).Build()
	created := configMap()
	applied := corev1ac.ConfigMap("applied", "demo").WithData(map[string]string{"mode": "fast"})

	g.Expect(c.Create(t.Context(), created)).To(Succeed())
	g.Expect(c.Apply(t.Context(), applied, client.FieldOwner("demo"))).To(Succeed())

	g.Expect(created.UID).NotTo(BeEmpty(), "Create")
	g.Expect(applied.UID).NotTo(BeNil(), "Apply that creates")
	g.Expect(*applied.UID).NotTo(BeEmpty(), "Apply that creates")
	g.Expect(*applied.UID).NotTo(Equal(created.UID))
}

func TestNewClientBuilder_UpdateWithoutAUIDKeepsTheStoredOne(t *testing.T) {
	g := NewWithT(t)
	cm := configMap()
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).WithObjects(cm).Build()
	update := cm.DeepCopy()
	update.UID = ""
	update.Data = map[string]string{"mode": "slow"}

	g.Expect(c.Update(t.Context(), update)).To(Succeed())

	got := &corev1.ConfigMap{}
	g.Expect(c.Get(t.Context(), client.ObjectKeyFromObject(cm), got)).To(Succeed())
	g.Expect(got.UID).To(Equal(cm.UID))
}

func TestNewClientBuilder_RefusesAnApplyWithAnotherUIDAsImmutable(t *testing.T) {
	g := NewWithT(t)
	cm := configMap()
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).WithObjects(cm).Build()

	err := c.Apply(t.Context(), corev1ac.ConfigMap("settings", "demo").WithUID("another"), client.FieldOwner("demo"))

	// docs/ssa-semantics.md row 10.
	g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), "err = %v, want 422 Invalid", err)
	g.Expect(err).To(MatchError(ContainSubstring("metadata.uid")))
	g.Expect(err).To(MatchError(ContainSubstring("field is immutable")))
}

func TestNewClientBuilder_FailsWritesOfAKindNoTypeConverterKnows(t *testing.T) {
	g := NewWithT(t)
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).Build()
	widget := &unstructured.Unstructured{}
	widget.SetAPIVersion("demo.example.com/v1")
	widget.SetKind("Widget")
	widget.SetNamespace("demo")
	widget.SetName("w")

	err := c.Create(t.Context(), widget)

	g.Expect(err).To(MatchError(ContainSubstring("no type converter knows demo.example.com/v1, Kind=Widget")))
	g.Expect(err).To(MatchError(ContainSubstring("applyconfiguration.NewTypeConverter(scheme)")))
}

func TestStatusApply_LeavesOtherFieldsToTheirOwners(t *testing.T) {
	g := NewWithT(t)
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "web", Labels: map[string]string{"app": "web"}},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}},
	}
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).WithObjects(svc).Build()
	f := newFinalizer(t, c, "example.com/web")
	g.Expect(errOf(f.Add(t.Context(), svc))).To(Succeed())
	status := corev1ac.Service("web", "demo").WithStatus(corev1ac.ServiceStatus().
		WithLoadBalancer(corev1ac.LoadBalancerStatus().WithIngress(corev1ac.LoadBalancerIngress().WithIP("192.0.2.1"))))

	g.Expect(c.Status().Apply(t.Context(), status, client.FieldOwner("demo"))).To(Succeed())

	got := &corev1.Service{}
	g.Expect(c.Get(t.Context(), client.ObjectKeyFromObject(svc), got)).To(Succeed())
	ownership, err := ssa.ParseOwnership(got.ManagedFields)
	g.Expect(err).NotTo(HaveOccurred())
	var entries []ssa.Entry
	for _, e := range ownership.Entries {
		if e.Manager == "demo" {
			entries = append(entries, e)
		}
	}
	g.Expect(entries).To(HaveLen(1))
	g.Expect(entries[0].Subresource).To(Equal("status"))
	g.Expect(entries[0].Fields.Has(fieldpath.MakePathOrDie("status", "loadBalancer", "ingress"))).To(BeTrue())
	g.Expect(entries[0].Fields.Has(fieldpath.MakePathOrDie("metadata", "labels", "app"))).To(BeFalse())
	g.Expect(owners(t, got, "example.com/web")).To(ConsistOf(f.FieldOwner()))
}

func TestCluster_ServesItsClientAsClientAndAPIReader(t *testing.T) {
	g := NewWithT(t)
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).Build()

	cluster := ssatest.Cluster{Client: c}

	g.Expect(cluster.GetClient()).To(BeIdenticalTo(c))
	g.Expect(cluster.GetAPIReader()).To(BeIdenticalTo(c))
}

func TestNewClientBuilder_GivesARecreatedObjectANewResourceVersion(t *testing.T) {
	g := NewWithT(t)
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).Build()
	first := configMap()
	g.Expect(c.Create(t.Context(), first)).To(Succeed())
	g.Expect(c.Delete(t.Context(), first)).To(Succeed())
	second := configMap()

	g.Expect(c.Create(t.Context(), second)).To(Succeed())

	// A resourceVersion guard (ssareconcile.StatusApplier's) taken from the first object must
	// not match the second, as with etcd's revisions.
	g.Expect(second.ResourceVersion).NotTo(Equal(first.ResourceVersion))
}

func TestNewClientBuilder_GivesACreatedObjectAUIDOfItsOwn(t *testing.T) {
	g := NewWithT(t)
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).Build()
	cm := configMap()
	cm.UID = "copied-from-another-object"

	g.Expect(c.Create(t.Context(), cm)).To(Succeed())

	// The API server ignores the UID of a create request.
	g.Expect(cm.UID).NotTo(BeEquivalentTo("copied-from-another-object"))
	g.Expect(cm.UID).NotTo(BeEmpty())
}

// A create that fails (the name is taken) leaves the caller's object as it was, as the API server
// does: its UID is not replaced, so an Update of it afterwards is not refused as another object.
func TestNewClientBuilder_AFailedCreateLeavesTheObjectsUID(t *testing.T) {
	existing := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "taken"}}
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).WithObjects(existing).Build()
	again := existing.DeepCopy()
	again.ResourceVersion = "" // as a caller that builds the object anew

	err := c.Create(t.Context(), again)

	if !apierrors.IsAlreadyExists(err) {
		t.Fatalf("err = %v, want AlreadyExists", err)
	}
	if again.UID != existing.UID {
		t.Errorf("UID after a failed create = %q, want %q as before", again.UID, existing.UID)
	}
}

// A RESTMapper given to the builder is the one the client answers scope questions from.
func TestClientBuilder_WithRESTMapperIsTheClientsRESTMapper(t *testing.T) {
	mapper := meta.NewDefaultRESTMapper([]schema.GroupVersion{corev1.SchemeGroupVersion})
	mapper.Add(corev1.SchemeGroupVersion.WithKind("ConfigMap"), meta.RESTScopeRoot) // deliberately wrong
	c := ssatest.NewClientBuilder(nil).WithRESTMapper(mapper).Build()

	namespaced, err := c.IsObjectNamespaced(&corev1.ConfigMap{})

	if err != nil || namespaced {
		t.Errorf("IsObjectNamespaced = %v, %v; want false from the mapper given", namespaced, err)
	}
}
