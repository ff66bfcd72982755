package operator

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mirrorv1alpha1 "github.com/ssakit/ssakit/example/operator/api/v1alpha1"
	mirrorac "github.com/ssakit/ssakit/example/operator/api/v1alpha1/applyconfiguration/api/v1alpha1"
	"github.com/ssakit/ssakit/example/operator/controller"
)

// The operator holds cluster-wide rights on ConfigMaps; these tests pin that it never lends them
// to whoever writes a ConfigMirror. Here no admission policy is installed (a cluster that skipped
// config/admission): the operator's own guard, a namespace's consent, is all there is.

// accepting creates a namespace for one test that accepts copies from the namespaces from, with
// the annotation in its create: the operator's cache never holds it without its consent.
func accepting(t *testing.T, from ...string) string {
	t.Helper()
	return cluster.AnnotatedNamespace(t, map[string]string{controller.AcceptFromAnnotation: strings.Join(from, ",")})
}

// accept sets the namespace's consent to from, as its admin would with kubectl annotate
// --overwrite; with no from it removes the annotation, withdrawing every consent.
func accept(t *testing.T, namespace string, from ...string) {
	t.Helper()
	var value any
	if len(from) > 0 {
		value = strings.Join(from, ",")
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]any{controller.AcceptFromAnnotation: value}}})
	if err != nil {
		t.Fatal(err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}
	if err := user.Patch(context.Background(), ns, client.RawPatch(types.MergePatchType, patch), client.FieldOwner("kubectl-annotate")); err != nil {
		t.Fatalf("annotating namespace %s: %v", namespace, err)
	}
}

// acceptForTheTest sets the consent of a namespace that outlives the test (kube-system, the
// operator's), and puts the annotation back as it was when the test ends.
func acceptForTheTest(t *testing.T, namespace string, from ...string) {
	t.Helper()
	ns := &corev1.Namespace{}
	if err := user.Get(t.Context(), client.ObjectKey{Name: namespace}, ns); err != nil {
		t.Fatal(err)
	}
	before, had := ns.Annotations[controller.AcceptFromAnnotation]
	t.Cleanup(func() {
		if had {
			accept(t, namespace, before)
		} else {
			accept(t, namespace)
		}
	})
	accept(t, namespace, from...)
}

// tenant returns a client for a new user who may do anything with ConfigMaps and ConfigMirrors
// in namespaces, through a Role and a RoleBinding in each, and nothing else: a tenant of a
// multi-tenant cluster.
func tenant(t *testing.T, namespaces ...string) client.Client {
	t.Helper()
	g := NewWithT(t)
	name := "tenant-of-" + namespaces[0]
	for _, ns := range namespaces {
		role := &rbacv1.Role{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "tenant"},
			Rules: []rbacv1.PolicyRule{
				{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{rbacv1.VerbAll}},
				{APIGroups: []string{"mirror.ssakit.dev"}, Resources: []string{"configmirrors"}, Verbs: []string{rbacv1.VerbAll}},
			},
		}
		binding := &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "tenant"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
			Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: name}},
		}
		g.Expect(user.Create(t.Context(), role)).To(Succeed())
		g.Expect(user.Create(t.Context(), binding)).To(Succeed())
	}
	cfg, err := cluster.AddUser(name)
	g.Expect(err).NotTo(HaveOccurred())
	c, err := client.New(cfg, client.Options{Scheme: user.Scheme()})
	g.Expect(err).NotTo(HaveOccurred())
	// The API server's authorizer sees a new binding a moment after it is created.
	for _, ns := range namespaces {
		g.Eventually(func() error {
			return c.Create(t.Context(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "rbac-probe"}}, client.DryRunAll)
		}).WithTimeout(eventually).WithPolling(poll).Should(Succeed(), "the tenant's Role in %s is in force", ns)
	}
	return c
}

// tenantsMirror applies ConfigMirror "mirror" of source "settings" in namespace as the tenant c,
// and deletes it when the test ends.
func tenantsMirror(t *testing.T, c client.Client, namespace string, targets ...string) *mirrorv1alpha1.ConfigMirror {
	t.Helper()
	config := mirrorac.ConfigMirror("mirror", namespace).
		WithSpec(mirrorac.ConfigMirrorSpec().WithSource("settings").WithTargetNamespaces(targets...))
	if err := c.Apply(t.Context(), config, client.FieldOwner("kubectl")); err != nil {
		t.Fatalf("applying the tenant's ConfigMirror: %v", err)
	}
	mirror := &mirrorv1alpha1.ConfigMirror{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "mirror"}}
	t.Cleanup(func() { _ = client.IgnoreNotFound(user.Delete(context.Background(), mirror.DeepCopy())) })
	return mirror
}

