package semantics

import (
	"os/exec"
	"path/filepath"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ssakit/ssakit/internal/testcluster"
)

// Row 32: a client may ask for answers without managedFields (KEP-5958's Accept parameter). No
// release tested here honours it: the parameter is ignored, and every answer (an apply's, a get, a
// list) carries managedFields. When a release starts honouring it, this test fails: correct row
// 32, which says what ssakit does with such answers.
func TestRow32_AnswersCarryManagedFieldsThoughTheClientAsksToDropThem(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	c := cluster.ClientFor(t, testcluster.AskingToDropManagedFields(cluster.Config))

	for _, k := range bothKinds {
		obj := createAsUser(t, k, ns, "row32")
		answer := finalizerConfig(k, ns, "row32", obj.GetUID(), "example.com/fin")
		g.Expect(applyAs(t.Context(), c, finalizerManager, answer)).To(Succeed())
		g.Expect(answer.GetManagedFields()).NotTo(BeEmpty(), "%s: the apply's answer", k.name)
		read := &unstructured.Unstructured{}
		read.SetGroupVersionKind(k.gvk)
		g.Expect(c.Get(t.Context(), client.ObjectKeyFromObject(obj), read)).To(Succeed())
		g.Expect(read.GetManagedFields()).NotTo(BeEmpty(), "%s: a get", k.name)
	}
	list := &corev1.ConfigMapList{}
	g.Expect(c.List(t.Context(), list, client.InNamespace(ns))).To(Succeed())
	g.Expect(list.Items).NotTo(BeEmpty())
	for _, item := range list.Items {
		g.Expect(item.ManagedFields).NotTo(BeEmpty(), "a list's item %s", item.Name)
	}
}

// Row 32: kube-apiserver does not know KEP-5958's feature gates in any release tested here: it
// refuses to start with them.
func TestRow32_KubeAPIServerRefusesTheOptOutFeatureGates(t *testing.T) {
	g := NewWithT(t)
	for _, gate := range []string{"ManagedFieldsOptOut", "ManagedFieldsOptOutClient"} {
		out, err := exec.CommandContext(t.Context(), filepath.Join(cluster.AssetsDir, "kube-apiserver"), "--feature-gates="+gate+"=true").CombinedOutput()
		g.Expect(err).To(HaveOccurred(), "kube-apiserver started with %s", gate)
		g.Expect(string(out)).To(ContainSubstring("unrecognized feature gate: "+gate), "kube-apiserver's answer to --feature-gates=%s=true", gate)
	}
}
