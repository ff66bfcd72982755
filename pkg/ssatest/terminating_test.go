package ssatest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	ssareconcile "github.com/ssakit/ssakit/pkg/reconcile"
	"github.com/ssakit/ssakit/pkg/ssa"
	"github.com/ssakit/ssakit/pkg/ssatest"
)

// finalizerEntry is the entry of manager when it owns finalizer name alone, by a main-resource
// apply, as the API server records it.
func finalizerEntry(manager, name string) entry {
	return entry{Manager: manager, Operation: metav1.ManagedFieldsOperationApply, Fields: `{"f:metadata":{"f:finalizers":{"v:\"` + name + `\"":{}}}}`}
}

func TestFake_KeepsATerminatingObjectWhileAnotherFinalizerHoldsIt(t *testing.T) {
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).Build()
	cm := terminating(t, c, map[string]string{"example.com/mine": "mine", "example.com/theirs": "theirs"})
	f, err := ssa.NewFinalizer(c, "", "example.com/mine", ssa.FinalizerOptions{FieldOwner: "mine"})
	if err != nil {
		t.Fatal(err)
	}

	// The release lists no finalizer. The API server merges it, drops only example.com/mine, and
	// keeps the object, held by example.com/theirs (rows 3, 13); so does the fake kit.
	if err := errOf(f.Remove(t.Context(), cm)); err != nil {
		t.Fatalf("Remove: %v", err)
	}

	got := get(t, c, cm, &corev1.ConfigMap{})
	if d := cmp.Diff([]string{"example.com/theirs"}, got.Finalizers); d != "" {
		t.Errorf("finalizers of the stored object (-want +got):\n%s", d)
	}
	if got.DeletionTimestamp == nil {
		t.Error("the stored object is no longer terminating")
	}
	// The applier owns only what it applied: nothing, so its entry is gone.
	if d := cmp.Diff([]entry{finalizerEntry("theirs", "example.com/theirs")}, append(entriesOf(got, "mine"), entriesOf(got, "theirs")...)); d != "" {
		t.Errorf("entries of the two finalizers' managers (-want +got):\n%s", d)
	}
	// The answer, which Remove wrote into cm, is the stored object (ssa writes the kind into it,
	// where the fake's Get leaves a typed object's kind empty).
	if d := cmp.Diff(got, cm, cmpopts.IgnoreFields(corev1.ConfigMap{}, "TypeMeta")); d != "" {
		t.Errorf("the answer Remove wrote into the object (-stored +answer):\n%s", d)
	}
}

func TestFake_DeletesATerminatingObjectWhenItsLastFinalizerIsReleased(t *testing.T) {
	g := NewWithT(t)
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).Build()
	cm := terminating(t, c, map[string]string{"example.com/only": "only"})

	g.Expect(c.Apply(t.Context(), client.ApplyConfigurationFromUnstructured(finalizersOnly(cm, "ConfigMap")), client.FieldOwner("only"))).To(Succeed())

	// As on the API server (row 13).
	err := c.Get(t.Context(), client.ObjectKeyFromObject(cm), &corev1.ConfigMap{})
	g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "err = %v, want not found", err)
}

// A finalizer another manager also owns stays on a terminating object when this one releases it,
// and Remove says so (row 3); the plain fake deleted the object instead, and Remove succeeded.
func TestFinalizer_RemoveFromATerminatingObjectNamesTheCoOwnerOfItsFinalizer(t *testing.T) {
	g := NewWithT(t)
	cm := configMap()
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).Build()
	g.Expect(c.Create(t.Context(), cm, client.FieldOwner("kubectl"))).To(Succeed())
	f := newFinalizer(t, c, "example.com/shared")
	cm.Finalizers = []string{"example.com/shared"}
	g.Expect(c.Update(t.Context(), cm, client.FieldOwner("legacy-operator"))).To(Succeed())
	g.Expect(errOf(f.Add(t.Context(), cm))).To(Succeed())
	g.Expect(c.Delete(t.Context(), cm)).To(Succeed())
	g.Expect(c.Get(t.Context(), client.ObjectKeyFromObject(cm), cm)).To(Succeed())

	_, err := f.Remove(t.Context(), cm)

	var coOwned *ssa.CoOwnedError
	g.Expect(errors.As(err, &coOwned)).To(BeTrue(), "err = %v, want a *ssa.CoOwnedError", err)
	g.Expect(coOwned.CoOwners).To(Equal([]string{"legacy-operator"}))
	got := get(t, c, cm, &corev1.ConfigMap{})
	g.Expect(got.Finalizers).To(Equal([]string{"example.com/shared"}))
	g.Expect(got.DeletionTimestamp).NotTo(BeNil())
	g.Expect(owners(t, got, "example.com/shared")).To(ConsistOf("legacy-operator"))
}

