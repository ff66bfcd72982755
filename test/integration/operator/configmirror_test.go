package operator

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mirrorv1alpha1 "github.com/ssakit/ssakit/example/operator/api/v1alpha1"
	mirrorac "github.com/ssakit/ssakit/example/operator/api/v1alpha1/applyconfiguration/api/v1alpha1"
	"github.com/ssakit/ssakit/example/operator/controller"
)

const (
	eventually = 30 * time.Second
	poll       = 50 * time.Millisecond
)

func applySource(t *testing.T, namespace string, data map[string]string) {
	t.Helper()
	applySourceNamed(t, namespace, "settings", data)
}

func applySourceNamed(t *testing.T, namespace, name string, data map[string]string) {
	t.Helper()
	if err := user.Apply(t.Context(), corev1ac.ConfigMap(name, namespace).WithData(data), client.FieldOwner("kubectl")); err != nil {
		t.Fatalf("applying the source %s/%s: %v", namespace, name, err)
	}
}

// applyMirror applies ConfigMirror "mirror" of source "settings" in namespace.
func applyMirror(t *testing.T, namespace string, targets ...string) *mirrorv1alpha1.ConfigMirror {
	t.Helper()
	return applyMirrorNamed(t, namespace, "mirror", "settings", targets...)
}

// applyMirrorNamed applies a ConfigMirror as the user, and deletes it when the test ends, so
// that no mirror of a finished test keeps the operator busy.
func applyMirrorNamed(t *testing.T, namespace, name, source string, targets ...string) *mirrorv1alpha1.ConfigMirror {
	t.Helper()
	config := mirrorac.ConfigMirror(name, namespace).
		WithSpec(mirrorac.ConfigMirrorSpec().WithSource(source).WithTargetNamespaces(targets...))
	if err := user.Apply(t.Context(), config, client.FieldOwner("kubectl")); err != nil {
		t.Fatalf("applying the ConfigMirror: %v", err)
	}
	mirror := &mirrorv1alpha1.ConfigMirror{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
	t.Cleanup(func() {
		// t.Context() is already cancelled when cleanups run.
		_ = client.IgnoreNotFound(user.Delete(context.Background(), mirror.DeepCopy()))
	})
	return mirror
}

// copies returns, for each namespace, the data of its ConfigMap "settings", or nil where there
// is none.
func copies(ctx context.Context, namespaces ...string) func() []map[string]string {
	return copiesNamed(ctx, "settings", namespaces...)
}

func copiesNamed(ctx context.Context, name string, namespaces ...string) func() []map[string]string {
	return func() []map[string]string {
		out := make([]map[string]string, len(namespaces))
		for i, ns := range namespaces {
			cm := &corev1.ConfigMap{}
			if err := user.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, cm); err == nil {
				out[i] = cm.Data
			}
		}
		return out
	}
}

// readiness returns the mirror's status once it describes the current generation: one line
// "<namespace> <reason>" per target, then "Ready <status> <reason>".
func readiness(ctx context.Context, key client.Object) func() []string {
	return func() []string {
		mirror := &mirrorv1alpha1.ConfigMirror{}
		if err := user.Get(ctx, client.ObjectKeyFromObject(key), mirror); err != nil {
			return []string{err.Error()}
		}
		if mirror.Status.ObservedGeneration != mirror.Generation {
			return []string{"status not observed yet"}
		}
		var out []string
		for _, target := range mirror.Status.Targets {
			out = append(out, target.Namespace+" "+target.Reason)
		}
		if ready := meta.FindStatusCondition(mirror.Status.Conditions, mirrorv1alpha1.ConditionReady); ready != nil {
			out = append(out, "Ready "+string(ready.Status)+" "+ready.Reason)
		}
		return out
	}
}

// readyMessage returns the message of the mirror's Ready condition.
func readyMessage(t *testing.T, key client.Object) string {
	t.Helper()
	mirror := &mirrorv1alpha1.ConfigMirror{}
	if err := user.Get(t.Context(), client.ObjectKeyFromObject(key), mirror); err != nil {
		t.Fatal(err)
	}
	if ready := meta.FindStatusCondition(mirror.Status.Conditions, mirrorv1alpha1.ConditionReady); ready != nil {
		return ready.Message
	}
	return ""
}

// gone reports whether the object no longer exists.
func gone(ctx context.Context, obj client.Object) func() bool {
	return func() bool {
		return apierrors.IsNotFound(user.Get(ctx, client.ObjectKeyFromObject(obj), obj.DeepCopyObject().(client.Object)))
	}
}

