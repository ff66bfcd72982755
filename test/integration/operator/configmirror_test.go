package operator

import (
	"context"
	"slices"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mirrorv1alpha1 "github.com/ssakit/ssakit/example/operator/api/v1alpha1"
	mirrorac "github.com/ssakit/ssakit/example/operator/api/v1alpha1/applyconfiguration/api/v1alpha1"
)

const (
	eventually = 30 * time.Second
	poll       = 50 * time.Millisecond
)

func applySource(t *testing.T, namespace string, data map[string]string) {
	t.Helper()
	if err := user.Apply(t.Context(), corev1ac.ConfigMap("settings", namespace).WithData(data), client.FieldOwner("kubectl")); err != nil {
		t.Fatalf("applying the source: %v", err)
	}
}

func applyMirror(t *testing.T, namespace string, targets ...string) *mirrorv1alpha1.ConfigMirror {
	t.Helper()
	config := mirrorac.ConfigMirror("mirror", namespace).
		WithSpec(mirrorac.ConfigMirrorSpec().WithSource("settings").WithTargetNamespaces(targets...))
	if err := user.Apply(t.Context(), config, client.FieldOwner("kubectl")); err != nil {
		t.Fatalf("applying the ConfigMirror: %v", err)
	}
	return &mirrorv1alpha1.ConfigMirror{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "mirror"}}
}

// copies returns, for each namespace, the copy's data, or nil where there is no copy.
func copies(ctx context.Context, namespaces ...string) func() []map[string]string {
	return func() []map[string]string {
		out := make([]map[string]string, len(namespaces))
		for i, ns := range namespaces {
			cm := &corev1.ConfigMap{}
			if err := user.Get(ctx, client.ObjectKey{Namespace: ns, Name: "settings"}, cm); err == nil {
				out[i] = cm.Data
			}
		}
		return out
	}
}

// readiness returns the mirror's synced namespaces and its Ready condition's status and reason,
// once the status describes the current generation.
func readiness(ctx context.Context, key client.Object) func() []string {
	return func() []string {
		mirror := &mirrorv1alpha1.ConfigMirror{}
		if err := user.Get(ctx, client.ObjectKeyFromObject(key), mirror); err != nil {
			return []string{err.Error()}
		}
		if mirror.Status.ObservedGeneration != mirror.Generation {
			return []string{"status not observed yet"}
		}
		out := slices.Sorted(slices.Values(mirror.Status.SyncedNamespaces))
		for _, c := range mirror.Status.Conditions {
			if c.Type == mirrorv1alpha1.ConditionReady {
				out = append(out, string(c.Status)+" "+c.Reason)
			}
		}
		return out
	}
}

func TestConfigMirror_EndToEnd(t *testing.T) {
	g := NewWithT(t)
	home, first, second := cluster.Namespace(t), cluster.Namespace(t), cluster.Namespace(t)
	applySource(t, home, map[string]string{"mode": "fast"})

	mirror := applyMirror(t, home, first, second)

	g.Eventually(copies(t.Context(), first, second)).WithTimeout(eventually).WithPolling(poll).
		Should(Equal([]map[string]string{{"mode": "fast"}, {"mode": "fast"}}), "copies in every target")
	g.Eventually(readiness(t.Context(), mirror)).WithTimeout(eventually).WithPolling(poll).
		Should(Equal(append(slices.Sorted(slices.Values([]string{first, second})), "True Synced")))

	applySource(t, home, map[string]string{"mode": "safe"})
	g.Eventually(copies(t.Context(), first, second)).WithTimeout(eventually).WithPolling(poll).
		Should(Equal([]map[string]string{{"mode": "safe"}, {"mode": "safe"}}), "copies follow the source")

	applyMirror(t, home, first)
	g.Eventually(copies(t.Context(), first, second)).WithTimeout(eventually).WithPolling(poll).
		Should(Equal([]map[string]string{{"mode": "safe"}, nil}), "the removed target's copy is deleted")

	g.Expect(user.Delete(t.Context(), mirror)).To(Succeed())
	g.Eventually(copies(t.Context(), first, second)).WithTimeout(eventually).WithPolling(poll).
		Should(Equal([]map[string]string{nil, nil}), "every copy deleted")
	g.Eventually(func() bool {
		return apierrors.IsNotFound(user.Get(t.Context(), client.ObjectKeyFromObject(mirror), &mirrorv1alpha1.ConfigMirror{}))
	}).WithTimeout(eventually).WithPolling(poll).Should(BeTrue(), "the ConfigMirror is gone")
}

func TestConfigMirror_MissingSourceIsAConditionUntilItAppears(t *testing.T) {
	g := NewWithT(t)
	home, target := cluster.Namespace(t), cluster.Namespace(t)

	mirror := applyMirror(t, home, target)

	g.Eventually(readiness(t.Context(), mirror)).WithTimeout(eventually).WithPolling(poll).Should(Equal([]string{"False SourceNotFound"}))
	applySource(t, home, map[string]string{"mode": "fast"})
	g.Eventually(readiness(t.Context(), mirror)).WithTimeout(eventually).WithPolling(poll).Should(Equal([]string{target, "True Synced"}))
}

func TestConfigMirror_MissingTargetNamespaceIsACondition(t *testing.T) {
	g := NewWithT(t)
	home, target := cluster.Namespace(t), cluster.Namespace(t)
	applySource(t, home, map[string]string{"mode": "fast"})

	mirror := applyMirror(t, home, target, home+"-missing")

	g.Eventually(readiness(t.Context(), mirror)).WithTimeout(eventually).WithPolling(poll).Should(Equal([]string{target, "False TargetNamespaceMissing"}))
	g.Eventually(copies(t.Context(), target)).WithTimeout(eventually).WithPolling(poll).Should(Equal([]map[string]string{{"mode": "fast"}}))
}
