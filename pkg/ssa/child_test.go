package ssa_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/ssakit/ssakit/pkg/ssa"
	"github.com/ssakit/ssakit/pkg/ssatest"
)

// childTest is a fake kit with a Deployment, the owner, and the writes sent to it counted.
type childTest struct {
	c      client.WithWatch
	owner  *appsv1.Deployment
	writes *int
}

func newChildTest(t *testing.T, objs ...client.Object) childTest {
	t.Helper()
	owner := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "web", UID: "d3a1"}}
	writes := 0
	count := func() { writes++ }
	c := ssatest.NewClientBuilder(nil).WithObjects(append([]client.Object{owner}, objs...)...).WithInterceptorFuncs(interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			count()
			return c.Create(ctx, obj, opts...)
		},
		Apply: func(ctx context.Context, c client.WithWatch, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
			count()
			return c.Apply(ctx, obj, opts...)
		},
	}).Build()
	if err := c.Get(t.Context(), client.ObjectKeyFromObject(owner), owner); err != nil {
		t.Fatal(err)
	}
	return childTest{c: c, owner: owner, writes: &writes}
}

func pageConfig(content string) *corev1ac.ConfigMapApplyConfiguration {
	return corev1ac.ConfigMap("web-page", "demo").WithData(map[string]string{"index.html": content})
}

func TestApplier_ApplyChildCreatesTheChildControlledByItsOwner(t *testing.T) {
	tc := newChildTest(t)
	pages := ssa.NewApplier(tc.c, "web", ssa.ApplierOptions{})

	sent, err := pages.ApplyChild(t.Context(), tc.owner, pageConfig("hello"))
	if err != nil || !sent {
		t.Fatalf("ApplyChild = %v, %v; want sent", sent, err)
	}

	got := &corev1.ConfigMap{}
	if err := tc.c.Get(t.Context(), client.ObjectKey{Namespace: "demo", Name: "web-page"}, got); err != nil {
		t.Fatal(err)
	}
	want := []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "web", UID: "d3a1", Controller: new(true), BlockOwnerDeletion: new(true)}}
	if d := cmp.Diff(want, got.OwnerReferences); d != "" {
		t.Errorf("owner references (-want +got):\n%s", d)
	}
	if d := cmp.Diff(map[string]string{"index.html": "hello"}, got.Data); d != "" {
		t.Errorf("data (-want +got):\n%s", d)
	}
}

func TestApplier_ApplyChildSendsNothingOnceTheChildIsAsWanted(t *testing.T) {
	tc := newChildTest(t)
	pages := ssa.NewApplier(tc.c, "web", ssa.ApplierOptions{})
	if _, err := pages.ApplyChild(t.Context(), tc.owner, pageConfig("hello")); err != nil {
		t.Fatal(err)
	}
	before := *tc.writes

	sent, err := pages.ApplyChild(t.Context(), tc.owner, pageConfig("hello"))

	if err != nil || sent || *tc.writes != before {
		t.Errorf("ApplyChild again = %v, %v with %d more writes; want nothing sent", sent, err, *tc.writes-before)
	}
}

// A ConfigMap of the child's name that was not created for the owner is left as it is, whether
// it has no controller or another one.
func TestApplier_ApplyChildNeverAdoptsAnObjectTheOwnerDoesNotControl(t *testing.T) {
	for name, refs := range map[string][]metav1.OwnerReference{
		"no controller":      nil,
		"another controller": {{APIVersion: "apps/v1", Kind: "Deployment", Name: "api", UID: "a9", Controller: new(true)}},
		"an earlier owner":   {{APIVersion: "apps/v1", Kind: "Deployment", Name: "web", UID: "0ld", Controller: new(true)}},
	} {
		t.Run(name, func(t *testing.T) {
			foreign := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "web-page", OwnerReferences: refs},
				Data: map[string]string{"index.html": "theirs"}}
			tc := newChildTest(t, foreign)
			pages := ssa.NewApplier(tc.c, "web", ssa.ApplierOptions{})

			sent, err := pages.ApplyChild(t.Context(), tc.owner, pageConfig("hello"), client.ForceOwnership)

			if sent || !errors.Is(err, ssa.ErrNotControlled) {
				t.Errorf("ApplyChild = %v, %v; want ErrNotControlled and nothing sent", sent, err)
			}
			if _, owned := errors.AsType[*controllerutil.AlreadyOwnedError](err); owned != (name == "another controller") {
				t.Errorf("an *AlreadyOwnedError is in %v: %v", err, owned)
			}
			got := &corev1.ConfigMap{}
			if err := tc.c.Get(t.Context(), client.ObjectKeyFromObject(foreign), got); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(map[string]string{"index.html": "theirs"}, got.Data); d != "" || *tc.writes != 0 {
				t.Errorf("the foreign ConfigMap was written (%d writes); data (-want +got):\n%s", *tc.writes, d)
			}
		})
	}
}

