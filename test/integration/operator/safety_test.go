package operator

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	. "github.com/onsi/gomega"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mirrorv1alpha1 "github.com/ssakit/ssakit/example/operator/api/v1alpha1"
	mirrorac "github.com/ssakit/ssakit/example/operator/api/v1alpha1/applyconfiguration/api/v1alpha1"
	"github.com/ssakit/ssakit/example/operator/controller"
)

// Each test here pins one promise of the README's "what the operator will never do" list.

// usersConfigMap creates a ConfigMap as a user would, before any mirror exists, and returns it as
// the server stored it.
func usersConfigMap(t *testing.T, namespace, name string) *corev1.ConfigMap {
	t.Helper()
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: map[string]string{"app": "billing"}},
		Data:       map[string]string{"owner": "the user", "mode": "mine"},
	}
	if err := user.Create(t.Context(), cm, client.FieldOwner("kubectl-create")); err != nil {
		t.Fatalf("creating the user's ConfigMap: %v", err)
	}
	return cm
}

// unchanged fails the test when the ConfigMap differs in any way, managedFields and
// resourceVersion included, from before.
func unchanged(t *testing.T, before *corev1.ConfigMap) {
	t.Helper()
	after := &corev1.ConfigMap{}
	if err := user.Get(t.Context(), client.ObjectKeyFromObject(before), after); err != nil {
		t.Fatalf("the ConfigMap %s/%s: %v", before.Namespace, before.Name, err)
	}
	if d := cmp.Diff(before, after); d != "" {
		t.Fatalf("ConfigMap %s/%s was changed (-before +after):\n%s", before.Namespace, before.Name, d)
	}
}

// syncedMirror applies source "settings" with data in home, and ConfigMirror "mirror" of it into
// target, and waits until the copy is synced.
func syncedMirror(t *testing.T, home string, data map[string]string, target string) *mirrorv1alpha1.ConfigMirror {
	t.Helper()
	applySource(t, home, data)
	mirror := applyMirror(t, home, target)
	NewWithT(t).Eventually(readiness(t.Context(), mirror)).WithTimeout(eventually).WithPolling(poll).
		Should(Equal([]string{target + " Synced", "Ready True Synced"}), "the mirror synced its copy")
	return mirror
}

// warnings returns the reasons and notes of the Warning events about the mirror.
func warnings(ctx context.Context, mirror *mirrorv1alpha1.ConfigMirror) func() []string {
	return func() []string {
		list := &eventsv1.EventList{}
		if err := user.List(ctx, list, client.InNamespace(mirror.Namespace)); err != nil {
			return []string{err.Error()}
		}
		var out []string
		for _, e := range list.Items {
			if e.Type == corev1.EventTypeWarning && e.Regarding.Name == mirror.Name {
				out = append(out, e.Reason+": "+e.Note)
			}
		}
		return out
	}
}

func TestNever_WritesOrDeletesAConfigMapItDidNotCreate(t *testing.T) {
	g := NewWithT(t)
	home := cluster.Namespace(t)
	taken, free := accepting(t, home), accepting(t, home)
	users := usersConfigMap(t, taken, "settings")
	applySource(t, home, map[string]string{"mode": "fast"})

	mirror := applyMirror(t, home, taken, free)

	g.Eventually(copies(t.Context(), free)).WithTimeout(eventually).WithPolling(poll).
		Should(Equal([]map[string]string{{"mode": "fast"}}), "the copy in the free namespace")
	unchanged(t, users)
	g.Eventually(readiness(t.Context(), mirror)).WithTimeout(eventually).WithPolling(poll).
		Should(Equal([]string{taken + " TargetConflict", free + " Synced", "Ready False TargetConflict"}))
	g.Expect(readyMessage(t, mirror)).To(ContainSubstring("ConfigMap " + taken + "/settings exists and is not a copy made for this mirror"))
	g.Eventually(warnings(t.Context(), mirror)).WithTimeout(eventually).WithPolling(poll).
		Should(ConsistOf(HavePrefix("TargetConflict: ConfigMap " + taken + "/settings exists")))

	deleteMirror(t, mirror)

	unchanged(t, users)
	g.Expect(copies(t.Context(), free)()).To(Equal([]map[string]string{nil}), "the mirror's own copy is deleted")
}

