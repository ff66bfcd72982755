package ssa_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/google/go-cmp/cmp"

	"github.com/ssakit/ssakit/pkg/ssa"
	"github.com/ssakit/ssakit/pkg/ssatest"
)

func TestFinalizerFieldOwner_FitsTheServersLimitAndStaysUnique(t *testing.T) {
	controller := strings.Repeat("c", 100)
	name := strings.Repeat("d", 60) + ".example.com/" + strings.Repeat("n", 63)
	other := strings.Repeat("d", 60) + ".example.com/" + strings.Repeat("m", 63)

	owner := ssa.FinalizerFieldOwner(controller, name)

	if len(owner) != 128 {
		t.Errorf("len(%q) = %d, want 128 (the API server's limit, used in full)", owner, len(owner))
	}
	if again := ssa.FinalizerFieldOwner(controller, name); again != owner {
		t.Errorf("the same finalizer got two managers: %q and %q", owner, again)
	}
	if otherOwner := ssa.FinalizerFieldOwner(controller, other); otherOwner == owner {
		t.Errorf("two finalizers share the shortened manager %q", owner)
	}
	if !strings.HasPrefix(owner, controller+"/finalizer/") {
		t.Errorf("%q does not start with the controller's name", owner)
	}
}

func TestNewFinalizer_AcceptsTheSameFinalizerDeclaredAgain(t *testing.T) {
	c := fake.NewClientBuilder().Build()
	for range 2 {
		if _, err := ssa.NewFinalizer(c, "op", "example.com/again", ssa.FinalizerOptions{FieldOwner: client.FieldOwner("op/again")}); err != nil {
			t.Fatalf("declaring the same finalizer on the same manager again: %v", err)
		}
	}
}

func TestNewFinalizer_RefusesAFieldOwnerTheServerWouldRefuse(t *testing.T) {
	c := fake.NewClientBuilder().Build()
	for _, owner := range []string{strings.Repeat("o", 129), "op\tfinalizer"} {
		if _, err := ssa.NewFinalizer(c, "op", "example.com/refused", ssa.FinalizerOptions{FieldOwner: client.FieldOwner(owner)}); err == nil {
			t.Errorf("field manager %q was accepted", owner)
		}
	}
}

func TestFinalizer_IsOnLiveWithoutAnAPIReaderSaysWhatToPass(t *testing.T) {
	f, err := ssa.NewFinalizer(fake.NewClientBuilder().Build(), "op", "example.com/held", ssa.FinalizerOptions{})
	if err != nil {
		t.Fatal(err)
	}

	_, err = f.IsOnLive(t.Context(), demoConfigMap())

	if err == nil || !strings.Contains(err.Error(), "FinalizerOptions.APIReader set to mgr.GetAPIReader()") {
		t.Errorf("err = %v, want one that says to pass an API reader", err)
	}
	if errors.Is(err, ssa.ErrGone) {
		t.Error("a missing reader is not a gone object")
	}
}

// An admission webhook or policy can strip the finalizer from the write: Add must not report
// success for an object the server answered without it.
func TestFinalizer_AddFailsWhenTheAnswerDoesNotCarryTheFinalizer(t *testing.T) {
	obj := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "stripped", UID: "5"}}
	c := fake.NewClientBuilder().WithInterceptorFuncs(interceptor.Funcs{
		Apply: func(_ context.Context, _ client.WithWatch, config runtime.ApplyConfiguration, _ ...client.ApplyOption) error {
			// Client.Apply writes the answer into the configuration: here, the object as a policy
			// that strips the finalizer leaves it.
			config.(interface{ SetFinalizers([]string) }).SetFinalizers(nil)
			return nil
		},
	}).Build()
	f, err := ssa.NewFinalizer(c, "op", "example.com/stripped", ssa.FinalizerOptions{})
	if err != nil {
		t.Fatal(err)
	}

	_, err = f.Add(t.Context(), obj)

	if err == nil || !strings.Contains(err.Error(), "does not carry it") {
		t.Errorf("err = %v, want one that says the answer lacks the finalizer", err)
	}
}

// TakeOverFields sets the whole managedFields list, so it must be guarded by the resourceVersion
// of the object it was computed from: an object without one is refused before any request.
func TestTakeOverFields_RefusesAnObjectWithoutResourceVersion(t *testing.T) {
	c := fake.NewClientBuilder().Build()
	obj := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "settings", UID: "4b1d", ManagedFields: []metav1.ManagedFieldsEntry{{
		Manager: "old", Operation: metav1.ManagedFieldsOperationApply, Subresource: "status", FieldsType: "FieldsV1", FieldsV1: metav1.NewFieldsV1(`{"f:data":{"f:a":{}}}`),
	}}}}

	_, err := ssa.TakeOverFields(context.Background(), c, obj, "new", "status", "old")

	if err == nil || !strings.Contains(err.Error(), "has no resourceVersion") {
		t.Errorf("want the object refused for its missing resourceVersion, got %v", err)
	}
}

// Add and Remove say whether they sent a request, as Applier.Apply does: a caller counts its
// requests, or tells an applied change from a no-op, from what they return.
func TestFinalizer_AddAndRemoveSayWhetherTheySentARequest(t *testing.T) {
	applies := 0
	c := ssatest.NewClientBuilder(nil).WithInterceptorFuncs(interceptor.Funcs{
		Apply: func(ctx context.Context, c client.WithWatch, config runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
			applies++
			return c.Apply(ctx, config, opts...)
		},
	}).Build()
	obj := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "settings"}}
	if err := c.Create(t.Context(), obj); err != nil {
		t.Fatal(err)
	}
	f, err := ssa.NewFinalizer(c, "op", "example.com/cleanup", ssa.FinalizerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	type call struct {
		Sent     bool
		Requests int
	}
	var got []call
	for _, op := range []func(context.Context, client.Object) (bool, error){f.Add, f.Add, f.Remove} {
		before := applies
		sent, err := op(t.Context(), obj)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, call{sent, applies - before})
	}

	// The second Add finds the finalizer owned on the answer the first one left in obj.
	want := []call{{true, 1}, {false, 0}, {true, 1}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Add, Add, Remove (-want +got):\n%s", d)
	}
}

func TestNewFinalizer_RefusesItsOwnNameAsAFormerName(t *testing.T) {
	_, err := ssa.NewFinalizer(nil, "op", "example.com/cleanup", ssa.FinalizerOptions{FormerNames: []string{"example.com/cleanup"}})

	if err == nil || !strings.Contains(err.Error(), "FormerNames names the finalizer itself") {
		t.Errorf("err = %v, want the finalizer's own name refused as a former name", err)
	}
}
