package ssatest_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ssakit/ssakit/pkg/ssatest"
)

// A dry-run apply is answered with the object it would make, and nothing is stored, as on the
// API server. controller-runtime's fake stored it.
func TestFake_DryRunApplyStoresNothing(t *testing.T) {
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).Build()
	config := corev1ac.ConfigMap("settings", "demo").WithData(map[string]string{"mode": "fast"})

	if err := c.Apply(t.Context(), config, client.FieldOwner("op"), client.DryRunAll); err != nil {
		t.Fatal(err)
	}

	if d := cmp.Diff(map[string]string{"mode": "fast"}, config.Data); d != "" {
		t.Errorf("the answer written into the configuration (-want +got):\n%s", d)
	}
	err := c.Get(t.Context(), client.ObjectKey{Namespace: "demo", Name: "settings"}, &corev1.ConfigMap{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("the dry run stored the object: Get = %v", err)
	}
}

// A dry-run release of one finalizer from a terminating object that another finalizer holds
// leaves the object as it was; the plain fake deleted it.
func TestFake_DryRunApplyToATerminatingObjectChangesNothing(t *testing.T) {
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).Build()
	cm := terminating(t, c, map[string]string{"example.com/mine": "mine", "example.com/theirs": "theirs"})
	before := get(t, c, cm, &corev1.ConfigMap{})

	release := client.ApplyConfigurationFromUnstructured(finalizersOnly(cm, "ConfigMap"))
	if err := c.Apply(t.Context(), release, client.FieldOwner("mine"), client.DryRunAll); err != nil {
		t.Fatal(err)
	}

	after := get(t, c, cm, &corev1.ConfigMap{})
	if d := cmp.Diff(before, after); d != "" {
		t.Errorf("the stored object (-before +after):\n%s", d)
	}
}