func TestNever_WritesOrDeletesItsSource(t *testing.T) {
	g := NewWithT(t)
	home := cluster.Namespace(t)
	other := accepting(t, home)
	applySource(t, home, map[string]string{"mode": "fast"})
	source := &corev1.ConfigMap{}
	g.Expect(user.Get(t.Context(), client.ObjectKey{Namespace: home, Name: "settings"}, source)).To(Succeed())

	mirror := applyMirror(t, home, home, other)

	g.Eventually(copies(t.Context(), other)).WithTimeout(eventually).WithPolling(poll).Should(Equal([]map[string]string{{"mode": "fast"}}))
	unchanged(t, source)
	g.Eventually(readiness(t.Context(), mirror)).WithTimeout(eventually).WithPolling(poll).
		Should(Equal([]string{home + " SourceNamespace", other + " Synced", "Ready False SourceNamespace"}))

	deleteMirror(t, mirror)

	unchanged(t, source)
}

// Two mirrors in different namespaces copy same-named sources into one namespace: the first
// one's copy is its own, the second reports the conflict, and neither's deletion touches the
// other's copy.
func TestNever_SharesACopyBetweenTwoMirrors(t *testing.T) {
	g := NewWithT(t)
	homeA, homeB := cluster.Namespace(t), cluster.Namespace(t)
	target := accepting(t, homeA, homeB)
	applySource(t, homeA, map[string]string{"from": "a"})
	applySource(t, homeB, map[string]string{"from": "b"})
	first := applyMirror(t, homeA, target)
	g.Eventually(readiness(t.Context(), first)).WithTimeout(eventually).WithPolling(poll).Should(Equal([]string{target + " Synced", "Ready True Synced"}))
	copyOfFirst := &corev1.ConfigMap{}
	g.Expect(user.Get(t.Context(), client.ObjectKey{Namespace: target, Name: "settings"}, copyOfFirst)).To(Succeed())

	second := applyMirror(t, homeB, target)

	g.Eventually(readiness(t.Context(), second)).WithTimeout(eventually).WithPolling(poll).Should(ContainElement(HavePrefix("Ready ")), "the second mirror reconciled")
	unchanged(t, copyOfFirst)
	g.Expect(readiness(t.Context(), second)()).To(Equal([]string{target + " TargetConflict", "Ready False TargetConflict"}))

	deleteMirror(t, second)

	unchanged(t, copyOfFirst)
	deleteMirror(t, first)
	g.Expect(copies(t.Context(), target)()).To(Equal([]map[string]string{nil}), "the first mirror's copy is deleted with it")
}

func TestNever_KeepsACopyOfASourceNoLongerNamed(t *testing.T) {
	g := NewWithT(t)
	home := cluster.Namespace(t)
	target := accepting(t, home)
	applySourceNamed(t, home, "first", map[string]string{"n": "1"})
	applySourceNamed(t, home, "second", map[string]string{"n": "2"})
	mirror := applyMirrorNamed(t, home, "mirror", "first", target)
	g.Eventually(copiesNamed(t.Context(), "first", target)).WithTimeout(eventually).WithPolling(poll).Should(Equal([]map[string]string{{"n": "1"}}))

	applyMirrorNamed(t, home, "mirror", "second", target)

	g.Eventually(copiesNamed(t.Context(), "second", target)).WithTimeout(eventually).WithPolling(poll).Should(Equal([]map[string]string{{"n": "2"}}))
	g.Eventually(copiesNamed(t.Context(), "first", target)).WithTimeout(eventually).WithPolling(poll).
		Should(Equal([]map[string]string{nil}), "the copy of the old source is deleted")
	g.Eventually(readiness(t.Context(), mirror)).WithTimeout(eventually).WithPolling(poll).Should(Equal([]string{target + " Synced", "Ready True Synced"}))
}

// Four targets fail in four ways and one works: the one works, and status says which is which.
func TestNever_LetsOneFailingTargetStopTheOthers(t *testing.T) {
	g := NewWithT(t)
	home := cluster.Namespace(t)
	quota, taken, good := accepting(t, home), accepting(t, home), accepting(t, home)
	missing := home + "-missing"
	noConfigMaps(t, quota)
	usersConfigMap(t, taken, "settings")
	applySource(t, home, map[string]string{"mode": "fast"})

	mirror := applyMirror(t, home, missing, quota, taken, home, good)

	g.Eventually(copies(t.Context(), good)).WithTimeout(eventually).WithPolling(poll).Should(Equal([]map[string]string{{"mode": "fast"}}))
	g.Eventually(readiness(t.Context(), mirror)).WithTimeout(eventually).WithPolling(poll).Should(Equal([]string{
		missing + " NamespaceNotFound", quota + " WriteFailed", taken + " TargetConflict", home + " SourceNamespace", good + " Synced",
		"Ready False TargetsNotSynced",
	}))
	message := readyMessage(t, mirror)
	g.Expect(message).To(HavePrefix("4 of 5 targets not synced: "))
	g.Expect(message).To(ContainSubstring("namespace " + missing + " does not exist"))
	g.Expect(message).To(ContainSubstring("exceeded quota"))
}

