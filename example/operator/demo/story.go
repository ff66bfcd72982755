// Package demo plays a user's story with the ConfigMirror operator and checks, at every step,
// that the user's, the operator's and the finalizer's field managers never own the same field.
// The demo command and its test run this same code.
package demo

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mirrorv1alpha1 "github.com/ssakit/ssakit/example/operator/api/v1alpha1"
	mirrorac "github.com/ssakit/ssakit/example/operator/api/v1alpha1/applyconfiguration/api/v1alpha1"
	"github.com/ssakit/ssakit/example/operator/controller"
	"github.com/ssakit/ssakit/pkg/ssa"
)

const (
	// userManager is the field manager of the user's applies, as kubectl apply --server-side.
	userManager = "kubectl"
	// namespaceAdmin is the field manager of whoever administers the target namespaces and
	// annotates them to accept copies.
	namespaceAdmin = "namespace-admin"
	// otherManager is another controller that adds and removes its own finalizer with JSON
	// merge patches, the way many controllers still do.
	otherManager   = "backup-controller"
	otherFinalizer = "backup.example.com/protect"
)

// managers are the field managers that must stay disjoint on the ConfigMirror.
var managers = []string{userManager, controller.Name, controller.FinalizerFieldOwner, otherManager}

// Story is the user's story. The ConfigMirror CRD must be installed and the operator running.
type Story struct {
	// Client acts for the user and for the other controller.
	Client client.Client
	// Out receives the narration.
	Out io.Writer
	// Prefix is put before every namespace name, so that several stories can share a cluster.
	Prefix string
	// Timeout bounds each wait for the operator. Default: 30s.
	Timeout time.Duration
}

// Verdict is the story's outcome.
type Verdict struct {
	// Overlaps lists, per step, the fields that two of the checked managers both owned.
	Overlaps []string
}

// Passed reports whether the managers never shared a field.
func (v Verdict) Passed() bool { return len(v.Overlaps) == 0 }

// String is the one-line verdict the demo ends with.
func (v Verdict) String() string {
	if v.Passed() {
		return fmt.Sprintf("verdict: PASS: field managers %s stayed disjoint on the ConfigMirror at every step", strings.Join(managers, ", "))
	}
	return "verdict: FAIL: field managers overlapped: " + strings.Join(v.Overlaps, "; ")
}

// Run plays the story. An error means the operator did not do what the story expects; the
// verdict says whether ownership stayed disjoint.
func (s *Story) Run(ctx context.Context) (Verdict, error) {
	if s.Timeout == 0 {
		s.Timeout = 30 * time.Second
	}
	p := s.cast()
	for _, step := range []func(context.Context) error{
		p.adminAcceptsCopies,     // [0]
		p.userAppliesMirror,      // [1]
		p.userEditsTargets,       // [2]
		p.userChangesSource,      // [3]
		p.userAddsOccupiedTarget, // [4]
		p.userAddsRefusingTarget, // [5]
		p.otherAddsFinalizer,     // [6]
		p.otherRemovesFinalizer,  // [7]
		p.userDeletesMirror,      // [8]
	} {
		if err := step(ctx); err != nil {
			return p.verdict, err
		}
	}
	fmt.Fprintln(s.Out, p.verdict)
	return p.verdict, nil
}

// play is one run of the story: its namespaces, the objects it follows from step to step, and
// the verdict so far.
type play struct {
	*Story
	home, teamA, teamB, teamC, teamD, platform string
	// mirror is the user's ConfigMirror in home.
	mirror *mirrorv1alpha1.ConfigMirror
	// users is the user's own ConfigMap in teamD, as read before step 4 targets teamD: the
	// operator must never write it.
	users   *corev1.ConfigMap
	verdict Verdict
}

// cast names the story's namespaces and its ConfigMirror.
func (s *Story) cast() *play {
	home := s.Prefix + "demo"
	return &play{
		Story:    s,
		home:     home,
		teamA:    s.Prefix + "team-a",
		teamB:    s.Prefix + "team-b",
		teamC:    s.Prefix + "team-c",
		teamD:    s.Prefix + "team-d",
		platform: s.Prefix + "platform",
		mirror:   &mirrorv1alpha1.ConfigMirror{ObjectMeta: metav1.ObjectMeta{Namespace: home, Name: "settings-mirror"}},
	}
}

