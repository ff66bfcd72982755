package applier

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"

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
