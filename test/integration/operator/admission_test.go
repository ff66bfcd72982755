package operator

import (
	"context"
	"slices"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mirrorv1alpha1 "github.com/ssakit/ssakit/example/operator/api/v1alpha1"
	mirrorac "github.com/ssakit/ssakit/example/operator/api/v1alpha1/applyconfiguration/api/v1alpha1"
	"github.com/ssakit/ssakit/example/operator/config"
)

// With config/admission installed, the API server itself refuses a ConfigMirror whose author
// could not have written the copies: the check of the requesting user's own rights that the
// operator, which never learns who wrote a spec, cannot make.

// admissionPolicy installs config/admission, as checked in, for one test, and waits until it is
// in force: a policy takes effect a moment after its creation. tenant, with rights in home only,
// probes it.
func admissionPolicy(t *testing.T, tenant client.Client, home string) {
	t.Helper()
	g := NewWithT(t)
	installed := install(t, "admission/policy.yaml", "admission/policy_binding.yaml")
	probe := func() error {
		mirror := &mirrorv1alpha1.ConfigMirror{
			ObjectMeta: metav1.ObjectMeta{Namespace: home, Name: "policy-probe"},
			Spec:       mirrorv1alpha1.ConfigMirrorSpec{Source: "settings", TargetNamespaces: []string{metav1.NamespaceSystem}},
		}
		return tenant.Create(context.Background(), mirror, client.DryRunAll)
	}
	t.Cleanup(func() {
		uninstall(installed)
		// The next test may count on a cluster without the policy.
		NewWithT(t).Eventually(probe).WithTimeout(eventually).WithPolling(poll).Should(Succeed(), "the policy is lifted")
	})
	g.Eventually(probe).WithTimeout(eventually).WithPolling(poll).
		Should(MatchError(ContainSubstring("may not create ConfigMaps in namespace kube-system")), "the policy is in force")
}

// install creates the objects of the files under config/, as checked in, and returns them.
func install(t *testing.T, paths ...string) []*unstructured.Unstructured {
	t.Helper()
	objects, err := config.Objects()
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	var installed []*unstructured.Unstructured
	for _, path := range paths {
		NewWithT(t).Expect(objects[path]).NotTo(BeEmpty(), "config/%s", path)
		for _, obj := range objects[path] {
			obj = obj.DeepCopy()
			NewWithT(t).Expect(user.Create(t.Context(), obj)).To(Succeed(), "installing config/%s", path)
			installed = append(installed, obj)
		}
	}
	return installed
}

// uninstall deletes what install created.
func uninstall(installed []*unstructured.Unstructured) {
	for _, obj := range installed {
		_ = user.Delete(context.Background(), obj)
	}
}

// tenantApplies applies ConfigMirror "mirror" in namespace with source and targets as the tenant c.
func tenantApplies(t *testing.T, c client.Client, namespace, source string, targets ...string) error {
	t.Helper()
	config := mirrorac.ConfigMirror("mirror", namespace).
		WithSpec(mirrorac.ConfigMirrorSpec().WithSource(source).WithTargetNamespaces(targets...))
	return c.Apply(t.Context(), config, client.FieldOwner("kubectl"))
}

// The story, on a cluster with the policy: the tenant's ConfigMirror into platform and
// kube-system never exists, and the answer says which namespaces and which right.
func TestAdmission_RefusesAMirrorIntoNamespacesItsAuthorCannotWriteTo(t *testing.T) {
	g := NewWithT(t)
	home, platform := cluster.Namespace(t), accepting(t, "*")
	tenantA := tenant(t, home)
	admissionPolicy(t, tenantA, home)
	g.Expect(tenantA.Apply(t.Context(), corev1ac.ConfigMap("settings", home).WithData(map[string]string{"mode": "fast"}), client.FieldOwner("kubectl"))).To(Succeed())

	err := tenantApplies(t, tenantA, home, "settings", platform, metav1.NamespaceSystem)

	g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "a Forbidden answer: %v", err)
	g.Expect(err).To(MatchError(ContainSubstring("tenant-of-" + home + " may not create ConfigMaps in namespace " + platform +
		", so a ConfigMirror written by them may not copy settings there (the operator creates, patches and deletes its copy there): remove it from spec.targetNamespaces")))
	err = tenantApplies(t, tenantA, home, "settings", metav1.NamespaceSystem)
	g.Expect(err).To(MatchError(ContainSubstring("tenant-of-" + home + " may not create ConfigMaps in namespace kube-system, so")))
	g.Expect(apierrors.IsNotFound(user.Get(t.Context(), client.ObjectKey{Namespace: home, Name: "mirror"}, &mirrorv1alpha1.ConfigMirror{}))).To(BeTrue(), "the mirror does not exist")
}