// noConfigMaps puts a ResourceQuota of zero ConfigMaps on namespace, with the status the quota
// controller would give it (the test control plane runs no controllers), so that the API server
// refuses every new ConfigMap there.
func noConfigMaps(t *testing.T, namespace string) {
	t.Helper()
	zero := corev1.ResourceList{corev1.ResourceConfigMaps: resource.MustParse("0")}
	quota := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "no-configmaps"}, Spec: corev1.ResourceQuotaSpec{Hard: zero}}
	if err := user.Create(t.Context(), quota); err != nil {
		t.Fatal(err)
	}
	quota.Status = corev1.ResourceQuotaStatus{Hard: zero, Used: zero}
	if err := user.Status().Update(t.Context(), quota); err != nil {
		t.Fatal(err)
	}
}

// A ConfigMirror name may have 253 characters; a label value only 63.
func TestNever_FailsOnALongMirrorName(t *testing.T) {
	g := NewWithT(t)
	home := cluster.Namespace(t)
	target := accepting(t, home)
	name := "mirror-" + strings.Repeat("x", 246)
	g.Expect(name).To(HaveLen(253))
	applySource(t, home, map[string]string{"mode": "fast"})

	mirror := applyMirrorNamed(t, home, name, "settings", target)

	g.Eventually(readiness(t.Context(), mirror)).WithTimeout(eventually).WithPolling(poll).Should(Equal([]string{target + " Synced", "Ready True Synced"}))
	g.Expect(copies(t.Context(), target)()).To(Equal([]map[string]string{{"mode": "fast"}}))
	deleteMirror(t, mirror)
	g.Expect(copies(t.Context(), target)()).To(Equal([]map[string]string{nil}))
}

// A mirror deleted as soon as its finalizer is on: whatever copies the operator created by
// then, the cleanup finds and deletes them all.
func TestNever_LeavesAnOrphanWhenAMirrorIsDeletedRightAfterItsCreation(t *testing.T) {
	g := NewWithT(t)
	home := cluster.Namespace(t)
	targets := []string{accepting(t, home), accepting(t, home), accepting(t, home)}
	applySource(t, home, map[string]string{"mode": "fast"})
	for i := range 5 {
		mirror := applyMirrorNamed(t, home, fmt.Sprintf("mirror-%d", i), "settings", targets...)
		g.Eventually(func() []string {
			live := &mirrorv1alpha1.ConfigMirror{}
			_ = user.Get(t.Context(), client.ObjectKeyFromObject(mirror), live)
			return live.Finalizers
		}).WithTimeout(eventually).WithPolling(time.Millisecond).Should(ContainElement(controller.Finalizer))

		deleteMirror(t, mirror)

		// A copy the operator made a moment after the cleanup would still appear; give it time.
		g.Consistently(copies(t.Context(), targets...)).WithTimeout(time.Second).WithPolling(poll).
			Should(Equal([]map[string]string{nil, nil, nil}), "round %d: copies outlived the mirror", i)
	}
}

