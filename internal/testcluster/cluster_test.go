package testcluster

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// A restart keeps what the fault tests rely on: the clients made before it (same address, same
// serving CA, same client CA) reach the new kube-apiserver, which serves the objects etcd kept.
func TestStartAPIServer_AfterAStopServesTheSameObjectsToTheClientsMadeBefore(t *testing.T) {
	c, err := StartRestartable()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("stopping the control plane: %v", err)
		}
	})
	ns := c.Namespace(t)
	before := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "kept"}, Data: map[string]string{"k": "v"}}
	if err := c.Client.Create(t.Context(), before); err != nil {
		t.Fatal(err)
	}

	if err := c.StopAPIServer(); err != nil {
		t.Fatalf("stopping kube-apiserver: %v", err)
	}
	if err := c.Client.Get(t.Context(), client.ObjectKeyFromObject(before), &corev1.ConfigMap{}); err == nil {
		t.Fatal("a read succeeded while kube-apiserver was stopped")
	}
	if err := c.StartAPIServer(); err != nil {
		t.Fatalf("starting kube-apiserver again: %v", err)
	}

	after := &corev1.ConfigMap{}
	if err := c.Client.Get(t.Context(), client.ObjectKeyFromObject(before), after); err != nil {
		t.Fatalf("reading with the client made before the restart: %v", err)
	}
	if d := cmp.Diff(before.UID, after.UID); d != "" {
		t.Errorf("the object's UID (-want +got):\n%s", d)
	}
}

// A cluster started once per test binary shares its kube-apiserver with every test: it cannot be
// restarted, and says so instead of giving clients a new CA.
func TestStopAPIServer_RefusesAClusterNotStartedRestartable(t *testing.T) {
	if err := (&Cluster{}).StopAPIServer(); err == nil {
		t.Error("StopAPIServer succeeded on a cluster from Start")
	}
}