// The API server lets one policy make about 28 authorization checks: the policy checks the three
// rights of each of up to 8 new targets, naming the one refused, and refuses a change that adds
// more.
func TestAdmission_ChecksUpToEightNewTargetsAtOnce(t *testing.T) {
	g := NewWithT(t)
	home, platform := cluster.Namespace(t), cluster.Namespace(t)
	var own []string
	for range 8 {
		own = append(own, accepting(t, home))
	}
	tenantA := tenant(t, slices.Concat([]string{home}, own)...)
	admissionPolicy(t, tenantA, home)
	applySource(t, home, map[string]string{"mode": "fast"})

	err := tenantApplies(t, tenantA, home, "settings", slices.Concat(own[:7], []string{platform})...)
	g.Expect(err).To(MatchError(ContainSubstring("tenant-of-"+home+" may not create ConfigMaps in namespace "+platform+", so")), "the 8th refused")
	err = tenantApplies(t, tenantA, home, "settings", slices.Concat(own, []string{platform})...)
	g.Expect(err).To(MatchError(ContainSubstring("a change to a ConfigMirror may add at most 8 target namespaces at once")), "9 targets")
	g.Expect(tenantApplies(t, tenantA, home, "settings", own...)).To(Succeed(), "8 targets the tenant may write to")

	mirror := &mirrorv1alpha1.ConfigMirror{ObjectMeta: metav1.ObjectMeta{Namespace: home, Name: "mirror"}}
	t.Cleanup(func() { _ = client.IgnoreNotFound(user.Delete(context.Background(), mirror.DeepCopy())) })
	g.Eventually(readiness(t.Context(), mirror)).WithTimeout(eventually).WithPolling(poll).Should(ContainElement("Ready True Synced"))
}

// Where the tenant may write, its mirror is accepted, and the operator's own writes to it (its
// finalizer, status) pass the policy.
func TestAdmission_AcceptsAMirrorIntoNamespacesItsAuthorCanWriteTo(t *testing.T) {
	g := NewWithT(t)
	home := cluster.Namespace(t)
	target := accepting(t, home)
	tenantA := tenant(t, home, target)
	admissionPolicy(t, tenantA, home)
	applySource(t, home, map[string]string{"mode": "fast"})

	g.Expect(tenantApplies(t, tenantA, home, "settings", target)).To(Succeed())

	mirror := &mirrorv1alpha1.ConfigMirror{ObjectMeta: metav1.ObjectMeta{Namespace: home, Name: "mirror"}}
	t.Cleanup(func() { _ = client.IgnoreNotFound(user.Delete(context.Background(), mirror.DeepCopy())) })
	g.Eventually(readiness(t.Context(), mirror)).WithTimeout(eventually).WithPolling(poll).Should(Equal([]string{target + " Synced", "Ready True Synced"}))
	g.Expect(copies(t.Context(), target)()).To(Equal([]map[string]string{{"mode": "fast"}}))
	deleteMirror(t, mirror)
}