// A cache that has not seen a ConfigMap someone just made shows none: the create that follows
// finds it, and nothing is written to it.
func TestApplier_ApplyChildDoesNotAdoptAnObjectTheCacheHasNotSeen(t *testing.T) {
	tc := newChildTest(t)
	cache := ssatest.NewLaggingClient(tc.c)
	foreign := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "web-page"}, Data: map[string]string{"index.html": "theirs"}}
	if err := tc.c.Create(t.Context(), foreign); err != nil {
		t.Fatal(err)
	}
	pages := ssa.NewApplier(cache, "web", ssa.ApplierOptions{})

	_, err := pages.ApplyChild(t.Context(), tc.owner, pageConfig("hello"), client.ForceOwnership)

	if !errors.Is(err, ssa.ErrStale) {
		t.Errorf("ApplyChild: %v; want ErrStale", err)
	}
	got := &corev1.ConfigMap{}
	if err := tc.c.Get(t.Context(), client.ObjectKeyFromObject(foreign), got); err != nil {
		t.Fatal(err)
	}
	if len(got.OwnerReferences) != 0 || got.Data["index.html"] != "theirs" {
		t.Errorf("the ConfigMap was adopted: %+v", got)
	}
}

func TestApplier_ApplyChildRefusesAChildInAnotherNamespace(t *testing.T) {
	tc := newChildTest(t)
	pages := ssa.NewApplier(tc.c, "web", ssa.ApplierOptions{})

	_, err := pages.ApplyChild(t.Context(), tc.owner, corev1ac.ConfigMap("web-page", "elsewhere"))

	if err == nil || *tc.writes != 0 {
		t.Errorf("ApplyChild to another namespace = %v with %d writes; want an error and no write", err, *tc.writes)
	}
}

// The create's Update entry becomes the manager's Apply entry, so a key a later configuration
// drops is removed, as it would be from a child an apply had made.
func TestApplier_ApplyChildRemovesAFieldALaterConfigurationDrops(t *testing.T) {
	tc := newChildTest(t)
	pages := ssa.NewApplier(tc.c, "web", ssa.ApplierOptions{})
	first := corev1ac.ConfigMap("web-page", "demo").WithData(map[string]string{"index.html": "hello", "old.html": "bye"})
	if _, err := pages.ApplyChild(t.Context(), tc.owner, first); err != nil {
		t.Fatal(err)
	}

	if _, err := pages.ApplyChild(t.Context(), tc.owner, pageConfig("hello")); err != nil {
		t.Fatal(err)
	}

	got := &corev1.ConfigMap{}
	if err := tc.c.Get(t.Context(), client.ObjectKey{Namespace: "demo", Name: "web-page"}, got); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(map[string]string{"index.html": "hello"}, got.Data); d != "" {
		t.Errorf("data (-want +got):\n%s", d)
	}
	for _, e := range got.ManagedFields {
		if e.Manager == "web" && e.Operation != metav1.ManagedFieldsOperationApply {
			t.Errorf("the create's %s entry is still there: %s", e.Operation, e.FieldsV1)
		}
	}
}