// adminAcceptsCopies creates home and platform, and annotates teamA to teamD to accept copies
// from home.
func (p *play) adminAcceptsCopies(ctx context.Context) error {
	for _, ns := range []string{p.home, p.platform} {
		if err := p.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); client.IgnoreAlreadyExists(err) != nil {
			return err
		}
	}
	p.step(0, "a cluster admin lets %s to %s accept copies from %s (annotation %s=%s); %s accepts none",
		p.teamA, p.teamD, p.home, controller.AcceptFromAnnotation, p.home, p.platform)
	for _, ns := range []string{p.teamA, p.teamB, p.teamC, p.teamD} {
		accept := corev1ac.Namespace(ns).WithAnnotations(map[string]string{controller.AcceptFromAnnotation: p.home})
		if err := p.Client.Apply(ctx, accept, client.FieldOwner(namespaceAdmin)); err != nil {
			return err
		}
	}
	return nil
}

// userAppliesMirror applies the source and a mirror targeting teamA and teamB, and waits for the
// copies and Ready=True.
func (p *play) userAppliesMirror(ctx context.Context) error {
	p.step(1, "the user applies ConfigMap %s/settings and ConfigMirror %s/settings-mirror targeting %s and %s", p.home, p.home, p.teamA, p.teamB)
	if err := p.applySource(ctx, p.home, "fast"); err != nil {
		return err
	}
	if err := p.applyMirror(ctx, p.home, p.teamA, p.teamB); err != nil {
		return err
	}
	if err := p.waitCopies(ctx, "fast", []string{p.teamA, p.teamB}, []string{p.teamC}); err != nil {
		return err
	}
	if _, err := p.waitReady(ctx, p.mirror, metav1.ConditionTrue, mirrorv1alpha1.ReasonSynced); err != nil {
		return err
	}
	p.say("copies in %s and %s; Ready=True", p.teamA, p.teamB)
	return p.check(ctx, &p.verdict, p.mirror, "after create", true)
}

// userEditsTargets swaps teamB for teamC, and waits for the copies to follow.
func (p *play) userEditsTargets(ctx context.Context) error {
	p.step(2, "the user edits spec.targetNamespaces to %s and %s", p.teamA, p.teamC)
	if err := p.applyMirror(ctx, p.home, p.teamA, p.teamC); err != nil {
		return err
	}
	if err := p.waitCopies(ctx, "fast", []string{p.teamA, p.teamC}, []string{p.teamB}); err != nil {
		return err
	}
	p.say("the copy in %s is deleted, a copy in %s appears", p.teamB, p.teamC)
	return p.check(ctx, &p.verdict, p.mirror, "after the spec edit", false)
}

// userChangesSource changes the source's data, and waits for the copies to follow.
func (p *play) userChangesSource(ctx context.Context) error {
	p.step(3, "the user changes the source ConfigMap")
	if err := p.applySource(ctx, p.home, "safe"); err != nil {
		return err
	}
	if err := p.waitCopies(ctx, "safe", []string{p.teamA, p.teamC}, nil); err != nil {
		return err
	}
	p.say("the copies follow")
	return nil
}

// userAddsOccupiedTarget adds teamD, where the user's own ConfigMap holds the name, waits for
// Ready=False with reason TargetConflict, checks that the user's ConfigMap is untouched, and
// takes teamD back out.
func (p *play) userAddsOccupiedTarget(ctx context.Context) error {
	p.step(4, "the user adds %s, which already holds a ConfigMap settings of the user's own, to the targets", p.teamD)
	if err := p.createUsersConfigMap(ctx); err != nil {
		return err
	}
	if err := p.applyMirror(ctx, p.home, p.teamA, p.teamC, p.teamD); err != nil {
		return err
	}
	message, err := p.waitReady(ctx, p.mirror, metav1.ConditionFalse, mirrorv1alpha1.ReasonTargetConflict)
	if err != nil {
		return err
	}
	if err := p.unchanged(ctx, p.users); err != nil {
		return err
	}
	p.say("Ready=False, reason TargetConflict: %s", message)
	p.say("the user's ConfigMap %s/settings is untouched; the user takes %s back out of the targets", p.teamD, p.teamD)
	return p.targetTeamAAndTeamC(ctx)
}

// createUsersConfigMap creates the user's own ConfigMap settings in teamD, and keeps it, as read
// back, in users.
func (p *play) createUsersConfigMap(ctx context.Context) error {
	if err := p.Client.Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: p.teamD, Name: "settings"},
		Data:       map[string]string{"owner": "the user"},
	}, client.FieldOwner(userManager)); client.IgnoreAlreadyExists(err) != nil {
		return err
	}
	p.users = &corev1.ConfigMap{}
	return p.Client.Get(ctx, client.ObjectKey{Namespace: p.teamD, Name: "settings"}, p.users)
}

