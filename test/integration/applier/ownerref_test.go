package applier

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mirrorv1alpha1ac "github.com/ssakit/ssakit/example/operator/api/v1alpha1/applyconfiguration/api/v1alpha1"
	"github.com/ssakit/ssakit/internal/testcluster"
	"github.com/ssakit/ssakit/pkg/ssa"
)

const childManager = "widget-controller"

// ownerWidget creates a Widget named name in ns and returns it as the server answered, UID and
// all.
func ownerWidget(t *testing.T, ns, name string) *testcluster.Widget {
	t.Helper()
	w := &testcluster.Widget{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	if err := cluster.Client.Create(t.Context(), w); err != nil {
		t.Fatalf("creating the owner: %v", err)
	}
	return w
}

// widgetSettings is the configuration of a Widget's child, with its controller reference to owner.
func widgetSettings(t *testing.T, owner *testcluster.Widget, live *corev1.ConfigMap) *corev1ac.ConfigMapApplyConfiguration {
	t.Helper()
	config, err := ssa.SetControllerReference(owner, corev1ac.ConfigMap("settings", owner.Namespace).WithData(map[string]string{"color": "blue"}), live, cluster.Scheme)
	if err != nil {
		t.Fatalf("SetControllerReference: %v", err)
	}
	return config
}

// liveSettings reads the child from the API server.
func liveSettings(t *testing.T, ns string) *corev1.ConfigMap {
	t.Helper()
	live := &corev1.ConfigMap{}
	if err := cluster.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "settings"}, live); err != nil {
		t.Fatal(err)
	}
	return live
}

func widgetControllerRef(uid types.UID) []metav1.OwnerReference {
	return []metav1.OwnerReference{{APIVersion: testcluster.WidgetGVK.GroupVersion().String(), Kind: "Widget", Name: "web", UID: uid,
		Controller: new(true), BlockOwnerDeletion: new(true)}}
}

// The reference SetControllerReference builds is stored as built, and, being in every apply of the
// child, it makes the next apply of the same configuration a no-op the applier does not send
// (row 21).
func TestSetControllerReference_TheServerStoresTheReferenceAndTheNextApplyIsNotSent(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	owner := ownerWidget(t, ns, "web")
	c, rec := cluster.RecordingClient(t)
	children := ssa.NewApplier(c, childManager, ssa.ApplierOptions{})

	created, err := children.Apply(t.Context(), nil, widgetSettings(t, owner, nil))
	g.Expect(created, err).To(BeTrue())

	live := liveSettings(t, ns)
	if d := cmp.Diff(widgetControllerRef(owner.UID), live.OwnerReferences); d != "" {
		t.Errorf("owner references the server stored (-want +got):\n%s", d)
	}
	rec.Reset()
	again, err := children.Apply(t.Context(), live, widgetSettings(t, owner, live))
	g.Expect(again, err).To(BeFalse(), "the second apply, with the same reference")
	g.Expect(rec.Requests()).To(BeEmpty(), "requests")
}

// As with controllerutil, an owner deleted and created again under its name (a new UID) controls
// the child its earlier self controlled. The server keys owner references by UID, so the apply
// replaces the earlier reference because the same manager applied it, and only then.
func TestSetControllerReference_AnOwnerCreatedAgainControlsItsChild(t *testing.T) {
	t.Run("the manager applied the earlier reference: replaced", func(t *testing.T) {
		g := NewWithT(t)
		ns := cluster.Namespace(t)
		children := ssa.NewApplier(cluster.Client, childManager, ssa.ApplierOptions{})
		before := ownerWidget(t, ns, "web")
		_, err := children.Apply(t.Context(), nil, widgetSettings(t, before, nil))
		g.Expect(err).NotTo(HaveOccurred())
		owner := recreated(t, before)

		live := liveSettings(t, ns)
		sent, err := children.Apply(t.Context(), live, widgetSettings(t, owner, live))

		g.Expect(sent, err).To(BeTrue())
		if d := cmp.Diff(widgetControllerRef(owner.UID), liveSettings(t, ns).OwnerReferences); d != "" {
			t.Errorf("owner references the server stored (-want +got):\n%s", d)
		}
	})
	t.Run("another writer's earlier reference: the server refuses a second controller", func(t *testing.T) {
		g := NewWithT(t)
		ns := cluster.Namespace(t)
		before := ownerWidget(t, ns, "web")
		// As a controller that used controllerutil and Create wrote it.
		child := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "settings", OwnerReferences: widgetControllerRef(before.UID)}}
		g.Expect(cluster.Client.Create(t.Context(), child, client.FieldOwner("legacy-controller"))).To(Succeed())
		owner := recreated(t, before)

		live := liveSettings(t, ns)
		_, err := ssa.NewApplier(cluster.Client, childManager, ssa.ApplierOptions{}).Apply(t.Context(), live, widgetSettings(t, owner, live))

		g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), "a 422: %v", err)
		g.Expect(err).To(MatchError(ContainSubstring("Only one reference can have Controller set to true")))
	})
}

// recreated deletes w (envtest runs no garbage collector: its children stay) and creates it again.
func recreated(t *testing.T, w *testcluster.Widget) *testcluster.Widget {
	t.Helper()
	if err := cluster.Client.Delete(t.Context(), w); err != nil {
		t.Fatalf("deleting the owner: %v", err)
	}
	again := ownerWidget(t, w.Namespace, w.Name)
	if again.UID == w.UID {
		t.Fatalf("the owner created again kept its UID %s", w.UID)
	}
	return again
}

// controller-gen's generated apply configurations (v0.23.0, example/operator) take the reference as
// client-go's do.
func TestSetControllerReference_TakesControllerGensApplyConfigurations(t *testing.T) {
	owner := &testcluster.Widget{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "web", UID: "w-1"}}

	config, err := ssa.SetControllerReference(owner, mirrorv1alpha1ac.ConfigMirror("mirror", "team-a"), nil, cluster.Scheme)

	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	want := []metav1ac.OwnerReferenceApplyConfiguration{*metav1ac.OwnerReference().WithAPIVersion(testcluster.WidgetGVK.GroupVersion().String()).
		WithKind("Widget").WithName("web").WithUID("w-1").WithController(true).WithBlockOwnerDeletion(true)}
	if d := cmp.Diff(want, config.OwnerReferences); d != "" {
		t.Errorf("owner references (-want +got):\n%s", d)
	}
}