// A copy a user deleted comes back; one whose label the user removed is theirs from then on.
func TestNever_DeletesACopyTheUserTookOver(t *testing.T) {
	g := NewWithT(t)
	home := cluster.Namespace(t)
	target := accepting(t, home)
	mirror := syncedMirror(t, home, map[string]string{"mode": "fast"}, target)
	copied := &corev1.ConfigMap{}
	g.Expect(user.Get(t.Context(), client.ObjectKey{Namespace: target, Name: "settings"}, copied)).To(Succeed())
	g.Expect(user.Delete(t.Context(), copied)).To(Succeed())
	g.Eventually(func() error {
		return user.Get(t.Context(), client.ObjectKey{Namespace: target, Name: "settings"}, copied)
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed(), "the deleted copy is made again")

	patch := client.RawPatch("application/merge-patch+json", fmt.Appendf(nil, `{"metadata":{"labels":{%q:null}}}`, controller.MirrorUIDLabel))
	g.Expect(user.Patch(t.Context(), copied, patch, client.FieldOwner("kubectl-label"))).To(Succeed())

	g.Eventually(readiness(t.Context(), mirror)).WithTimeout(eventually).WithPolling(poll).Should(Equal([]string{target + " TargetConflict", "Ready False TargetConflict"}))
	taken := &corev1.ConfigMap{}
	g.Expect(user.Get(t.Context(), client.ObjectKeyFromObject(copied), taken)).To(Succeed())
	deleteMirror(t, mirror)
	unchanged(t, taken)
}

// A copy starts with a plain create, whose fields the API server gives to an Update entry; a key
// the source drops must still leave every copy.
func TestNever_KeepsAKeyTheSourceDropped(t *testing.T) {
	g := NewWithT(t)
	home := cluster.Namespace(t)
	target := accepting(t, home)
	applySource(t, home, map[string]string{"a": "1", "b": "2"})
	mirror := applyMirror(t, home, target)
	g.Eventually(copies(t.Context(), target)).WithTimeout(eventually).WithPolling(poll).Should(Equal([]map[string]string{{"a": "1", "b": "2"}}))

	applySource(t, home, map[string]string{"a": "1"})

	g.Eventually(copies(t.Context(), target)).WithTimeout(eventually).WithPolling(poll).Should(Equal([]map[string]string{{"a": "1"}}))
	g.Eventually(readiness(t.Context(), mirror)).WithTimeout(eventually).WithPolling(poll).Should(Equal([]string{target + " Synced", "Ready True Synced"}))
}

// A user clones a copy, label and all (kubectl get -o yaml, edit the name, kubectl create): the
// clone carries the mirror's label, but the operator's manager does not own it alone, so the
// clone is not a copy and is never written or deleted.
func TestNever_WritesOrDeletesAClonedCopy(t *testing.T) {
	g := NewWithT(t)
	home := cluster.Namespace(t)
	target, elsewhere := accepting(t, home), accepting(t, home)
	mirror := syncedMirror(t, home, map[string]string{"mode": "fast"}, target)
	original := &corev1.ConfigMap{}
	g.Expect(user.Get(t.Context(), client.ObjectKey{Namespace: target, Name: "settings"}, original)).To(Succeed())
	var clones []*corev1.ConfigMap
	for _, key := range []client.ObjectKey{{Namespace: target, Name: "settings-backup"}, {Namespace: elsewhere, Name: "settings"}} {
		clone := &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name, Labels: original.Labels, Annotations: original.Annotations},
			Data:       map[string]string{"mode": "fast", "mine": "precious"},
		}
		g.Expect(user.Create(t.Context(), clone, client.FieldOwner("kubectl-create"))).To(Succeed())
		clones = append(clones, clone)
	}

	applySource(t, home, map[string]string{"mode": "safe"}) // a reconcile that writes the copy
	g.Eventually(copies(t.Context(), target)).WithTimeout(eventually).WithPolling(poll).Should(Equal([]map[string]string{{"mode": "safe"}}))
	for _, clone := range clones {
		unchanged(t, clone)
	}
	deleteMirror(t, mirror)

	g.Expect(copies(t.Context(), target)()).To(Equal([]map[string]string{nil}), "the copy is deleted")
	for _, clone := range clones {
		unchanged(t, clone)
	}
}

// A copy someone made immutable cannot follow the source: the mirror says so, and does not
// retry a write that can never succeed; deleting the copy lets the operator make it again.
func TestNever_RetriesAWriteToAnImmutableCopy(t *testing.T) {
	g := NewWithT(t)
	home := cluster.Namespace(t)
	target := accepting(t, home)
	mirror := syncedMirror(t, home, map[string]string{"mode": "fast"}, target)
	frozen := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: target, Name: "settings"}}
	g.Expect(user.Patch(t.Context(), frozen, client.RawPatch(types.MergePatchType, []byte(`{"immutable":true}`)), client.FieldOwner("kubectl-patch"))).To(Succeed())

	applySource(t, home, map[string]string{"mode": "safe"})

	g.Eventually(readiness(t.Context(), mirror)).WithTimeout(eventually).WithPolling(poll).Should(Equal([]string{target + " CopyImmutable", "Ready False CopyImmutable"}))
	operatorRequests.Reset()
	g.Consistently(func() []string { return writesIn(operatorRequests, target) }).WithTimeout(2*time.Second).WithPolling(poll).Should(BeEmpty(), "writes to the immutable copy")
	g.Expect(user.Delete(t.Context(), frozen)).To(Succeed())
	g.Eventually(copies(t.Context(), target)).WithTimeout(eventually).WithPolling(poll).Should(Equal([]map[string]string{{"mode": "safe"}}))
}

