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

	"github.com/ssakit/ssakit/pkg/ssa"
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

func TestNewFinalizer_RefusesAnExplicitFieldOwnerDeclaredForAnotherFinalizer(t *testing.T) {
	c := fake.NewClientBuilder().Build()
	if _, err := ssa.NewFinalizer(c, "op", "example.com/first", ssa.WithFieldOwner("op/shared")); err != nil {
		t.Fatal(err)
	}

	_, err := ssa.NewFinalizer(c, "op", "example.com/second", ssa.WithFieldOwner("op/shared"))

	if err == nil || !strings.Contains(err.Error(), `field manager "op/shared" is already declared for finalizer "example.com/first"`) {
		t.Errorf("err = %v, want a refusal naming the finalizer that has the manager", err)
	}
}

func TestNewFinalizer_AcceptsTheSameFinalizerDeclaredAgain(t *testing.T) {
	c := fake.NewClientBuilder().Build()
	for range 2 {
		if _, err := ssa.NewFinalizer(c, "op", "example.com/again", ssa.WithFieldOwner(client.FieldOwner("op/again"))); err != nil {
			t.Fatalf("declaring the same finalizer on the same manager again: %v", err)
		}
	}
}

func TestNewFinalizer_RefusesAFieldOwnerTheServerWouldRefuse(t *testing.T) {
	c := fake.NewClientBuilder().Build()
	for _, owner := range []string{strings.Repeat("o", 129), "op\tfinalizer"} {
		if _, err := ssa.NewFinalizer(c, "op", "example.com/refused", ssa.WithFieldOwner(client.FieldOwner(owner))); err == nil {
			t.Errorf("field manager %q was accepted", owner)
		}
	}
}

func TestFinalizer_HeldWithoutAnAPIReaderSaysWhatToPass(t *testing.T) {
	f, err := ssa.NewFinalizer(fake.NewClientBuilder().Build(), "op", "example.com/held")
	if err != nil {
		t.Fatal(err)
	}

	_, err = f.Held(t.Context(), demoConfigMap())

	if err == nil || !strings.Contains(err.Error(), "WithAPIReader(mgr.GetAPIReader())") {
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
	f, err := ssa.NewFinalizer(c, "op", "example.com/stripped")
	if err != nil {
		t.Fatal(err)
	}

	err = f.Add(t.Context(), obj)

	if err == nil || !strings.Contains(err.Error(), "does not carry it") {
		t.Errorf("err = %v, want one that says the answer lacks the finalizer", err)
	}
}

// RenamedFrom retires a name: one that another finalizer of the process still uses would be
// removed from every live object the renamed finalizer is added to.
func TestNewFinalizer_RefusesToRenameFromAFinalizerStillDeclared(t *testing.T) {
	if _, err := ssa.NewFinalizer(nil, "refuse-rename", "example.com/still-used"); err != nil {
		t.Fatal(err)
	}

	_, err := ssa.NewFinalizer(nil, "refuse-rename", "example.com/renamed", ssa.RenamedFrom("example.com/still-used"))

	if err == nil || !strings.Contains(err.Error(), `RenamedFrom("example.com/still-used") names a finalizer declared in this process`) {
		t.Errorf("want the still-declared name refused, got %v", err)
	}
}

// The other way round: a finalizer whose name another one retires is refused too.
func TestNewFinalizer_RefusesAFinalizerAnotherOneRetires(t *testing.T) {
	if _, err := ssa.NewFinalizer(nil, "refuse-retired", "example.com/new-name", ssa.RenamedFrom("retired-name")); err != nil {
		t.Fatal(err)
	}

	_, err := ssa.NewFinalizer(nil, "refuse-retired", "retired-name", ssa.AllowLegacyName())

	if err == nil || !strings.Contains(err.Error(), `finalizer "example.com/new-name" is declared RenamedFrom it`) {
		t.Errorf("want the retired name refused, got %v", err)
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
