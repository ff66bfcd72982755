package plugin

import (
	"context"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrlclient "sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ssakit/ssakit/internal/testcluster"
)

// refusal is the message of the admission policy finalizerChangesRefused installs.
const refusal = "finalizers of Widgets are changed by the widgets controller alone"

// An admission policy refuses the migration's write (the finalizer under its new name): the
// server dry run and the real run both exit 2 with a message that names the policy and says
// what to do, and the object is as it was.
func TestMigrate_AnAdmissionPolicyRefusalNamesThePolicyAndWritesNothing(t *testing.T) {
	ns := cluster.Namespace(t)
	legacyFinalizer(t, userWidget(t, ns, "renamed"), oldName)
	migrator := migratorUser(t, ns)
	policy := finalizerChangesRefused(t, ns, migrator)
	before := live(t, key(ns, "renamed"))

	for _, mode := range []string{"--dry-run=server", "--dry-run=none"} {
		r := plugin(t, ns, "migrate", widgets, "renamed", "--controller", "widgets", "--finalizer", cleanup, "--former-name", oldName, mode, "--as", migrator)

		diff(t, mode+": exit code", 2, r.code)
		last := lastLine(r.stderr)
		for _, want := range []string{
			"(422): ValidatingAdmissionPolicy '" + policy + "' with binding '" + policy + "' denied request: " + refusal + ". ",
			"kubectl get validatingadmissionpolicy " + policy + " -o yaml",
			`field manager "` + finalizerManager + `"`,
		} {
			if !strings.Contains(last, want) {
				t.Errorf("%s: the error does not say %q:\n%s", mode, want, r.stderr)
			}
		}
		if strings.Contains(last, "run the command again") {
			t.Errorf("%s: the error advises to run again:\n%s", mode, last)
		}
	}
	after := live(t, key(ns, "renamed"))
	diff(t, "resourceVersion", before.GetResourceVersion(), after.GetResourceVersion())
	diff(t, "managedFields", before.GetManagedFields(), after.GetManagedFields())
	diff(t, "finalizers", []string{oldName}, after.GetFinalizers())
}

// migratorUser is a user, for --as, who may get, list and patch Widgets in namespace: all that
// migrate needs.
func migratorUser(t *testing.T, namespace string) string {
	t.Helper()
	name := "migrator-" + namespace
	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "widget-migrator"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{testcluster.WidgetGVK.Group}, Resources: []string{"widgets"}, Verbs: []string{"get", "list", "patch"}}},
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "widget-migrator"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: name}},
	}
	for _, obj := range []ctrlclient.Object{role, binding} {
		if err := cluster.Client.Create(t.Context(), obj); err != nil {
			t.Fatal(err)
		}
	}
	return name
}

// finalizerChangesRefused installs a ValidatingAdmissionPolicy, bound to namespace, that refuses
// every write of user that changes the finalizers of a Widget, and waits until the API server
// enforces it (it loads policies in the background). It returns the policy's name, which is its
// binding's too; the test's end removes both.
func finalizerChangesRefused(t *testing.T, namespace, user string) string {
	t.Helper()
	g := NewWithT(t)
	finalizers := func(o string) string {
		return "(has(" + o + ".metadata.finalizers) ? " + o + ".metadata.finalizers : [])"
	}
	policy := &admissionregistrationv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "widget-finalizers-" + namespace},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: ptr.To(admissionregistrationv1.Fail),
			MatchConstraints: &admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionregistrationv1.RuleWithOperations{
					Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Update},
					Rule: admissionregistrationv1.Rule{
						APIGroups: []string{testcluster.WidgetGVK.Group}, APIVersions: []string{testcluster.WidgetGVK.Version}, Resources: []string{"widgets"},
					},
				},
			}}},
			MatchConditions: []admissionregistrationv1.MatchCondition{{Name: "by-the-migrator", Expression: "request.userInfo.username == '" + user + "'"}},
			Validations:     []admissionregistrationv1.Validation{{Expression: finalizers("object") + " == " + finalizers("oldObject"), Message: refusal}},
		},
	}
	binding := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: policy.Name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        policy.Name,
			ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny},
			MatchResources: &admissionregistrationv1.MatchResources{NamespaceSelector: &metav1.LabelSelector{
				MatchLabels: map[string]string{corev1.LabelMetadataName: namespace},
			}},
		},
	}
	g.Expect(cluster.Client.Create(t.Context(), policy)).To(Succeed())
	g.Expect(cluster.Client.Create(t.Context(), binding)).To(Succeed())
	t.Cleanup(func() {
		// t.Context() is already cancelled when cleanups run.
		_ = cluster.Client.Delete(context.Background(), binding)
		_ = cluster.Client.Delete(context.Background(), policy)
	})
	config := rest.CopyConfig(cluster.Config)
	config.Impersonate = rest.ImpersonationConfig{UserName: user}
	as := cluster.ClientFor(t, config)
	probe := userWidget(t, namespace, "policy-probe")
	g.Eventually(func() error {
		w := &testcluster.Widget{}
		if err := as.Get(t.Context(), ctrlclient.ObjectKeyFromObject(probe), w); err != nil {
			return err
		}
		changed, _ := w.DeepCopyObject().(*testcluster.Widget)
		changed.Finalizers = append(changed.Finalizers, "example.com/probe")
		return as.Patch(t.Context(), changed, ctrlclient.MergeFrom(w), ctrlclient.DryRunAll)
	}).WithTimeout(30*time.Second).WithPolling(100*time.Millisecond).Should(MatchError(ContainSubstring(refusal)), "the policy is in force")
	return policy.Name
}