// A typo in a changed spec.source names no ConfigMap: the copies of the old name stay until a
// source of the new name exists.
func TestNever_DeletesCopiesBecauseOfAMissingSource(t *testing.T) {
	g := NewWithT(t)
	home := cluster.Namespace(t)
	target := accepting(t, home)
	mirror := syncedMirror(t, home, map[string]string{"mode": "fast"}, target)

	applyMirrorNamed(t, home, "mirror", "setings", target)

	g.Eventually(readiness(t.Context(), mirror)).WithTimeout(eventually).WithPolling(poll).Should(Equal([]string{"Ready False SourceNotFound"}))
	g.Consistently(copies(t.Context(), target)).WithTimeout(time.Second).WithPolling(poll).Should(Equal([]map[string]string{{"mode": "fast"}}))
	applySourceNamed(t, home, "setings", map[string]string{"mode": "typo"})
	g.Eventually(copiesNamed(t.Context(), "setings", target)).WithTimeout(eventually).WithPolling(poll).Should(Equal([]map[string]string{{"mode": "typo"}}))
	g.Eventually(copies(t.Context(), target)).WithTimeout(eventually).WithPolling(poll).Should(Equal([]map[string]string{nil}), "the old copy goes once the new source exists")
}

// An admission policy stops deletes of ConfigMaps in one namespace: the mirror, moved away from
// that namespace, still syncs its new target, and says which copy it could not delete.
func TestNever_LetsACopyThatCannotBeDeletedHoldUpTheOthers(t *testing.T) {
	g := NewWithT(t)
	home := cluster.Namespace(t)
	frozen, later := accepting(t, home), accepting(t, home)
	mirror := syncedMirror(t, home, map[string]string{"mode": "fast"}, frozen)
	unbind := denyConfigMapDeletes(t, frozen)

	applyMirror(t, home, later)

	g.Eventually(copies(t.Context(), later)).WithTimeout(eventually).WithPolling(poll).Should(Equal([]map[string]string{{"mode": "fast"}}))
	g.Eventually(readiness(t.Context(), mirror)).WithTimeout(eventually).WithPolling(poll).Should(Equal([]string{later + " Synced", "Ready False DeleteFailed"}))
	g.Expect(readyMessage(t, mirror)).To(ContainSubstring("could not be deleted"))
	unbind()
	touch := mirrorac.ConfigMirror(mirror.Name, home).WithAnnotations(map[string]string{"example.com/touched": "yes"})
	g.Expect(user.Apply(t.Context(), touch, client.FieldOwner("kubectl-annotate"))).To(Succeed())
	g.Eventually(copies(t.Context(), frozen)).WithTimeout(eventually).WithPolling(poll).Should(Equal([]map[string]string{nil}))
	g.Eventually(readiness(t.Context(), mirror)).WithTimeout(eventually).WithPolling(poll).Should(Equal([]string{later + " Synced", "Ready True Synced"}))
}

// denyConfigMapDeletes makes the API server refuse every delete of a ConfigMap in namespace,
// with a ValidatingAdmissionPolicy, until the returned function (or the test's end) lifts it.
func denyConfigMapDeletes(t *testing.T, namespace string) func() {
	t.Helper()
	g := NewWithT(t)
	policy := &admissionregistrationv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "deny-configmap-deletes-" + namespace},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: ptr.To(admissionregistrationv1.Fail),
			MatchConstraints: &admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionregistrationv1.RuleWithOperations{
					Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Delete},
					Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"configmaps"}},
				},
			}}},
			Validations: []admissionregistrationv1.Validation{{Expression: "false", Message: "ConfigMaps in this namespace are frozen"}},
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
	g.Expect(user.Create(t.Context(), policy)).To(Succeed())
	g.Expect(user.Create(t.Context(), binding)).To(Succeed())
	lift := func() {
		_ = user.Delete(context.Background(), binding)
		_ = user.Delete(context.Background(), policy)
	}
	t.Cleanup(lift)
	probe := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "frozen-probe"}}
	g.Expect(user.Create(t.Context(), probe)).To(Succeed())
	g.Eventually(func() error { return user.Delete(t.Context(), probe.DeepCopy(), client.DryRunAll) }).
		WithTimeout(eventually).WithPolling(poll).Should(MatchError(ContainSubstring("frozen")), "the policy is in force")
	return func() {
		lift()
		g.Eventually(func() error { return user.Delete(t.Context(), probe.DeepCopy(), client.DryRunAll) }).
			WithTimeout(eventually).WithPolling(poll).Should(Succeed(), "the policy is lifted")
	}
}