// An edit that makes the operator write somewhere new is checked like a creation: an added
// target, or a new source, which rewrites every copy.
func TestAdmission_RefusesAnEditThatMakesTheOperatorWriteWhereItsAuthorCannot(t *testing.T) {
	g := NewWithT(t)
	home := cluster.Namespace(t)
	own, platform := accepting(t, home), accepting(t, home)
	tenantA := tenant(t, home, own)
	admissionPolicy(t, tenantA, home)
	applySource(t, home, map[string]string{"mode": "fast"})
	applySourceNamed(t, home, "other", map[string]string{"mode": "other"})
	g.Expect(tenantApplies(t, tenantA, home, "settings", own)).To(Succeed())
	mirror := &mirrorv1alpha1.ConfigMirror{ObjectMeta: metav1.ObjectMeta{Namespace: home, Name: "mirror"}}
	t.Cleanup(func() { _ = client.IgnoreNotFound(user.Delete(context.Background(), mirror.DeepCopy())) })

	err := tenantApplies(t, tenantA, home, "settings", own, platform)

	g.Expect(err).To(MatchError(ContainSubstring("may not create ConfigMaps in namespace "+platform+", so")), "an added target")
	applyMirror(t, home, own, platform) // an admin may
	g.Eventually(readiness(t.Context(), mirror)).WithTimeout(eventually).WithPolling(poll).
		Should(Equal([]string{own + " Synced", platform + " Synced", "Ready True Synced"}))
	err = tenantApplies(t, tenantA, home, "other", own, platform)
	g.Expect(err).To(MatchError(ContainSubstring("may not create ConfigMaps in namespace "+platform+", so")), "a new source")
	g.Expect(copies(t.Context(), own, platform)()).To(Equal([]map[string]string{{"mode": "fast"}, {"mode": "fast"}}))
}

// Edits that make the operator write no new copy are never checked: labels, annotations, and
// taking out a target the editor could not have added.
func TestAdmission_LetsAnyoneMakeAnEditThatWritesNoNewCopy(t *testing.T) {
	g := NewWithT(t)
	home := cluster.Namespace(t)
	own, platform := accepting(t, home), accepting(t, home)
	tenantA := tenant(t, home, own)
	admissionPolicy(t, tenantA, home)
	mirror := syncedMirror(t, home, map[string]string{"mode": "fast"}, platform)
	applyMirror(t, home, own, platform) // an admin's mirror
	g.Eventually(readiness(t.Context(), mirror)).WithTimeout(eventually).WithPolling(poll).
		Should(Equal([]string{own + " Synced", platform + " Synced", "Ready True Synced"}))

	label := mirrorac.ConfigMirror("mirror", home).WithLabels(map[string]string{"team": "a"})
	g.Expect(tenantA.Apply(t.Context(), label, client.FieldOwner("kubectl-label"))).To(Succeed(), "a label")
	live := &mirrorv1alpha1.ConfigMirror{}
	g.Expect(tenantA.Get(t.Context(), client.ObjectKeyFromObject(mirror), live)).To(Succeed())
	live.Spec.TargetNamespaces = []string{own}
	g.Expect(tenantA.Update(t.Context(), live)).To(Succeed(), "taking out a target")

	g.Eventually(copies(t.Context(), own, platform)).WithTimeout(eventually).WithPolling(poll).Should(Equal([]map[string]string{{"mode": "fast"}, nil}))
}

// A tenant who may create ConfigMirrors but not read a ConfigMap cannot have the operator copy
// it somewhere the tenant can read.
func TestAdmission_RefusesAMirrorOfASourceItsAuthorCannotRead(t *testing.T) {
	g := NewWithT(t)
	home := cluster.Namespace(t)
	own := accepting(t, home)
	tenantA := tenant(t, own)
	grant(t, home, "mirror-author", "tenant-of-"+own,
		rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{"settings"}, Verbs: []string{"get"}},
		rbacv1.PolicyRule{APIGroups: []string{"mirror.ssakit.dev"}, Resources: []string{"configmirrors"}, Verbs: []string{rbacv1.VerbAll}})
	applySourceNamed(t, home, "private", map[string]string{"password": "hunter2"})
	applySource(t, home, map[string]string{"mode": "fast"})
	g.Eventually(func() error {
		return tenantA.Get(t.Context(), client.ObjectKey{Namespace: home, Name: "settings"}, &corev1.ConfigMap{})
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed(), "the tenant's Role in %s is in force", home)
	admissionPolicy(t, tenantA, own)

	err := tenantApplies(t, tenantA, home, "private", own)

	g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "a Forbidden answer: %v", err)
	g.Expect(err).To(MatchError(ContainSubstring("tenant-of-" + own + " may not read ConfigMap " + home + "/private, so a ConfigMirror written by them may not copy it")))
	g.Expect(tenantApplies(t, tenantA, home, "settings", own)).To(Succeed(), "a source the tenant can read")
	t.Cleanup(func() {
		_ = client.IgnoreNotFound(user.Delete(context.Background(), &mirrorv1alpha1.ConfigMirror{ObjectMeta: metav1.ObjectMeta{Namespace: home, Name: "mirror"}}))
	})
}

