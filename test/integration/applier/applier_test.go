package applier

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	. "github.com/onsi/gomega"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/managedfields"
	autoscalingv1ac "k8s.io/client-go/applyconfigurations/autoscaling/v1"
	autoscalingv2ac "k8s.io/client-go/applyconfigurations/autoscaling/v2"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ssakit/ssakit/internal/testcluster"
	"github.com/ssakit/ssakit/pkg/ssa"
)

const manager = "copier"

func settings(ns string, data map[string]string) *corev1ac.ConfigMapApplyConfiguration {
	return corev1ac.ConfigMap("settings", ns).WithData(data)
}

// applied applies config as manager and returns the live object, read back.
func applied(t *testing.T, config *corev1ac.ConfigMapApplyConfiguration) *corev1.ConfigMap {
	t.Helper()
	if err := cluster.Client.Apply(t.Context(), config, client.FieldOwner(manager)); err != nil {
		t.Fatalf("applying: %v", err)
	}
	live := &corev1.ConfigMap{}
	if err := cluster.Client.Get(t.Context(), client.ObjectKey{Namespace: *config.Namespace, Name: *config.Name}, live); err != nil {
		t.Fatal(err)
	}
	return live
}

// Row 21: an apply that changes nothing is a no-op on the server; the applier does not send it.
func TestApplier_SendsNoRequestForAConfigurationAlreadyApplied(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	live := applied(t, settings(ns, map[string]string{"color": "blue"}))
	c, rec := cluster.RecordingClient(t)

	sent, err := ssa.NewApplier(c, manager, ssa.ApplierOptions{}).Apply(t.Context(), live, settings(ns, map[string]string{"color": "blue"}))

	g.Expect(sent, err).To(BeFalse())
	g.Expect(rec.Requests()).To(BeEmpty(), "requests")
}

// A field the manager owns and the new configuration leaves out is deleted by the apply: a write
// the applier must not skip, though every value the configuration sets is already live.
func TestApplier_SendsAConfigurationThatDropsAFieldItOwned(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	live := applied(t, settings(ns, map[string]string{"color": "blue", "size": "L"}))
	c, rec := cluster.RecordingClient(t)

	sent, err := ssa.NewApplier(c, manager, ssa.ApplierOptions{}).Apply(t.Context(), live, settings(ns, map[string]string{"color": "blue"}))

	g.Expect(sent, err).To(BeTrue())
	g.Expect(rec.Writes()).To(HaveLen(1), "write requests")
	if d := cmp.Diff(map[string]string{"color": "blue"}, live.Data); d != "" {
		t.Errorf("data of the answer, which the applier put in live (-want +got):\n%s", d)
	}
}

// Row 21 again: from a cache that strips managedFields the applier cannot tell, so it sends; the
// server then writes nothing.
func TestApplier_SendsWhenItsCopyHasNoManagedFieldsAndTheServerWritesNothing(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	live := applied(t, settings(ns, map[string]string{"color": "blue"}))
	rv := live.ResourceVersion
	live.ManagedFields = nil
	c, rec := cluster.RecordingClient(t)

	sent, err := ssa.NewApplier(c, manager, ssa.ApplierOptions{}).Apply(t.Context(), live, settings(ns, map[string]string{"color": "blue"}))

	g.Expect(sent, err).To(BeTrue())
	g.Expect(rec.Writes()).To(HaveLen(1), "write requests")
	g.Expect(live.ResourceVersion).To(Equal(rv), "the server wrote")
}

// Someone else changed a value the manager applied (kubectl edit): the copy that shows it is
// sent, and with force the value is the manager's again.
func TestApplier_SendsAValueSomeoneElseChanged(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	live := applied(t, settings(ns, map[string]string{"color": "blue"}))
	live.Data["color"] = "red"
	g.Expect(cluster.Client.Update(t.Context(), live, client.FieldOwner("kubectl-edit"))).To(Succeed())
	c, rec := cluster.RecordingClient(t)

	sent, err := ssa.NewApplier(c, manager, ssa.ApplierOptions{}).Apply(t.Context(), live, settings(ns, map[string]string{"color": "blue"}), client.ForceOwnership)

	g.Expect(sent, err).To(BeTrue())
	g.Expect(rec.Writes()).To(HaveLen(1), "write requests")
	g.Expect(live.Data).To(Equal(map[string]string{"color": "blue"}))
}

