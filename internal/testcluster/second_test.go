package testcluster

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// A second kube-apiserver on the first one's etcd is the same cluster to its clients: what one
// server stores the other serves, and the users of the first are the same users on the second.
func TestStartSecondAPIServer_IsTheSameClusterToItsClients(t *testing.T) {
	c, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("stopping the control plane: %v", err)
		}
	})
	second, err := c.StartSecondAPIServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := second.Stop(); err != nil {
			t.Errorf("stopping the second kube-apiserver: %v", err)
		}
	})
	if c.Config.Host == second.Config.Host {
		t.Fatalf("both servers are at %s", c.Config.Host)
	}
	ns := c.Namespace(t)

	t.Run("EachServesWhatTheOtherStored", func(t *testing.T) {
		for _, way := range []struct {
			name            string
			writer, readers client.Client
		}{{"first-to-second", c.Client, second.Client}, {"second-to-first", second.Client, c.Client}} {
			written := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: way.name}}
			if err := way.writer.Create(t.Context(), written); err != nil {
				t.Fatal(err)
			}
			read := &corev1.ConfigMap{}
			if err := way.readers.Get(t.Context(), client.ObjectKeyFromObject(written), read); err != nil {
				t.Fatalf("%s: %v", way.name, err)
			}
			if d := cmp.Diff(written.UID, read.UID); d != "" {
				t.Errorf("%s: the object's UID (-want +got):\n%s", way.name, d)
			}
		}
	})

	t.Run("AuthenticatesTheFirstsUsers", func(t *testing.T) {
		cfg, err := c.AddUser("alice")
		if err != nil {
			t.Fatal(err)
		}
		alice, err := client.New(second.ConfigFor(cfg), client.Options{Scheme: c.Scheme, Mapper: c.Mapper})
		if err != nil {
			t.Fatal(err)
		}
		// Authenticated, and allowed nothing: Forbidden names the user; an unknown certificate
		// would be Unauthorized.
		err = alice.Get(t.Context(), types.NamespacedName{Namespace: ns, Name: "first-to-second"}, &corev1.ConfigMap{})
		if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), `"alice"`) {
			t.Errorf("alice's read on the second server: got %v, want Forbidden for user alice", err)
		}
	})
}