// The operator does more than create its copy: it applies every change of the source to it, and
// deletes it when the target goes. An author who may only create ConfigMaps in a namespace could
// otherwise rewrite and delete, through the operator, a copy they may not touch themselves.
func TestAdmission_RefusesATargetWhereItsAuthorMayCreateButNotPatchOrDeleteConfigMaps(t *testing.T) {
	g := NewWithT(t)
	home := cluster.Namespace(t)
	dropbox := accepting(t, "*")
	tenantA := tenant(t, home)
	grant(t, dropbox, "create-only", "tenant-of-"+home,
		rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"create"}})
	admissionPolicy(t, tenantA, home)
	applySource(t, home, map[string]string{"mode": "fast"})
	g.Eventually(func() error {
		return tenantA.Create(t.Context(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: dropbox, Name: "probe"}}, client.DryRunAll)
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed(), "the tenant may create ConfigMaps in the drop box")

	err := tenantApplies(t, tenantA, home, "settings", dropbox)

	g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "a Forbidden answer: %v", err)
	g.Expect(err).To(MatchError(ContainSubstring("tenant-of-" + home + " may not patch ConfigMaps in namespace " + dropbox +
		", so a ConfigMirror written by them may not copy settings there (the operator creates, patches and deletes its copy there)")))
	g.Expect(copies(t.Context(), dropbox)()).To(Equal([]map[string]string{nil}), "no copy in the drop box")
}

// A tenant who strips the operator's finalizer from a live mirror and deletes it before the
// operator puts the finalizer back would leave its copies behind for good, out of reach of the
// namespaces' consent. With config/admission installed the API server refuses the strip; deleting
// the mirror then runs the cleanup.
func TestAdmission_RefusesToStripTheFinalizerFromALiveMirror(t *testing.T) {
	g := NewWithT(t)
	home := cluster.Namespace(t)
	target := accepting(t, home)
	tenantA := tenant(t, home, target)
	installed := install(t, "admission/finalizer_policy.yaml")
	t.Cleanup(func() { uninstall(installed) })
	mirror := syncedMirror(t, home, map[string]string{"mode": "fast"}, target)
	strip := func() error {
		live := &mirrorv1alpha1.ConfigMirror{}
		if err := tenantA.Get(t.Context(), client.ObjectKeyFromObject(mirror), live); err != nil {
			return err
		}
		live.Finalizers = nil
		return tenantA.Update(t.Context(), live, client.DryRunAll)
	}

	g.Eventually(strip).WithTimeout(eventually).WithPolling(poll).
		Should(MatchError(ContainSubstring("the finalizer mirror.ssakit.dev/cleanup leaves a ConfigMirror only after its deletion has started")), "the policy is in force")

	g.Expect(apierrors.IsForbidden(strip())).To(BeTrue())
	g.Expect(tenantA.Delete(t.Context(), mirror.DeepCopy())).To(Succeed())
	g.Eventually(copies(t.Context(), target)).WithTimeout(eventually).WithPolling(poll).Should(Equal([]map[string]string{nil}), "the copy is cleaned up")
	g.Eventually(gone(t.Context(), mirror)).WithTimeout(eventually).WithPolling(poll).Should(BeTrue(), "the operator removed its finalizer from the terminating mirror")
}

// grant binds a Role named name in namespace, holding rules, to the user username.
func grant(t *testing.T, namespace, name, username string, rules ...rbacv1.PolicyRule) {
	t.Helper()
	g := NewWithT(t)
	g.Expect(user.Create(t.Context(), &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}, Rules: rules})).To(Succeed())
	g.Expect(user.Create(t.Context(), &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: username}},
	})).To(Succeed())
}
