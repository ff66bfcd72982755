package applier

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ssakit/ssakit/internal/testcluster"
	"github.com/ssakit/ssakit/pkg/ssa"
)

// The drift check with answers without managedFields (KEP-5958, docs/ssa-semantics.md row 32):
// the copy an Apply hands back, and the next reconcile gives it, cannot show the manager's entry,
// so the Applier sends every apply; and the server, which still records the entry, keeps each
// apply declarative.
func TestApplier_WithoutManagedFieldsInAnswersSendsEveryApplyAndStaysDeclarative(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	cfg, rec := testcluster.Recording(testcluster.WithoutManagedFields(cluster.Config))
	c := cluster.ClientFor(t, cfg)
	applier := ssa.NewApplier(c, manager, ssa.ApplierOptions{})
	sent, err := applier.Apply(t.Context(), nil, settings(ns, map[string]string{"color": "blue", "size": "L"}))
	g.Expect(sent, err).To(BeTrue(), "the first Apply")
	live := &corev1.ConfigMap{}
	g.Expect(c.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "settings"}, live)).To(Succeed())
	g.Expect(live.ManagedFields).To(BeEmpty(), "the copy read")

	for _, data := range []map[string]string{{"color": "blue"}, {"color": "blue"}} {
		sent, err := applier.Apply(t.Context(), live, settings(ns, data))
		g.Expect(sent, err).To(BeTrue(), "Apply of %v", data)
		g.Expect(live.ManagedFields).To(BeEmpty(), "the answer handed back")
	}

	var methods []string
	for _, r := range rec.Requests() {
		methods = append(methods, r.Method)
	}
	if d := cmp.Diff([]string{http.MethodPatch, http.MethodGet, http.MethodPatch, http.MethodPatch}, methods); d != "" {
		t.Errorf("requests (-want +got):\n%s", d)
	}
	stored := &corev1.ConfigMap{}
	g.Expect(cluster.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "settings"}, stored)).To(Succeed())
	if d := cmp.Diff(map[string]string{"color": "blue"}, stored.Data); d != "" {
		t.Errorf("data: the key the second apply left out is gone (-want +got):\n%s", d)
	}
}
