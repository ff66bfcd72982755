package demo

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	mirrorv1alpha1 "github.com/ssakit/ssakit/example/operator/api/v1alpha1"
	mirrorac "github.com/ssakit/ssakit/example/operator/api/v1alpha1/applyconfiguration/api/v1alpha1"
	"github.com/ssakit/ssakit/example/operator/controller"
)

const (
	// LegacyManager is the field manager of the operator's previous release, which added its
	// finalizer the kubebuilder way: controllerutil.AddFinalizer and Update.
	LegacyManager = "configmirror-v1"
	// FormerFinalizer is that release's finalizer name, a former name of controller.Finalizer:
	// unqualified (no path), so the API server warns on it.
	FormerFinalizer = "configmirror-finalizer"
)

// Explore leaves the cluster, after Run, with something to look at with kubectl ssakit: the
// user's ConfigMirror settings-mirror again, targeting team-a, and ConfigMirror legacy-mirror,
// targeting team-b, on which the operator's previous release left FormerFinalizer with an
// Update. The running operator adds its own finalizer to both.
func (s *Story) Explore(ctx context.Context) error {
	home, teamA, teamB := s.Prefix+"demo", s.Prefix+"team-a", s.Prefix+"team-b"
	if err := s.applyMirror(ctx, home, teamA); err != nil {
		return err
	}
	legacy := mirrorac.ConfigMirror("legacy-mirror", home).
		WithSpec(mirrorac.ConfigMirrorSpec().WithSource("settings").WithTargetNamespaces(teamB))
	if err := s.Client.Apply(ctx, legacy, client.FieldOwner(userManager)); err != nil {
		return err
	}
	for _, name := range []string{"settings-mirror", "legacy-mirror"} {
		mirror := &mirrorv1alpha1.ConfigMirror{ObjectMeta: metav1.ObjectMeta{Namespace: home, Name: name}}
		if _, err := s.waitReady(ctx, mirror, metav1.ConditionTrue, mirrorv1alpha1.ReasonSynced); err != nil {
			return err
		}
	}
	live := &mirrorv1alpha1.ConfigMirror{}
	if err := s.Client.Get(ctx, client.ObjectKey{Namespace: home, Name: "legacy-mirror"}, live); err != nil {
		return err
	}
	controllerutil.AddFinalizer(live, FormerFinalizer)
	if err := s.Client.Update(ctx, live, client.FieldOwner(LegacyManager)); err != nil {
		return fmt.Errorf("adding the previous release's finalizer: %w", err)
	}
	s.say("left for exploring: ConfigMirrors %s/settings-mirror and %s/legacy-mirror, which also carries %q from %s (Update); the operator's finalizer is %q",
		home, home, FormerFinalizer, LegacyManager, controller.Finalizer)
	return nil
}