// userAddsRefusingTarget adds platform, which accepts no copies, waits for Ready=False with
// reason NamespaceNotConsenting and checks that nothing is written there, and takes platform
// back out.
func (p *play) userAddsRefusingTarget(ctx context.Context) error {
	p.step(5, "the user adds %s, whose admins have not agreed to receive copies, to the targets", p.platform)
	if err := p.applyMirror(ctx, p.home, p.teamA, p.teamC, p.platform); err != nil {
		return err
	}
	message, err := p.waitReady(ctx, p.mirror, metav1.ConditionFalse, mirrorv1alpha1.ReasonNamespaceNotConsenting)
	if err != nil {
		return err
	}
	if err := p.waitCopies(ctx, "safe", []string{p.teamA, p.teamC}, []string{p.platform}); err != nil {
		return err
	}
	p.say("Ready=False, reason NamespaceNotConsenting: %s", message)
	p.say("nothing is written in %s; the user takes %s back out of the targets", p.platform, p.platform)
	return p.targetTeamAAndTeamC(ctx)
}

// targetTeamAAndTeamC applies the mirror's targets back to teamA and teamC, and waits for
// Ready=True.
func (p *play) targetTeamAAndTeamC(ctx context.Context) error {
	if err := p.applyMirror(ctx, p.home, p.teamA, p.teamC); err != nil {
		return err
	}
	_, err := p.waitReady(ctx, p.mirror, metav1.ConditionTrue, mirrorv1alpha1.ReasonSynced)
	return err
}

// otherAddsFinalizer has the other controller add its finalizer with a JSON merge patch.
func (p *play) otherAddsFinalizer(ctx context.Context) error {
	p.step(6, "%s adds its own finalizer %s with a JSON merge patch", otherManager, otherFinalizer)
	if err := p.patchFinalizers(ctx, p.mirror, func(f []string) []string { return append(f, otherFinalizer) }); err != nil {
		return err
	}
	return p.check(ctx, &p.verdict, p.mirror, "after the other controller's finalizer", true)
}

// otherRemovesFinalizer has the other controller remove its finalizer with a JSON merge patch.
func (p *play) otherRemovesFinalizer(ctx context.Context) error {
	p.step(7, "%s removes its finalizer with a JSON merge patch", otherManager)
	if err := p.patchFinalizers(ctx, p.mirror, func(f []string) []string {
		return slices.DeleteFunc(f, func(name string) bool { return name == otherFinalizer })
	}); err != nil {
		return err
	}
	return p.check(ctx, &p.verdict, p.mirror, "after the other controller's removal", false)
}

// userDeletesMirror deletes the mirror, and waits for the cleanup: every copy deleted, the
// user's ConfigMap untouched, the mirror gone.
func (p *play) userDeletesMirror(ctx context.Context) error {
	p.step(8, "the user deletes the ConfigMirror")
	if err := p.Client.Delete(ctx, p.mirror); err != nil {
		return err
	}
	if err := p.waitCopies(ctx, "", nil, []string{p.teamA, p.teamB, p.teamC}); err != nil {
		return err
	}
	if err := p.unchanged(ctx, p.users); err != nil {
		return err
	}
	if err := p.wait(ctx, "the ConfigMirror to be gone", func() (bool, error) {
		err := p.Client.Get(ctx, client.ObjectKeyFromObject(p.mirror), &mirrorv1alpha1.ConfigMirror{})
		return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
	}); err != nil {
		return err
	}
	p.say("cleanup ran: every copy is deleted, the finalizer is removed, the ConfigMirror is gone; the user's %s/settings is still there, untouched", p.teamD)
	return nil
}

func (s *Story) step(n int, format string, args ...any) {
	fmt.Fprintf(s.Out, "\n[%d] %s\n", n, fmt.Sprintf(format, args...))
}

func (s *Story) say(format string, args ...any) {
	fmt.Fprintf(s.Out, "    %s\n", fmt.Sprintf(format, args...))
}

func (s *Story) applySource(ctx context.Context, namespace, mode string) error {
	source := corev1ac.ConfigMap("settings", namespace).WithData(map[string]string{"mode": mode, "region": "eu-west"})
	return s.Client.Apply(ctx, source, client.FieldOwner(userManager))
}

func (s *Story) applyMirror(ctx context.Context, namespace string, targets ...string) error {
	mirror := mirrorac.ConfigMirror("settings-mirror", namespace).
		WithSpec(mirrorac.ConfigMirrorSpec().WithSource("settings").WithTargetNamespaces(targets...))
	return s.Client.Apply(ctx, mirror, client.FieldOwner(userManager))
}

