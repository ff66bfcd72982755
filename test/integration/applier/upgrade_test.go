package applier

import (
	"errors"
	"testing"

	. "github.com/onsi/gomega"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	autoscalingv1ac "k8s.io/client-go/applyconfigurations/autoscaling/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ssakit/ssakit/pkg/ssa"
)

// legacyCopy is a ConfigMap a controller created and updated with Update as "legacy-copier": data
// keys a and b, and a label.
func legacyCopy(t *testing.T, ns string) *corev1.ConfigMap {
	t.Helper()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "settings", Labels: map[string]string{"copy": "true"}}, Data: map[string]string{"a": "1", "b": "2"}}
	if err := cluster.Client.Create(t.Context(), cm, client.FieldOwner("legacy-copier")); err != nil {
		t.Fatal(err)
	}
	return cm
}

// The intended use: a controller that moves its children from Update to apply, with the same
// content, upgrades its old manager first; its apply then owns everything and keeps it all.
func TestUpgradeManagers_ThenAnApplyOfTheSameContentKeepsEverything(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	cm := legacyCopy(t, ns)

	sent, err := ssa.UpgradeManagers(t.Context(), cluster.Client, cm, manager, "legacy-copier")

	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(sent).To(BeTrue())
	g.Expect(cm.ManagedFields).To(HaveLen(1), "the object handed back is the answer")
	g.Expect(cm.ManagedFields[0].Manager).To(Equal(manager))
	g.Expect(cm.ManagedFields[0].Operation).To(Equal(metav1.ManagedFieldsOperationApply))
	after := applied(t, settings(ns, map[string]string{"a": "1", "b": "2"}).WithLabels(map[string]string{"copy": "true"}))
	g.Expect(after.Data).To(Equal(map[string]string{"a": "1", "b": "2"}))
	g.Expect(after.Labels).To(Equal(map[string]string{"copy": "true"}))
	var managers []string
	for _, e := range after.ManagedFields {
		managers = append(managers, e.Manager+"/"+string(e.Operation))
	}
	g.Expect(managers).To(Equal([]string{manager + "/Apply"}), "the manager alone owns the copy")
}

// The hazard (row 26): after the upgrade the manager owns everything the legacy writer wrote, so
// an apply that leaves a field out deletes it. This is why finalizers use FinalizerOptions.TakeOverLegacy instead.
func TestUpgradeManagers_MakesAnApplyThatLeavesAFieldOutDeleteIt(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	cm := legacyCopy(t, ns)
	_, err := ssa.UpgradeManagers(t.Context(), cluster.Client, cm, manager, "legacy-copier")
	g.Expect(err).NotTo(HaveOccurred())

	after := applied(t, settings(ns, map[string]string{"a": "1"}))

	g.Expect(after.Data).To(Equal(map[string]string{"a": "1"}), "b and the label were the legacy writer's, and are gone")
	g.Expect(after.Labels).To(BeEmpty())
}

// The patch is guarded by the resourceVersion of the object given: a write since it was read is
// refused, nothing is upgraded, and the error says to read again.
func TestUpgradeManagers_OnAStaleObjectUpgradesNothing(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	cm := legacyCopy(t, ns)
	stale := cm.DeepCopy()
	g.Expect(cluster.Client.Patch(t.Context(), cm, client.RawPatch(types.MergePatchType, []byte(`{"data":{"c":"3"}}`)), client.FieldOwner("someone"))).To(Succeed())

	sent, err := ssa.UpgradeManagers(t.Context(), cluster.Client, stale, manager, "legacy-copier")

	g.Expect(sent).To(BeFalse())
	g.Expect(errors.Is(err, ssa.ErrStale)).To(BeTrue(), "error %v", err)
	live := &corev1.ConfigMap{}
	g.Expect(cluster.Client.Get(t.Context(), client.ObjectKeyFromObject(cm), live)).To(Succeed())
	var managers []string
	for _, e := range live.ManagedFields {
		managers = append(managers, e.Manager)
	}
	g.Expect(managers).To(ConsistOf("legacy-copier", "someone"))
}

// csaupgrade merges only a legacy entry at the apiVersion of the manager's Apply entry and drops
// the others: UpgradeManagers refuses entries written through different apiVersions, and changes
// nothing.
func TestUpgradeManagers_RefusesEntriesWrittenThroughDifferentAPIVersions(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	hpa := &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{MaxReplicas: 3,
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"}},
	}
	g.Expect(cluster.Client.Create(t.Context(), hpa, client.FieldOwner("legacy-scaler"))).To(Succeed())
	g.Expect(cluster.Client.Apply(t.Context(), autoscalingv1ac.HorizontalPodAutoscaler("web", ns).WithSpec(autoscalingv1ac.HorizontalPodAutoscalerSpec().
		WithMaxReplicas(3).WithScaleTargetRef(autoscalingv1ac.CrossVersionObjectReference().WithAPIVersion("apps/v1").WithKind("Deployment").WithName("web"))),
		client.FieldOwner(manager))).To(Succeed())
	live := &autoscalingv2.HorizontalPodAutoscaler{}
	g.Expect(cluster.Client.Get(t.Context(), client.ObjectKeyFromObject(hpa), live)).To(Succeed())
	before := live.ResourceVersion

	sent, err := ssa.UpgradeManagers(t.Context(), cluster.Client, live, manager, "legacy-scaler")

	g.Expect(sent).To(BeFalse())
	g.Expect(err).To(MatchError(ContainSubstring("different apiVersions")))
	g.Expect(cluster.Client.Get(t.Context(), client.ObjectKeyFromObject(hpa), live)).To(Succeed())
	g.Expect(live.ResourceVersion).To(Equal(before))
}