// The story, on a cluster without the admission policy: a tenant who may write only in
// its own namespace points a ConfigMirror at namespaces that have not agreed to receive its
// copies. The operator writes nothing there, and says why, in status and in a Warning event.
func TestNever_CopiesIntoANamespaceThatHasNotConsented(t *testing.T) {
	g := NewWithT(t)
	home := cluster.Namespace(t)
	platform, elsewhere, granted := cluster.Namespace(t), accepting(t, "some-other-team"), accepting(t, home)
	tenantA := tenant(t, home)
	err := tenantA.Create(t.Context(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: platform, Name: "settings"}})
	g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "the tenant may not write in %s itself: %v", platform, err)
	g.Expect(tenantA.Apply(t.Context(), corev1ac.ConfigMap("settings", home).WithData(map[string]string{"mode": "fast"}), client.FieldOwner("kubectl"))).To(Succeed())

	mirror := tenantsMirror(t, tenantA, home, platform, elsewhere, granted)

	g.Eventually(readiness(t.Context(), mirror)).WithTimeout(eventually).WithPolling(poll).Should(Equal([]string{
		platform + " NamespaceNotConsenting", elsewhere + " NamespaceNotConsenting", granted + " Synced", "Ready False NamespaceNotConsenting",
	}))
	g.Expect(copies(t.Context(), platform, elsewhere, granted)()).To(Equal([]map[string]string{nil, nil, {"mode": "fast"}}))
	g.Expect(writesIn(operatorRequests, platform, elsewhere)).To(BeEmpty(), "the operator's writes where no one agreed")
	message := readyMessage(t, mirror)
	// One wording whether a namespace has no annotation or one that names others: the
	// namespace's list is its own business.
	refusal := func(ns string) string {
		return "namespace " + ns + " does not accept copies from " + home + "; the operator writes nothing there: an admin of " +
			ns + " must name " + home + " in its annotation " + controller.AcceptFromAnnotation
	}
	g.Expect(message).To(ContainSubstring(refusal(platform)))
	g.Expect(message).To(ContainSubstring(refusal(elsewhere)))
	g.Expect(message).NotTo(ContainSubstring("some-other-team"), "the namespace's list is its own business")
	g.Eventually(warnings(t.Context(), mirror)).WithTimeout(eventually).WithPolling(poll).Should(ConsistOf(
		HavePrefix("NamespaceNotConsenting: "+refusal(platform)),
		HavePrefix("NamespaceNotConsenting: "+refusal(elsewhere)),
	))
}

// kube-system, and the namespace the operator runs in, hold what the cluster runs on: a
// wildcard consent does not cover them.
func TestNever_CopiesIntoKubeSystemOrItsOwnNamespaceOnAWildcard(t *testing.T) {
	g := NewWithT(t)
	home, anyone := cluster.Namespace(t), accepting(t, "*")
	acceptForTheTest(t, metav1.NamespaceSystem, "*")
	acceptForTheTest(t, operatorNamespace, "*")
	source := "settings-" + home // kube-system and the operator's namespace outlive the test
	applySourceNamed(t, home, source, map[string]string{"mode": "fast"})

	mirror := applyMirrorNamed(t, home, "mirror", source, metav1.NamespaceSystem, operatorNamespace, anyone)

	g.Eventually(readiness(t.Context(), mirror)).WithTimeout(eventually).WithPolling(poll).Should(Equal([]string{
		metav1.NamespaceSystem + " NamespaceNotConsenting", operatorNamespace + " NamespaceNotConsenting", anyone + " Synced", "Ready False NamespaceNotConsenting",
	}))
	g.Expect(copiesNamed(t.Context(), source, metav1.NamespaceSystem, operatorNamespace, anyone)()).To(Equal([]map[string]string{nil, nil, {"mode": "fast"}}))
	message := readyMessage(t, mirror)
	// The wording of any namespace without consent: nothing says what the annotation holds.
	for _, ns := range []string{metav1.NamespaceSystem, operatorNamespace} {
		g.Expect(message).To(ContainSubstring("namespace " + ns + " does not accept copies from " + home + "; the operator writes nothing there: an admin of " +
			ns + " must name " + home + " in its annotation " + controller.AcceptFromAnnotation))
	}
}

func TestConsent_NamingTheSourceNamespaceLetsCopiesIntoKubeSystemAndTheOperatorsNamespace(t *testing.T) {
	g := NewWithT(t)
	home := cluster.Namespace(t)
	acceptForTheTest(t, metav1.NamespaceSystem, "some-other-team", home)
	acceptForTheTest(t, operatorNamespace, home)
	source := "settings-" + home
	applySourceNamed(t, home, source, map[string]string{"mode": "fast"})

	mirror := applyMirrorNamed(t, home, "mirror", source, metav1.NamespaceSystem, operatorNamespace)

	g.Eventually(readiness(t.Context(), mirror)).WithTimeout(eventually).WithPolling(poll).Should(Equal([]string{
		metav1.NamespaceSystem + " Synced", operatorNamespace + " Synced", "Ready True Synced",
	}))
	g.Expect(copiesNamed(t.Context(), source, metav1.NamespaceSystem, operatorNamespace)()).To(Equal([]map[string]string{{"mode": "fast"}, {"mode": "fast"}}))
	deleteMirror(t, mirror)
	g.Expect(copiesNamed(t.Context(), source, metav1.NamespaceSystem, operatorNamespace)()).To(Equal([]map[string]string{nil, nil}))
}