// A custom resource's schema comes from the server (ssa.ServerTypeConverter): with it, an
// unchanged spec costs no request; without it, the applier cannot tell and sends.
func TestApplier_KnowsACustomResourceOnlyThroughItsSchema(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	config := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{"color": "blue"}}}
	config.SetGroupVersionKind(testcluster.WidgetGVK)
	config.SetNamespace(ns)
	config.SetName("schema")
	g.Expect(cluster.Client.Apply(t.Context(), client.ApplyConfigurationFromUnstructured(config.DeepCopy()), client.FieldOwner(manager))).To(Succeed())
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(testcluster.WidgetGVK)
	g.Expect(cluster.Client.Get(t.Context(), client.ObjectKeyFromObject(config), live)).To(Succeed())
	types, err := cluster.ServerTypeConverter(testcluster.WidgetGVK.GroupVersion())
	g.Expect(err).NotTo(HaveOccurred())
	c, rec := cluster.RecordingClient(t)

	withSchema, err := ssa.NewApplier(c, manager, ssa.ApplierOptions{TypeConverters: []managedfields.TypeConverter{types}}).Apply(t.Context(), live.DeepCopy(), client.ApplyConfigurationFromUnstructured(config.DeepCopy()))
	g.Expect(withSchema, err).To(BeFalse(), "sent with the schema")
	g.Expect(rec.Requests()).To(BeEmpty(), "requests with the schema")
	withoutSchema, err := ssa.NewApplier(c, manager, ssa.ApplierOptions{}).Apply(t.Context(), live.DeepCopy(), client.ApplyConfigurationFromUnstructured(config.DeepCopy()))

	g.Expect(withoutSchema, err).To(BeTrue(), "sent without the schema")
	g.Expect(rec.Writes()).To(HaveLen(1), "write requests without the schema")
}

// A dry run's answer shows what was not stored: the caller's copy is left as it was.
func TestApplier_LeavesItsCopyAsItWasAfterADryRun(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	live := applied(t, settings(ns, map[string]string{"color": "blue"}))
	before := live.DeepCopy()

	sent, err := ssa.NewApplier(cluster.Client, manager, ssa.ApplierOptions{}).Apply(t.Context(), live, settings(ns, map[string]string{"color": "red"}), client.DryRunAll)

	g.Expect(sent, err).To(BeTrue())
	if d := cmp.Diff(before, live); d != "" {
		t.Errorf("the caller's copy after a dry run (-want +got):\n%s", d)
	}
	stored := applied(t, settings(ns, map[string]string{"color": "blue"}))
	g.Expect(stored.ResourceVersion).To(Equal(before.ResourceVersion), "the dry run or the check wrote")
}

// Row 30: the server rewrites an Apply entry written through another apiVersion (HPA
// autoscaling/v2, then read and applied at autoscaling/v1): that is a change, and the applier
// sends.
func TestRow30_ApplyThroughAnotherVersionRewritesTheManagersEntry(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	g.Expect(cluster.Client.Apply(t.Context(), autoscalingv2ac.HorizontalPodAutoscaler("hpa", ns).
		WithSpec(autoscalingv2ac.HorizontalPodAutoscalerSpec().WithMaxReplicas(3).
			WithScaleTargetRef(autoscalingv2ac.CrossVersionObjectReference().WithKind("Deployment").WithName("web").WithAPIVersion("apps/v1"))),
		client.FieldOwner("creator"))).To(Succeed())
	g.Expect(cluster.Client.Apply(t.Context(), autoscalingv2ac.HorizontalPodAutoscaler("hpa", ns).WithLabels(map[string]string{"team": "a"}),
		client.FieldOwner(manager))).To(Succeed())
	live := &autoscalingv1.HorizontalPodAutoscaler{}
	g.Expect(cluster.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "hpa"}, live)).To(Succeed())
	rv := live.ResourceVersion
	c, rec := cluster.RecordingClient(t)

	sent, err := ssa.NewApplier(c, manager, ssa.ApplierOptions{}).Apply(t.Context(), live, autoscalingv1ac.HorizontalPodAutoscaler("hpa", ns).WithLabels(map[string]string{"team": "a"}))

	g.Expect(sent, err).To(BeTrue())
	g.Expect(rec.Writes()).To(HaveLen(1), "write requests")
	g.Expect(live.ResourceVersion).NotTo(Equal(rv), "the server wrote nothing")
	var entries []string
	for _, e := range live.ManagedFields {
		if e.Manager == manager {
			entries = append(entries, e.APIVersion)
		}
	}
	g.Expect(entries).To(Equal([]string{"autoscaling/v1"}), "the apiVersion of the manager's entry")
}