// patchFinalizers changes the finalizers with a JSON merge patch from a fresh read, as the other
// controller would.
func (s *Story) patchFinalizers(ctx context.Context, mirror *mirrorv1alpha1.ConfigMirror, change func([]string) []string) error {
	live := &mirrorv1alpha1.ConfigMirror{}
	if err := s.Client.Get(ctx, client.ObjectKeyFromObject(mirror), live); err != nil {
		return err
	}
	patch := client.MergeFrom(live.DeepCopy())
	live.Finalizers = change(slices.Clone(live.Finalizers))
	return s.Client.Patch(ctx, live, patch, client.FieldOwner(otherManager))
}

// waitCopies waits until every namespace in present has a copy with data mode=mode, and no
// namespace in absent has one.
func (s *Story) waitCopies(ctx context.Context, mode string, present, absent []string) error {
	return s.wait(ctx, fmt.Sprintf("copies in %v with mode=%s and none in %v", present, mode, absent), func() (bool, error) {
		for _, ns := range present {
			cm := &corev1.ConfigMap{}
			err := s.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "settings"}, cm)
			if apierrors.IsNotFound(err) || (err == nil && cm.Data["mode"] != mode) {
				return false, nil
			}
			if err != nil {
				return false, err
			}
		}
		for _, ns := range absent {
			err := s.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "settings"}, &corev1.ConfigMap{})
			if err == nil {
				return false, nil
			}
			if !apierrors.IsNotFound(err) {
				return false, err
			}
		}
		return true, nil
	})
}

// waitReady waits until the Ready condition describes the current generation with status and
// reason, and returns its message.
func (s *Story) waitReady(ctx context.Context, mirror *mirrorv1alpha1.ConfigMirror, status metav1.ConditionStatus, reason string) (string, error) {
	var message string
	return message, s.wait(ctx, fmt.Sprintf("Ready=%s with reason %s", status, reason), func() (bool, error) {
		live := &mirrorv1alpha1.ConfigMirror{}
		if err := s.Client.Get(ctx, client.ObjectKeyFromObject(mirror), live); err != nil {
			return false, err
		}
		for _, c := range live.Status.Conditions {
			if c.Type == mirrorv1alpha1.ConditionReady && c.Status == status && c.Reason == reason && c.ObservedGeneration == live.Generation {
				message = c.Message
				return true, nil
			}
		}
		return false, nil
	})
}

// unchanged fails when the ConfigMap is not exactly as before: the operator must never write a
// ConfigMap it did not create.
func (s *Story) unchanged(ctx context.Context, before *corev1.ConfigMap) error {
	after := &corev1.ConfigMap{}
	if err := s.Client.Get(ctx, client.ObjectKeyFromObject(before), after); err != nil {
		return fmt.Errorf("the user's ConfigMap %s/%s: %w", before.Namespace, before.Name, err)
	}
	if after.ResourceVersion != before.ResourceVersion {
		return fmt.Errorf("the operator wrote the user's ConfigMap %s/%s: resourceVersion %s became %s", before.Namespace, before.Name, before.ResourceVersion, after.ResourceVersion)
	}
	return nil
}

// check reads the ConfigMirror's ownership, records any overlap of the checked managers, and
// prints the blame rendering when show is set.
func (s *Story) check(ctx context.Context, verdict *Verdict, mirror *mirrorv1alpha1.ConfigMirror, moment string, show bool) error {
	live := &mirrorv1alpha1.ConfigMirror{}
	if err := s.Client.Get(ctx, client.ObjectKeyFromObject(mirror), live); err != nil {
		return err
	}
	ownership, err := ssa.ParseOwnership(live.ManagedFields)
	if err != nil {
		return err
	}
	if err := ownership.CheckNoOverlap(managers...); err != nil {
		verdict.Overlaps = append(verdict.Overlaps, moment+": "+err.Error())
	}
	if show {
		blame, err := ssa.Blame(live)
		if err != nil {
			return err
		}
		s.say("ownership of ConfigMirror %s/%s %s:", live.Namespace, live.Name, moment)
		for line := range strings.SplitSeq(strings.TrimRight(blame, "\n"), "\n") {
			fmt.Fprintf(s.Out, "      %s\n", line)
		}
	}
	return nil
}

// wait polls done every 100ms until it says yes, fails, or the timeout passes.
func (s *Story) wait(ctx context.Context, what string, done func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	ticker := time.NewTicker(100 * time.Millisecond)
	defer ticker.Stop()
	for {
		ok, err := done()
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: the operator did not get there within %s: %w", what, s.Timeout, ctx.Err())
		case <-ticker.C:
		}
	}
}
