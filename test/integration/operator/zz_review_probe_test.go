package operator

import (
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mirrorv1alpha1 "github.com/ssakit/ssakit/example/operator/api/v1alpha1"
	_ "github.com/ssakit/ssakit/example/operator/controller"
)

func reviewDump(t *testing.T, ns, name string) {
	cm := &corev1.ConfigMap{}
	if err := user.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name}, cm); err != nil {
		t.Logf("%s/%s: %v", ns, name, err)
		return
	}
	t.Logf("%s/%s data=%v binaryData=%v labels=%v", ns, name, cm.Data, cm.BinaryData, cm.Labels)
	for _, e := range cm.ManagedFields {
		t.Logf("  mf %s %s %s", e.Manager, e.Operation, string(e.FieldsV1.Raw))
	}
}

func reviewStatus(t *testing.T, key client.Object) {
	m := &mirrorv1alpha1.ConfigMirror{}
	if err := user.Get(t.Context(), client.ObjectKeyFromObject(key), m); err != nil {
		t.Logf("mirror: %v", err)
		return
	}
	for _, tg := range m.Status.Targets {
		t.Logf("  target %s synced=%v %s %q", tg.Namespace, tg.Synced, tg.Reason, tg.Message)
	}
	if c := meta.FindStatusCondition(m.Status.Conditions, mirrorv1alpha1.ConditionReady); c != nil {
		t.Logf("  Ready %s %s %q", c.Status, c.Reason, c.Message)
	}
}

// A key removed from the source stays in the copy, and the mirror says Synced.
func TestZZReview_RemovedSourceKeyStaysInCopy(t *testing.T) {
	g := NewWithT(t)
	home, target := cluster.Namespace(t), cluster.Namespace(t)
	applySource(t, home, map[string]string{"a": "1", "b": "2"})
	mirror := applyMirror(t, home, target)
	g.Eventually(readiness(t.Context(), mirror)).WithTimeout(eventually).WithPolling(poll).Should(Equal([]string{target + " Synced", "Ready True Synced"}))
	reviewDump(t, target, "settings")

	// The user drops key b from the source.
	applySource(t, home, map[string]string{"a": "1"})
	src := &corev1.ConfigMap{}
	g.Expect(user.Get(t.Context(), client.ObjectKey{Namespace: home, Name: "settings"}, src)).To(Succeed())
	t.Logf("source data now %v", src.Data)
	time.Sleep(3 * time.Second)
	reviewDump(t, target, "settings")
	reviewStatus(t, mirror)
	g.Expect(copies(t.Context(), target)()).To(Equal([]map[string]string{{"a": "1"}}), "copy follows source")
}

// A user's clone of a copy, under another name or in another namespace, is deleted.
func TestZZReview_CloneOfACopyIsDeleted(t *testing.T) {
	g := NewWithT(t)
	home, target, elsewhere := cluster.Namespace(t), cluster.Namespace(t), cluster.Namespace(t)
	applySource(t, home, map[string]string{"mode": "fast"})
	mirror := applyMirror(t, home, target)
	g.Eventually(readiness(t.Context(), mirror)).WithTimeout(eventually).WithPolling(poll).Should(Equal([]string{target + " Synced", "Ready True Synced"}))
	copied := &corev1.ConfigMap{}
	g.Expect(user.Get(t.Context(), client.ObjectKey{Namespace: target, Name: "settings"}, copied)).To(Succeed())

	// kubectl get cm settings -o yaml | edit name/namespace | kubectl create -f -
	for _, key := range []client.ObjectKey{{Namespace: target, Name: "settings-backup"}, {Namespace: elsewhere, Name: "settings"}} {
		clone := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name, Labels: copied.Labels, Annotations: copied.Annotations},
			Data: map[string]string{"mode": "fast", "mine": "precious"}}
		g.Expect(user.Create(t.Context(), clone, client.FieldOwner("kubectl-create"))).To(Succeed())
	}
	// An unrelated touch of the mirror makes it reconcile (any event would).
	time.Sleep(2 * time.Second)
	for _, key := range []client.ObjectKey{{Namespace: target, Name: "settings-backup"}, {Namespace: elsewhere, Name: "settings"}} {
		reviewDump(t, key.Namespace, key.Name)
	}
	g.Expect(copiesNamed(t.Context(), "settings-backup", target)()).NotTo(Equal([]map[string]string{nil}), "the user's clone in the target namespace survives")
	g.Expect(copies(t.Context(), elsewhere)()).NotTo(Equal([]map[string]string{nil}), "the user's clone in another namespace survives")
}

// A user makes a copy immutable; the source changes.
func TestZZReview_ImmutableCopy(t *testing.T) {
	g := NewWithT(t)
	home, target := cluster.Namespace(t), cluster.Namespace(t)
	applySource(t, home, map[string]string{"mode": "fast"})
	mirror := applyMirror(t, home, target)
	g.Eventually(readiness(t.Context(), mirror)).WithTimeout(eventually).WithPolling(poll).Should(Equal([]string{target + " Synced", "Ready True Synced"}))
	g.Expect(user.Apply(t.Context(), corev1ac.ConfigMap("settings", target).WithImmutable(true), client.FieldOwner("kubectl-immutable"))).To(Succeed())
	time.Sleep(time.Second)
	operatorRequests.Reset()
	applySource(t, home, map[string]string{"mode": "safe"})
	time.Sleep(8 * time.Second)
	reviewStatus(t, mirror)
	n := 0
	for _, w := range operatorRequests.Writes() {
		n++
		t.Logf("write %s %s %d", w.Method, w.Path, w.StatusCode)
	}
	fmt.Println("writes:", n)
}
