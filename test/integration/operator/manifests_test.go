package operator

import (
	"maps"
	"slices"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mirrorv1alpha1 "github.com/ssakit/ssakit/example/operator/api/v1alpha1"
	"github.com/ssakit/ssakit/example/operator/config"
	"github.com/ssakit/ssakit/example/operator/controller"
	"github.com/ssakit/ssakit/example/operator/demo"
	"github.com/ssakit/ssakit/pkg/ssa"
)

// Finalizers need only patch: the generated ClusterRole must never grant update or create on
// ConfigMirrors.
func TestRole_GrantsNoUpdateOrCreateOnConfigMirrors(t *testing.T) {
	role, err := generatedRole()
	if err != nil {
		t.Fatal(err)
	}
	var granted []string
	for _, rule := range role.Rules {
		for _, resource := range rule.Resources {
			if slices.Contains(rule.APIGroups, "mirror.ssakit.dev") && strings.HasPrefix(resource, "configmirrors") {
				for _, verb := range rule.Verbs {
					granted = append(granted, resource+":"+verb)
				}
			}
		}
	}
	slices.Sort(granted)
	NewWithT(t).Expect(granted).To(Equal([]string{
		"configmirrors/status:patch", "configmirrors:get", "configmirrors:list", "configmirrors:patch", "configmirrors:watch",
	}))
}

// A namespace's consent is an annotation on the Namespace: the generated ClusterRole must never
// let the operator write one, and so grant itself a consent.
func TestRole_CannotGrantItselfANamespacesConsent(t *testing.T) {
	role, err := generatedRole()
	if err != nil {
		t.Fatal(err)
	}
	var granted []string
	for _, rule := range role.Rules {
		if slices.Contains(rule.APIGroups, "") && slices.ContainsFunc(rule.Resources, func(r string) bool { return strings.HasPrefix(r, "namespaces") || r == "*" }) {
			granted = append(granted, rule.Verbs...)
		}
	}
	slices.Sort(granted)
	NewWithT(t).Expect(granted).To(Equal([]string{"get", "list", "watch"}))
}

// Every manifest under config/ is accepted by the API server (server-side dry-run apply).
func TestManifests_PassAServerSideDryRunApply(t *testing.T) {
	objects, err := config.Objects()
	if err != nil {
		t.Fatal(err)
	}
	// Namespaced manifests need their namespace to exist, even for a dry run.
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "configmirror-system"}}
	if err := user.Create(t.Context(), ns); client.IgnoreAlreadyExists(err) != nil {
		t.Fatal(err)
	}
	var files []string
	for _, path := range slices.Sorted(maps.Keys(objects)) {
		files = append(files, path)
		for _, obj := range objects[path] {
			t.Run(path+"/"+obj.GetKind()+"/"+obj.GetName(), func(t *testing.T) {
				err := user.Apply(t.Context(), client.ApplyConfigurationFromUnstructured(obj.DeepCopy()), client.FieldOwner("dry-run"), client.DryRunAll)
				if err != nil {
					t.Errorf("dry-run apply of %s %s from config/%s: %v", obj.GetKind(), obj.GetName(), path, err)
				}
			})
		}
	}
	NewWithT(t).Expect(files).To(Equal([]string{
		"admission/finalizer_policy.yaml",
		"admission/policy.yaml",
		"admission/policy_binding.yaml",
		"crd/mirror.ssakit.dev_configmirrors.yaml",
		"manager/deployment.yaml",
		"manager/namespace.yaml",
		"rbac/leader_election_role.yaml",
		"rbac/role.yaml",
		"rbac/role_binding.yaml",
		"rbac/service_account.yaml",
	}), "manifests checked")
}

// The demo's story, the same code `make demo` runs, ends with managers whose fields never overlapped.
func TestDemoStory_EndsWithManagersThatDoNotOverlap(t *testing.T) {
	g := NewWithT(t)
	var out strings.Builder
	prefix := cluster.Namespace(t) + "-"

	verdict, err := (&demo.Story{Client: user, Out: &out, Prefix: prefix}).Run(t.Context())

	g.Expect(err).NotTo(HaveOccurred(), "story:\n%s", out.String())
	g.Expect(verdict.Overlaps).To(BeEmpty())
	g.Expect(out.String()).To(ContainSubstring("verdict: PASS"))
	g.Expect(out.String()).To(ContainSubstring(`.metadata.finalizers[="mirror.ssakit.dev/cleanup"]`))
	g.Expect(out.String()).To(ContainSubstring("Ready=False, reason NamespaceNotConsenting: 1 of 3 targets not synced: namespace " + prefix + "platform does not accept copies from"))
}

// The demo's -keep leaves the previous release's finalizer, a former name of the operator's, on
// legacy-mirror, owned by its Update, next to the operator's own, so that kubectl ssakit has
// something to migrate.
func TestDemoExplore_LeavesTheFormerNameNextToTheOperatorsFinalizer(t *testing.T) {
	g := NewWithT(t)
	var out strings.Builder
	prefix := cluster.Namespace(t) + "-"
	story := &demo.Story{Client: user, Out: &out, Prefix: prefix}
	_, err := story.Run(t.Context())
	g.Expect(err).NotTo(HaveOccurred(), "story:\n%s", out.String())

	g.Expect(story.Explore(t.Context())).To(Succeed(), "story:\n%s", out.String())

	legacy := &mirrorv1alpha1.ConfigMirror{}
	g.Expect(user.Get(t.Context(), client.ObjectKey{Namespace: prefix + "demo", Name: "legacy-mirror"}, legacy)).To(Succeed())
	g.Expect(legacy.Finalizers).To(ConsistOf(controller.Finalizer, demo.FormerFinalizer))
	ownership, err := ssa.ParseOwnership(legacy.ManagedFields)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(ownership.Owners(ssa.FinalizerPath(demo.FormerFinalizer))).To(Equal([]string{demo.LegacyManager}))
	g.Expect(ownership.Owners(ssa.FinalizerPath(controller.Finalizer))).To(ContainElement(controller.FinalizerFieldOwner))
}