func TestApplier_ApplyChildWithDryRunWritesNothing(t *testing.T) {
	tc := newChildTest(t)
	pages := ssa.NewApplier(tc.c, "web", ssa.ApplierOptions{})

	if _, err := pages.ApplyChild(t.Context(), tc.owner, pageConfig("hello"), client.DryRunAll); err != nil {
		t.Fatal(err)
	}

	err := tc.c.Get(t.Context(), client.ObjectKey{Namespace: "demo", Name: "web-page"}, &corev1.ConfigMap{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("a dry run left the child: Get = %v", err)
	}
}

func TestApplier_ApplyChildKeepsTheConfigurationsOtherOwnerReferences(t *testing.T) {
	tc := newChildTest(t)
	pages := ssa.NewApplier(tc.c, "web", ssa.ApplierOptions{})
	other := metav1ac.OwnerReference().WithAPIVersion("v1").WithKind("ConfigMap").WithName("shared").WithUID("5e1")

	if _, err := pages.ApplyChild(t.Context(), tc.owner, pageConfig("hello").WithOwnerReferences(other)); err != nil {
		t.Fatal(err)
	}

	got := &corev1.ConfigMap{}
	if err := tc.c.Get(t.Context(), client.ObjectKey{Namespace: "demo", Name: "web-page"}, got); err != nil {
		t.Fatal(err)
	}
	var uids []string
	for _, r := range got.OwnerReferences {
		uids = append(uids, string(r.UID))
	}
	if d := cmp.Diff([]string{"d3a1", "5e1"}, uids); d != "" {
		t.Errorf("owner references by UID (-want +got):\n%s", d)
	}
}

func TestApplier_ApplyChildRefusesAnotherControllerInTheConfiguration(t *testing.T) {
	tc := newChildTest(t)
	pages := ssa.NewApplier(tc.c, "web", ssa.ApplierOptions{})
	other := metav1ac.OwnerReference().WithAPIVersion("apps/v1").WithKind("Deployment").WithName("api").WithUID("a9").WithController(true)

	_, err := pages.ApplyChild(t.Context(), tc.owner, pageConfig("hello").WithOwnerReferences(other))

	if err == nil || *tc.writes != 0 {
		t.Errorf("ApplyChild = %v with %d writes; want an error and no write", err, *tc.writes)
	}
}

// A child deleted since the cache saw it: the apply, which carries its UID, finds nothing, and
// the call says the copy was stale, since the delete event brings the reconcile that makes it again.
func TestApplier_ApplyChildDeletedSinceTheCacheSawItIsStale(t *testing.T) {
	tc := newChildTest(t)
	if _, err := ssa.NewApplier(tc.c, "web", ssa.ApplierOptions{}).ApplyChild(t.Context(), tc.owner, pageConfig("hello")); err != nil {
		t.Fatal(err)
	}
	cache := ssatest.NewLaggingClient(tc.c)
	if err := tc.c.Delete(t.Context(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "web-page"}}); err != nil {
		t.Fatal(err)
	}

	_, err := ssa.NewApplier(cache, "web", ssa.ApplierOptions{}).ApplyChild(t.Context(), tc.owner, pageConfig("changed"))

	if !errors.Is(err, ssa.ErrStale) {
		t.Errorf("ApplyChild: %v; want ErrStale", err)
	}
	if err := tc.c.Get(t.Context(), client.ObjectKey{Namespace: "demo", Name: "web-page"}, &corev1.ConfigMap{}); !apierrors.IsNotFound(err) {
		t.Errorf("the deleted child is back: Get = %v", err)
	}
}

// A child whose create entry was never folded (a write came between the create and its
// managedFields patch) still has the manager's Update entry: the next call folds it, so a key a
// later configuration drops is removed.
func TestApplier_ApplyChildFoldsAnUpdateEntryItsCreateLeft(t *testing.T) {
	tc := newChildTest(t)
	left := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "web-page", OwnerReferences: []metav1.OwnerReference{{
			APIVersion: "apps/v1", Kind: "Deployment", Name: "web", UID: "d3a1", Controller: new(true), BlockOwnerDeletion: new(true)}}},
		Data: map[string]string{"index.html": "hello", "old.html": "bye"},
	}
	if err := tc.c.Create(t.Context(), left, client.FieldOwner("web")); err != nil {
		t.Fatal(err)
	}
	pages := ssa.NewApplier(tc.c, "web", ssa.ApplierOptions{})

	if _, err := pages.ApplyChild(t.Context(), tc.owner, pageConfig("hello")); err != nil {
		t.Fatal(err)
	}

	got := &corev1.ConfigMap{}
	if err := tc.c.Get(t.Context(), client.ObjectKeyFromObject(left), got); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(map[string]string{"index.html": "hello"}, got.Data); d != "" {
		t.Errorf("data (-want +got):\n%s", d)
	}
	for _, e := range got.ManagedFields {
		if e.Manager == "web" && e.Operation != metav1.ManagedFieldsOperationApply {
			t.Errorf("the create's %s entry is still there: %s", e.Operation, e.FieldsV1)
		}
	}
	before := *tc.writes
	if sent, err := pages.ApplyChild(t.Context(), tc.owner, pageConfig("hello")); err != nil || sent || *tc.writes != before {
		t.Errorf("ApplyChild after the fold = %v, %v with %d writes; want nothing sent", sent, err, *tc.writes-before)
	}
}
