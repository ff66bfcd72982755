package semantics

import (
	"net/http"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Row 21: an apply that changes nothing is not written: resourceVersion and the managedFields
// timestamps stay. It still costs one round trip.
func TestRow21_NoOpApplyIsNotWritten(t *testing.T) {
	for _, k := range bothKinds {
		t.Run(k.name, func(t *testing.T) {
			g := NewWithT(t)
			ns := cluster.Namespace(t)
			obj := createAsUser(t, k, ns, "row21")
			mustApply(t, finalizerManager, finalizerConfig(k, ns, "row21", obj.GetUID(), "example.com/fin"))
			before := get(t, k, ns, "row21")
			c, rec := cluster.RecordingClient(t)

			g.Expect(applyAs(t.Context(), c, finalizerManager, finalizerConfig(k, ns, "row21", obj.GetUID(), "example.com/fin"))).To(Succeed())

			g.Expect(rec.Requests()).To(HaveLen(1), "round trips")
			after := get(t, k, ns, "row21")
			g.Expect(after.GetResourceVersion()).To(Equal(before.GetResourceVersion()), "resourceVersion")
			diff(t, "managedFields", before.GetManagedFields(), after.GetManagedFields())
		})
	}
}

// Row 22: Client.Apply writes the server's answer back into the apply configuration it was
// given. An unstructured configuration takes managedFields too, so sending it again is refused.
func TestRow22_ReusedUnstructuredApplyConfigurationIsRefused(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	c, rec := cluster.RecordingClient(t)
	config := finalizerConfig(configMap, ns, "row22", "", "example.com/fin")

	g.Expect(applyAs(t.Context(), c, finalizerManager, config)).To(Succeed())
	g.Expect(config.GetManagedFields()).NotTo(BeEmpty(), "managedFields written back into the configuration")

	err := applyAs(t.Context(), c, finalizerManager, config)

	g.Expect(err).To(MatchError(ContainSubstring("metadata.managedFields must be nil")))
	g.Expect(rec.Requests()).To(HaveLen(2))
	g.Expect(rec.Requests()[1].StatusCode).To(Equal(http.StatusBadRequest))
	diff(t, "finalizers", []string{"example.com/fin"}, get(t, configMap, ns, "row22").GetFinalizers())
}

// Row 22: a generated (typed) apply configuration has no managedFields field, but it takes the
// answer's resourceVersion, so sending it again after any other write is a 409 Conflict.
func TestRow22_ReusedTypedApplyConfigurationCarriesAStaleResourceVersion(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	config := corev1ac.ConfigMap("row22-typed", ns).WithFinalizers("example.com/fin")
	g.Expect(cluster.Client.Apply(t.Context(), config, client.FieldOwner(finalizerManager))).To(Succeed())
	g.Expect(config.ResourceVersion).NotTo(BeNil(), "resourceVersion written back into the configuration")
	mustApply(t, "other/finalizers", finalizerConfig(configMap, ns, "row22-typed", "", "example.com/other"))

	err := cluster.Client.Apply(t.Context(), config, client.FieldOwner(finalizerManager))

	status := statusError(t, err)
	g.Expect(status.Code).To(Equal(int32(http.StatusConflict)))
	g.Expect(status.Message).To(ContainSubstring("the object has been modified"))
	got := &corev1.ConfigMap{}
	g.Expect(cluster.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "row22-typed"}, got)).To(Succeed())
	diff(t, "finalizers", []string{"example.com/fin", "example.com/other"}, sorted(got.Finalizers))
}