// deleteMirror deletes the mirror and waits until its cleanup is done and it is gone.
func deleteMirror(t *testing.T, mirror *mirrorv1alpha1.ConfigMirror) {
	t.Helper()
	g := NewWithT(t)
	g.Expect(user.Delete(t.Context(), mirror.DeepCopy())).To(Succeed())
	g.Eventually(gone(t.Context(), mirror)).WithTimeout(eventually).WithPolling(poll).Should(BeTrue(), "the ConfigMirror is gone")
}

func TestConfigMirror_EndToEnd(t *testing.T) {
	g := NewWithT(t)
	home := cluster.Namespace(t)
	first, second := accepting(t, home), accepting(t, home)
	applySource(t, home, map[string]string{"mode": "fast"})

	mirror := applyMirror(t, home, first, second)

	g.Eventually(copies(t.Context(), first, second)).WithTimeout(eventually).WithPolling(poll).
		Should(Equal([]map[string]string{{"mode": "fast"}, {"mode": "fast"}}), "copies in every target")
	g.Eventually(readiness(t.Context(), mirror)).WithTimeout(eventually).WithPolling(poll).
		Should(Equal([]string{first + " Synced", second + " Synced", "Ready True Synced"}))

	applySource(t, home, map[string]string{"mode": "safe"})
	g.Eventually(copies(t.Context(), first, second)).WithTimeout(eventually).WithPolling(poll).
		Should(Equal([]map[string]string{{"mode": "safe"}, {"mode": "safe"}}), "copies follow the source")

	applyMirror(t, home, first)
	g.Eventually(copies(t.Context(), first, second)).WithTimeout(eventually).WithPolling(poll).
		Should(Equal([]map[string]string{{"mode": "safe"}, nil}), "the removed target's copy is deleted")

	deleteMirror(t, mirror)
	g.Expect(copies(t.Context(), first, second)()).To(Equal([]map[string]string{nil, nil}), "every copy deleted")
}

func TestConfigMirror_MissingSourceIsAConditionUntilItAppears(t *testing.T) {
	g := NewWithT(t)
	home := cluster.Namespace(t)
	target := accepting(t, home)

	mirror := applyMirror(t, home, target)

	g.Eventually(readiness(t.Context(), mirror)).WithTimeout(eventually).WithPolling(poll).Should(Equal([]string{"Ready False SourceNotFound"}))
	applySource(t, home, map[string]string{"mode": "fast"})
	g.Eventually(readiness(t.Context(), mirror)).WithTimeout(eventually).WithPolling(poll).Should(Equal([]string{target + " Synced", "Ready True Synced"}))
}

func TestConfigMirror_MissingTargetNamespaceIsACondition(t *testing.T) {
	g := NewWithT(t)
	home := cluster.Namespace(t)
	target := accepting(t, home)
	applySource(t, home, map[string]string{"mode": "fast"})

	mirror := applyMirror(t, home, target, home+"-missing")

	g.Eventually(readiness(t.Context(), mirror)).WithTimeout(eventually).WithPolling(poll).
		Should(Equal([]string{target + " Synced", home + "-missing NamespaceNotFound", "Ready False NamespaceNotFound"}))
	g.Eventually(copies(t.Context(), target)).WithTimeout(eventually).WithPolling(poll).Should(Equal([]map[string]string{{"mode": "fast"}}))
}

// A target namespace created after the mirror gets its copy at once: the operator watches
// namespaces, it does not poll for them.
func TestConfigMirror_TargetNamespaceCreatedLaterGetsItsCopy(t *testing.T) {
	g := NewWithT(t)
	home := cluster.Namespace(t)
	later := home + "-later"
	applySource(t, home, map[string]string{"mode": "fast"})
	mirror := applyMirror(t, home, later)
	g.Eventually(readiness(t.Context(), mirror)).WithTimeout(eventually).WithPolling(poll).
		Should(Equal([]string{later + " NamespaceNotFound", "Ready False NamespaceNotFound"}))

	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: later, Annotations: map[string]string{controller.AcceptFromAnnotation: home}}}
	g.Expect(user.Create(t.Context(), ns)).To(Succeed())
	t.Cleanup(func() { _ = user.Delete(context.Background(), ns) })

	g.Eventually(copies(t.Context(), later)).WithTimeout(5 * time.Second).WithPolling(poll).Should(Equal([]map[string]string{{"mode": "fast"}}))
	g.Eventually(readiness(t.Context(), mirror)).WithTimeout(eventually).WithPolling(poll).Should(Equal([]string{later + " Synced", "Ready True Synced"}))
}