// Another tool applies a key of the copy too; when the source drops the key, the copy keeps it
// (docs/ssa-semantics.md row 3), and status says the copy differs instead of claiming it synced.
func TestNever_CallsACopyWithSomeoneElsesKeysSynced(t *testing.T) {
	g := NewWithT(t)
	home := cluster.Namespace(t)
	target := accepting(t, home)
	mirror := syncedMirror(t, home, map[string]string{"a": "1", "b": "2"}, target)
	g.Expect(user.Apply(t.Context(), corev1ac.ConfigMap("settings", target).WithData(map[string]string{"b": "2"}), client.FieldOwner("gitops"))).To(Succeed())

	applySource(t, home, map[string]string{"a": "1"})

	g.Eventually(readiness(t.Context(), mirror)).WithTimeout(eventually).WithPolling(poll).Should(Equal([]string{target + " CopyDiffers", "Ready False CopyDiffers"}))
	g.Expect(readyMessage(t, mirror)).To(ContainSubstring("has keys the source does not (b)"))
	g.Expect(copies(t.Context(), target)()).To(Equal([]map[string]string{{"a": "1", "b": "2"}}))
}

// Someone applies the copy's label too: the operator can no longer tell the copy from a clone,
// so it stops writing and deleting it, and says so, naming the other owner.
func TestNever_WritesOrDeletesACopyWhoseLabelSomeoneElseOwnsToo(t *testing.T) {
	g := NewWithT(t)
	home := cluster.Namespace(t)
	target := accepting(t, home)
	mirror := syncedMirror(t, home, map[string]string{"mode": "fast"}, target)
	copied := &corev1.ConfigMap{}
	g.Expect(user.Get(t.Context(), client.ObjectKey{Namespace: target, Name: "settings"}, copied)).To(Succeed())
	label := corev1ac.ConfigMap("settings", target).WithLabels(map[string]string{controller.MirrorUIDLabel: copied.Labels[controller.MirrorUIDLabel]})
	g.Expect(user.Apply(t.Context(), label, client.FieldOwner("gitops"))).To(Succeed())
	g.Expect(user.Get(t.Context(), client.ObjectKeyFromObject(copied), copied)).To(Succeed())

	applySource(t, home, map[string]string{"mode": "safe"})

	g.Eventually(readiness(t.Context(), mirror)).WithTimeout(eventually).WithPolling(poll).Should(Equal([]string{target + " CopyNotOwned", "Ready False CopyNotOwned"}))
	g.Expect(readyMessage(t, mirror)).To(ContainSubstring("the label is also owned by gitops"))
	unchanged(t, copied)
	deleteMirror(t, mirror)
	unchanged(t, copied)
	live := &mirrorv1alpha1.ConfigMirror{ObjectMeta: mirror.ObjectMeta}
	g.Expect(warnings(t.Context(), live)()).To(ContainElement(HavePrefix("CopyNotOwned: ConfigMap " + target + "/settings carries this mirror's label")))
}

// immutable: true freezes data and binaryData only: a copy whose data still matches the source
// gets its other fields back and stays synced.
func TestNever_CallsAnImmutableCopyThatMatchesTheSourceImmutable(t *testing.T) {
	g := NewWithT(t)
	home := cluster.Namespace(t)
	target := accepting(t, home)
	mirror := syncedMirror(t, home, map[string]string{"mode": "fast"}, target)
	frozen := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: target, Name: "settings"}}
	patch := fmt.Appendf(nil, `{"immutable":true,"metadata":{"annotations":{%q:"edited"}}}`, controller.MirrorAnnotation)
	g.Expect(user.Patch(t.Context(), frozen, client.RawPatch(types.MergePatchType, patch), client.FieldOwner("kubectl-patch"))).To(Succeed())

	g.Eventually(func() string {
		_ = user.Get(t.Context(), client.ObjectKeyFromObject(frozen), frozen)
		return frozen.Annotations[controller.MirrorAnnotation]
	}).WithTimeout(eventually).WithPolling(poll).Should(Equal(home+"/mirror"), "the annotation taken back")
	g.Expect(readiness(t.Context(), mirror)()).To(Equal([]string{target + " Synced", "Ready True Synced"}))
}