// An apply that lists no finalizers and conflicts is refused, and the terminating object stays, as
// on the API server, even when the applier's finalizer is the last: the merge comes first. The
// plain fake deleted the object without merging.
func TestFake_RefusesAConflictingApplyToATerminatingObjectAndKeepsIt(t *testing.T) {
	g := NewWithT(t)
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).Build()
	cm := configMap()
	g.Expect(c.Create(t.Context(), cm, client.FieldOwner("kubectl"))).To(Succeed())
	g.Expect(c.Apply(t.Context(), client.ApplyConfigurationFromUnstructured(finalizersOnly(cm, "ConfigMap", "example.com/only")), client.FieldOwner("only"))).To(Succeed())
	g.Expect(c.Delete(t.Context(), cm)).To(Succeed())
	config := finalizersOnly(cm, "ConfigMap")
	config.Object["data"] = map[string]any{"mode": "slow"} // kubectl's "fast"

	err := c.Apply(t.Context(), client.ApplyConfigurationFromUnstructured(config), client.FieldOwner("only"))

	g.Expect(apierrors.IsConflict(err)).To(BeTrue(), "err = %v, want a conflict on .data.mode", err)
	g.Expect(err).To(MatchError(ContainSubstring(".data.mode")))
	got := get(t, c, cm, &corev1.ConfigMap{})
	g.Expect(got.Finalizers).To(Equal([]string{"example.com/only"}))
	g.Expect(got.Data).To(Equal(map[string]string{"mode": "fast"}))
}

// A generated apply configuration gets the answer to a held apply written into it, as to any.
func TestFake_WritesTheAnswerToAHeldApplyIntoAGeneratedConfiguration(t *testing.T) {
	g := NewWithT(t)
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).Build()
	cm := terminating(t, c, map[string]string{"example.com/mine": "mine", "example.com/theirs": "theirs"})
	config := corev1ac.ConfigMap(cm.Name, cm.Namespace).WithUID(cm.UID).WithLabels(map[string]string{"app": "demo"})

	g.Expect(c.Apply(t.Context(), config, client.FieldOwner("mine"))).To(Succeed())

	got := get(t, c, cm, &corev1.ConfigMap{})
	g.Expect(got.Finalizers).To(Equal([]string{"example.com/theirs"}))
	g.Expect(got.Labels).To(Equal(map[string]string{"app": "demo"}))
	g.Expect(config.Finalizers).To(Equal(got.Finalizers))
	g.Expect(config.ResourceVersion).To(HaveValue(Equal(got.ResourceVersion)))
	g.Expect(config.DeletionTimestamp).NotTo(BeNil())
	g.Expect(entriesOf(got, "mine")).To(Equal([]entry{{Manager: "mine", Operation: metav1.ManagedFieldsOperationApply,
		Fields: `{"f:metadata":{"f:labels":{"f:app":{}}}}`}}))
}