// A namespace that withdraws its consent loses the mirror's copy, and only it: a clone of the
// copy, label and all, and the namespace's other ConfigMaps stay as they are.
func TestConsent_WithdrawnDeletesTheCopyAndNothingElse(t *testing.T) {
	g := NewWithT(t)
	home := cluster.Namespace(t)
	target := accepting(t, home)
	mirror := syncedMirror(t, home, map[string]string{"mode": "fast"}, target)
	copied := &corev1.ConfigMap{}
	g.Expect(user.Get(t.Context(), client.ObjectKey{Namespace: target, Name: "settings"}, copied)).To(Succeed())
	clone := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: target, Name: "settings-backup", Labels: copied.Labels, Annotations: copied.Annotations},
		Data:       copied.Data,
	}
	g.Expect(user.Create(t.Context(), clone, client.FieldOwner("kubectl-create"))).To(Succeed())
	users := usersConfigMap(t, target, "billing")

	accept(t, target)

	g.Eventually(copies(t.Context(), target)).WithTimeout(eventually).WithPolling(poll).Should(Equal([]map[string]string{nil}), "the copy is deleted")
	g.Eventually(readiness(t.Context(), mirror)).WithTimeout(eventually).WithPolling(poll).
		Should(Equal([]string{target + " NamespaceNotConsenting", "Ready False NamespaceNotConsenting"}))
	unchanged(t, clone)
	unchanged(t, users)
	g.Eventually(warnings(t.Context(), mirror)).WithTimeout(eventually).WithPolling(poll).
		Should(ConsistOf(HavePrefix("NamespaceNotConsenting: namespace " + target + " does not accept copies from")))
}

// Once a namespace has withdrawn its consent, a change of the source writes nothing there.
func TestConsent_WithdrawnMeansNoNewWrite(t *testing.T) {
	g := NewWithT(t)
	home := cluster.Namespace(t)
	target, other := accepting(t, home), accepting(t, home)
	applySource(t, home, map[string]string{"mode": "fast"})
	mirror := applyMirror(t, home, target, other)
	g.Eventually(readiness(t.Context(), mirror)).WithTimeout(eventually).WithPolling(poll).Should(Equal([]string{target + " Synced", other + " Synced", "Ready True Synced"}))
	accept(t, target)
	g.Eventually(readiness(t.Context(), mirror)).WithTimeout(eventually).WithPolling(poll).
		Should(Equal([]string{target + " NamespaceNotConsenting", other + " Synced", "Ready False NamespaceNotConsenting"}))
	g.Expect(copies(t.Context(), target)()).To(Equal([]map[string]string{nil}))
	operatorRequests.Reset()

	applySource(t, home, map[string]string{"mode": "safe"})

	g.Eventually(copies(t.Context(), other)).WithTimeout(eventually).WithPolling(poll).Should(Equal([]map[string]string{{"mode": "safe"}}), "the source change was reconciled")
	g.Consistently(copies(t.Context(), target)).WithTimeout(time.Second).WithPolling(poll).Should(Equal([]map[string]string{nil}))
	g.Expect(writesIn(operatorRequests, target)).To(BeEmpty(), "the operator's writes after the consent was withdrawn")
}

// A namespace that agrees later gets its copy at once: the operator watches namespaces, it does
// not poll them.
func TestConsent_GrantedLaterBringsTheCopy(t *testing.T) {
	g := NewWithT(t)
	home, target := cluster.Namespace(t), cluster.Namespace(t)
	applySource(t, home, map[string]string{"mode": "fast"})
	mirror := applyMirror(t, home, target)
	g.Eventually(readiness(t.Context(), mirror)).WithTimeout(eventually).WithPolling(poll).
		Should(Equal([]string{target + " NamespaceNotConsenting", "Ready False NamespaceNotConsenting"}))

	accept(t, target, "some-other-team", home)

	g.Eventually(copies(t.Context(), target)).WithTimeout(5 * time.Second).WithPolling(poll).Should(Equal([]map[string]string{{"mode": "fast"}}))
	g.Eventually(readiness(t.Context(), mirror)).WithTimeout(eventually).WithPolling(poll).Should(Equal([]string{target + " Synced", "Ready True Synced"}))
}
