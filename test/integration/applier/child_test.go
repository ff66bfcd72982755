package applier

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ssakit/ssakit/pkg/ssa"
)

// On a real API server the child ApplyChild creates carries the controller reference and the
// content, and the same call again sends nothing.
func TestApplyChild_CreatesTheChildAndThenSendsNothing(t *testing.T) {
	ns := cluster.Namespace(t)
	owner := ownerWidget(t, ns, "web")
	children := ssa.NewApplier(cluster.Client, childManager, ssa.ApplierOptions{})
	config := func() *corev1ac.ConfigMapApplyConfiguration {
		return corev1ac.ConfigMap("settings", ns).WithData(map[string]string{"color": "blue"})
	}

	first, err := children.ApplyChild(t.Context(), owner, config())
	if err != nil || !first {
		t.Fatalf("ApplyChild = %v, %v; want sent", first, err)
	}
	live := liveSettings(t, ns)
	again, err := children.ApplyChild(t.Context(), owner, config())

	if err != nil || again {
		t.Errorf("ApplyChild again = %v, %v; want nothing sent", again, err)
	}
	if d := cmp.Diff(widgetControllerRef(owner.UID), live.OwnerReferences); d != "" {
		t.Errorf("owner references (-want +got):\n%s", d)
	}
	if after := liveSettings(t, ns); after.ResourceVersion != live.ResourceVersion {
		t.Errorf("resourceVersion %s became %s: the second call wrote", live.ResourceVersion, after.ResourceVersion)
	}
}

// A ConfigMap of the child's name that someone else created is left as it is, even with
// ForceOwnership.
func TestApplyChild_LeavesAnObjectItDidNotCreate(t *testing.T) {
	ns := cluster.Namespace(t)
	owner := ownerWidget(t, ns, "web")
	theirs := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "settings"}, Data: map[string]string{"color": "red"}}
	if err := cluster.Client.Create(t.Context(), theirs); err != nil {
		t.Fatal(err)
	}
	children := ssa.NewApplier(cluster.Client, childManager, ssa.ApplierOptions{})

	sent, err := children.ApplyChild(t.Context(), owner, corev1ac.ConfigMap("settings", ns).WithData(map[string]string{"color": "blue"}))

	if sent || !errors.Is(err, ssa.ErrNotControlled) {
		t.Errorf("ApplyChild = %v, %v; want ErrNotControlled", sent, err)
	}
	if after := liveSettings(t, ns); after.ResourceVersion != theirs.ResourceVersion {
		t.Errorf("their ConfigMap was written: %+v", after)
	}
}

// Kinds whose empty object the API server refuses, or whose type is immutable once created: the
// child is created whole, so the server validates what the controller means.
func TestApplyChild_CreatesChildrenTheServerValidates(t *testing.T) {
	ns := cluster.Namespace(t)
	owner := ownerWidget(t, ns, "web")
	children := ssa.NewApplier(cluster.Client, childManager, ssa.ApplierOptions{})
	labels := map[string]string{"app": "web"}
	deployment := appsv1ac.Deployment("web", ns).WithSpec(appsv1ac.DeploymentSpec().
		WithSelector(metav1ac.LabelSelector().WithMatchLabels(labels)).
		WithTemplate(corev1ac.PodTemplateSpec().WithLabels(labels).
			WithSpec(corev1ac.PodSpec().WithContainers(corev1ac.Container().WithName("web").WithImage("nginx")))))
	tls := corev1ac.Secret("web-tls", ns).WithType(corev1.SecretTypeTLS).
		WithData(map[string][]byte{corev1.TLSCertKey: []byte("cert"), corev1.TLSPrivateKeyKey: []byte("key")})

	for name, config := range map[string]runtime.ApplyConfiguration{"Deployment": deployment, "TLS Secret": tls} {
		sent, err := children.ApplyChild(t.Context(), owner, config)
		if err != nil || !sent {
			t.Errorf("%s: ApplyChild = %v, %v; want it created", name, sent, err)
			continue
		}
		again, err := children.ApplyChild(t.Context(), owner, config)
		if err != nil || again {
			t.Errorf("%s: ApplyChild again = %v, %v; want nothing sent", name, again, err)
		}
	}
	secret := &corev1.Secret{}
	if err := cluster.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "web-tls"}, secret); err != nil {
		t.Fatal(err)
	}
	if secret.Type != corev1.SecretTypeTLS {
		t.Errorf("the Secret's type is %q, want %q", secret.Type, corev1.SecretTypeTLS)
	}
}