// The fake copies the stored deletionTimestamp into every apply to a terminating object; the
// applier must not own it for that, and the object stays terminating.
func TestFake_AnApplyToATerminatingObjectOwnsOnlyWhatItSent(t *testing.T) {
	g := NewWithT(t)
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).Build()
	cm := terminating(t, c, map[string]string{"example.com/holds": "holder"})
	deleted := cm.DeletionTimestamp

	g.Expect(c.Apply(t.Context(), client.ApplyConfigurationFromUnstructured(finalizersOnly(cm, "ConfigMap", "example.com/holds")), client.FieldOwner("holder"))).To(Succeed())

	got := get(t, c, cm, &corev1.ConfigMap{})
	g.Expect(entriesOf(got, "holder")).To(Equal([]entry{finalizerEntry("holder", "example.com/holds")}))
	g.Expect(got.DeletionTimestamp).To(Equal(deleted))
}

// recordingHandler is the Handler of a controller whose own cleanup (Options.Finalizer) is done
// at once; it records each cleanup in cleanups.
type recordingHandler struct {
	cleanups *[]string
}

func (recordingHandler) Reconcile(context.Context, *corev1.ConfigMap) (reconcile.Result, error) {
	return reconcile.Result{}, nil
}

func (h recordingHandler) Cleanup(context.Context, *corev1.ConfigMap) (reconcile.Result, error) {
	*h.cleanups = append(*h.cleanups, "example.com/first")
	return reconcile.Result{}, nil
}

// A controller with two finalizers, one of whose cleanups waits on an external resource, is
// unit-tested on the fake kit from creation to deletion: the fake keeps the object while the
// waiting finalizer holds it, and deletes it once that one is released too.
func TestReconcile_TwoFinalizersReleasedOneAfterTheOtherOnTheFakeKit(t *testing.T) {
	g := NewWithT(t)
	cm := configMap()
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).WithObjects(cm).Build()
	var cleanups []string
	externalGone := false // what the second cleanup waits for
	second := ssareconcile.Finalizer[*corev1.ConfigMap]{
		Name: "example.com/second",
		Cleanup: func(context.Context, *corev1.ConfigMap) (reconcile.Result, error) {
			if !externalGone {
				return reconcile.Result{RequeueAfter: time.Minute}, nil
			}
			cleanups = append(cleanups, "example.com/second")
			return reconcile.Result{}, nil
		},
	}
	r, err := ssareconcile.New[*corev1.ConfigMap](ssatest.Cluster{Client: c}, recordingHandler{cleanups: &cleanups},
		ssareconcile.Options{Controller: "demo", Finalizer: "example.com/first"}, second)
	g.Expect(err).NotTo(HaveOccurred())
	req := reconcile.Request{NamespacedName: client.ObjectKeyFromObject(cm)}
	g.Expect(r.Reconcile(t.Context(), req)).To(BeZero())
	live := get(t, c, cm, &corev1.ConfigMap{})
	g.Expect(live.Finalizers).To(ConsistOf("example.com/first", "example.com/second"))
	g.Expect(c.Delete(t.Context(), live)).To(Succeed())

	result, err := r.Reconcile(t.Context(), req)

	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(result).To(Equal(reconcile.Result{RequeueAfter: time.Minute}), "the second cleanup waits")
	if d := cmp.Diff([]string{"example.com/first"}, cleanups); d != "" {
		t.Errorf("cleanups done (-want +got):\n%s", d)
	}
	live = get(t, c, cm, &corev1.ConfigMap{})
	g.Expect(live.DeletionTimestamp).NotTo(BeNil())
	g.Expect(live.Finalizers).To(ConsistOf("example.com/second"), "the first is released, the second holds the object")
	g.Expect(owners(t, live, "example.com/second")).To(ConsistOf(ssa.FinalizerFieldOwner("demo", "example.com/second")))

	externalGone = true
	result, err = r.Reconcile(t.Context(), req)

	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(result).To(BeZero())
	if d := cmp.Diff([]string{"example.com/first", "example.com/second"}, cleanups); d != "" {
		t.Errorf("cleanups done (-want +got):\n%s", d)
	}
	err = c.Get(t.Context(), req.NamespacedName, &corev1.ConfigMap{})
	g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "err = %v, want the object gone once its last finalizer is released", err)
}
