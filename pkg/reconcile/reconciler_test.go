package reconcile

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/ssakit/ssakit/pkg/ssa"
	"github.com/ssakit/ssakit/pkg/ssatest"
)

type noopHandler[T any] struct{}

func (noopHandler[T]) Reconcile(context.Context, T) (reconcile.Result, error) {
	return reconcile.Result{}, nil
}

func (noopHandler[T]) Cleanup(context.Context, T) (reconcile.Result, error) {
	return reconcile.Result{}, nil
}

func testCluster() ssatest.Cluster {
	return ssatest.Cluster{Client: ssatest.NewClientBuilder(clientgoscheme.Scheme).Build()}
}

var bucketKind = schema.GroupVersionKind{Group: "storage.example.com", Version: "v1", Kind: "Bucket"}

func TestNew_RefusesAnUnstructuredTypeWithoutAKind(t *testing.T) {
	_, err := New[*unstructured.Unstructured](testCluster(), noopHandler[*unstructured.Unstructured]{}, Options{Controller: "c", Finalizer: "example.com/f"})

	if err == nil || !strings.Contains(err.Error(), "set Options.GroupVersionKind") {
		t.Errorf("err = %v, want one that says to set Options.GroupVersionKind", err)
	}
}

func TestNew_RefusesAKindThatIsNotTheTypedObjects(t *testing.T) {
	_, err := New[*corev1.ConfigMap](testCluster(), noopHandler[*corev1.ConfigMap]{}, Options{Controller: "c", Finalizer: "example.com/f", GroupVersionKind: bucketKind})

	if err == nil || !strings.Contains(err.Error(), "a *v1.ConfigMap is a /v1, Kind=ConfigMap") {
		t.Errorf("err = %v, want one that names the ConfigMap's kind", err)
	}
}

func TestNew_RefusesAFinalizerGivenTwice(t *testing.T) {
	_, err := New[*corev1.ConfigMap](testCluster(), noopHandler[*corev1.ConfigMap]{}, Options{Controller: "c", Finalizer: "example.com/f"},
		Finalizer[*corev1.ConfigMap]{Name: "example.com/f", Cleanup: noopHandler[*corev1.ConfigMap]{}.Cleanup})

	if err == nil || !strings.Contains(err.Error(), "given twice") {
		t.Errorf("err = %v, want one that says the finalizer is given twice", err)
	}
}

func TestNew_RefusesAFinalizerWithoutCleanup(t *testing.T) {
	_, err := New[*corev1.ConfigMap](testCluster(), noopHandler[*corev1.ConfigMap]{}, Options{Controller: "c", Finalizer: "example.com/f"},
		Finalizer[*corev1.ConfigMap]{Name: "example.com/g"})

	if err == nil || !strings.Contains(err.Error(), "has no Cleanup") {
		t.Errorf("err = %v, want one that says the finalizer has no Cleanup", err)
	}
}

// An apply is declarative for its field manager: two finalizers applied by one manager would
// remove each other from every object.
func TestNew_RefusesTwoFinalizersOnOneFieldManager(t *testing.T) {
	_, err := New[*corev1.ConfigMap](testCluster(), noopHandler[*corev1.ConfigMap]{}, Options{
		Controller: "op", Finalizer: "example.com/first", FinalizerOptions: ssa.FinalizerOptions{FieldOwner: "op/shared"},
	}, Finalizer[*corev1.ConfigMap]{
		Name: "example.com/second", Cleanup: noopHandler[*corev1.ConfigMap]{}.Cleanup, Options: ssa.FinalizerOptions{FieldOwner: "op/shared"},
	})

	if err == nil {
		t.Fatal("two finalizers on one field manager were accepted")
	}
	for _, want := range []string{`"example.com/first"`, `"example.com/second"`, `"op/shared"`, "give each its own FieldOwner or leave it empty"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want a refusal that contains %s", err, want)
		}
	}
}

// FormerNames retires a name: one that another finalizer of the reconciler still uses would be
// removed from every live object the renamed finalizer is added to, whichever is declared first.
func TestNew_RefusesAFinalizerWhoseFormerNamesNameAnotherOfItsFinalizers(t *testing.T) {
	renamed := ssa.FinalizerOptions{FormerNames: []string{"example.com/still-used"}}
	for _, tc := range []struct {
		name     string
		main     string
		mainOpts ssa.FinalizerOptions
		more     string
		moreOpts ssa.FinalizerOptions
	}{
		{"the main finalizer renames from another", "example.com/renamed", renamed, "example.com/still-used", ssa.FinalizerOptions{}},
		{"another finalizer renames from the main one", "example.com/still-used", ssa.FinalizerOptions{}, "example.com/renamed", renamed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New[*corev1.ConfigMap](testCluster(), noopHandler[*corev1.ConfigMap]{}, Options{
				Controller: "op", Finalizer: tc.main, FinalizerOptions: tc.mainOpts,
			}, Finalizer[*corev1.ConfigMap]{Name: tc.more, Cleanup: noopHandler[*corev1.ConfigMap]{}.Cleanup, Options: tc.moreOpts})

			want := `finalizer "example.com/renamed" names finalizer "example.com/still-used" among its FormerNames`
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("err = %v, want one that contains %s", err, want)
			}
		})
	}
}

// Options.FinalizerOptions configure Options.Finalizer alone: another finalizer keeps its own
// default field manager, so that the two do not share one.
func TestNew_GivesFinalizerOptionsToTheMainFinalizerOnly(t *testing.T) {
	r, err := New[*corev1.ConfigMap](testCluster(), noopHandler[*corev1.ConfigMap]{}, Options{
		Controller: "op", Finalizer: "example.com/f", FinalizerOptions: ssa.FinalizerOptions{FieldOwner: "op/main"},
	}, Finalizer[*corev1.ConfigMap]{Name: "example.com/g", Cleanup: noopHandler[*corev1.ConfigMap]{}.Cleanup})
	if err != nil {
		t.Fatal(err)
	}

	var owners []string
	for _, step := range r.Steps() {
		owners = append(owners, step.Finalizer().FieldOwner())
	}
	if d := cmp.Diff([]string{"op/main", ssa.FinalizerFieldOwner("op", "example.com/g")}, owners); d != "" {
		t.Errorf("field managers (-want +got):\n%s", d)
	}
}

func TestReconciler_FinalizersListsTheMainOneFirst(t *testing.T) {
	r, err := New[*corev1.ConfigMap](testCluster(), noopHandler[*corev1.ConfigMap]{}, Options{Controller: "c", Finalizer: "example.com/f"},
		Finalizer[*corev1.ConfigMap]{Name: "example.com/g", Cleanup: noopHandler[*corev1.ConfigMap]{}.Cleanup})
	if err != nil {
		t.Fatal(err)
	}

	if d := cmp.Diff([]string{"example.com/f", "example.com/g"}, r.Finalizers()); d != "" {
		t.Errorf("Finalizers() (-want +got):\n%s", d)
	}
}

func TestEarliest_LooksAgainAtTheEarlierTimeAskedFor(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b reconcile.Result
		want reconcile.Result
	}{
		{"none waits", reconcile.Result{}, reconcile.Result{}, reconcile.Result{}},
		{"the second waits", reconcile.Result{}, reconcile.Result{RequeueAfter: time.Minute}, reconcile.Result{RequeueAfter: time.Minute}},
		{"the first waits", reconcile.Result{RequeueAfter: time.Minute}, reconcile.Result{}, reconcile.Result{RequeueAfter: time.Minute}},
		{"both wait", reconcile.Result{RequeueAfter: time.Minute}, reconcile.Result{RequeueAfter: time.Second}, reconcile.Result{RequeueAfter: time.Second}},
		{"both wait, the first less", reconcile.Result{RequeueAfter: time.Second}, reconcile.Result{RequeueAfter: time.Minute}, reconcile.Result{RequeueAfter: time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if d := cmp.Diff(tc.want, earliest(tc.a, tc.b)); d != "" {
				t.Errorf("earliest (-want +got):\n%s", d)
			}
		})
	}
}

// One finalizer's name refused by the server (terminal) must not stop the retries of another's
// failed cleanup.
func TestJoinStepErrors_IsTerminalOnlyWhenEveryErrorIs(t *testing.T) {
	refused := reconcile.TerminalError(errors.New("finalizer name refused"))
	failed := errors.New("cleanup failed")

	for _, tc := range []struct {
		name         string
		errs         []error
		retry        bool
		wantTerminal bool
	}{
		{"a terminal and a retried error", []error{refused, nil, failed}, false, false},
		{"only terminal errors", []error{refused, nil}, false, true},
		{"a terminal error and a waiting step", []error{refused, nil}, true, false},
		{"only retried errors", []error{failed}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := joinStepErrors(tc.errs, tc.retry)

			if got := errors.Is(err, reconcile.TerminalError(nil)); got != tc.wantTerminal {
				t.Errorf("terminal = %v, want %v (%v)", got, tc.wantTerminal, err)
			}
			for _, e := range tc.errs {
				if e != nil && !strings.Contains(err.Error(), strings.TrimPrefix(e.Error(), "terminal error: ")) {
					t.Errorf("%q lost from %q", e, err)
				}
			}
		})
	}
}

func TestJoinStepErrors_IsNilWithoutErrors(t *testing.T) {
	if err := joinStepErrors([]error{nil, nil}, true); err != nil {
		t.Errorf("err = %v, want nil", err)
	}
}

// controller-runtime requeues Result{Requeue: true} with backoff and a Result with only a Priority
// never: neither is a wait, and the cleanup's author hears so.
func TestStep_ACleanupResultWithoutRequeueAfterIsAFailure(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		result reconcile.Result
	}{
		{"requeue", reconcile.Result{Requeue: true}}, //nolint:staticcheck // the deprecated field is what is tested
		{"negative requeueAfter", reconcile.Result{RequeueAfter: -time.Second}},
		{"priority alone", reconcile.Result{Priority: new(1)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "settings"}}
			c := ssatest.NewClientBuilder(clientgoscheme.Scheme).WithObjects(cm).Build()
			step, err := NewStep(c, "example", "example.com/cleanup", StepOptions{FinalizerOptions: ssa.FinalizerOptions{APIReader: c}})
			if err != nil {
				t.Fatal(err)
			}
			if outcome, _, err := step.Handle(ctx, cm, nil); outcome != Proceed || err != nil {
				t.Fatalf("adding the finalizer: %v, %v", outcome, err)
			}
			if err := c.Delete(ctx, cm); err != nil {
				t.Fatal(err)
			}
			if err := c.Get(ctx, client.ObjectKeyFromObject(cm), cm); err != nil {
				t.Fatal(err)
			}

			outcome, result, err := step.Handle(ctx, cm, func(context.Context) (reconcile.Result, error) { return tc.result, nil })

			if outcome != Failed || !result.IsZero() || err == nil || !strings.Contains(err.Error(), "positive RequeueAfter") {
				t.Errorf("Handle = %v, %+v, %v; want Failed, a zero Result and an error that says to use RequeueAfter", outcome, result, err)
			}
		})
	}
}

// Two finalizers that share a former name: on an object that carries only that name, the first
// to release it would leave the other's cleanup unrun.
func TestNew_RefusesTwoFinalizersThatShareAFormerName(t *testing.T) {
	shared := ssa.FinalizerOptions{FormerNames: []string{"example.com/old"}}

	_, err := New[*corev1.ConfigMap](testCluster(), noopHandler[*corev1.ConfigMap]{}, Options{
		Controller: "op", Finalizer: "example.com/a", FinalizerOptions: shared,
	}, Finalizer[*corev1.ConfigMap]{Name: "example.com/b", Cleanup: noopHandler[*corev1.ConfigMap]{}.Cleanup, Options: shared})

	want := `finalizers "example.com/a" and "example.com/b" both name "example.com/old" among their FormerNames`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v, want one that contains %s", err, want)
	}
}

// countingReader counts the reads of the reader it wraps.
type countingReader struct {
	client.Reader
	gets *int
}

func (r countingReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	*r.gets++
	return r.Reader.Get(ctx, key, obj, opts...)
}

// An APIReader given in Options.FinalizerOptions is the one the step reads the live object with
// before a cleanup; the manager's is only the default.
func TestNew_KeepsTheAPIReaderGivenInFinalizerOptions(t *testing.T) {
	cluster := testCluster()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "settings"}}
	if err := cluster.Client.Create(t.Context(), cm); err != nil {
		t.Fatal(err)
	}
	gets := 0
	r, err := New[*corev1.ConfigMap](cluster, noopHandler[*corev1.ConfigMap]{}, Options{
		Controller: "op", Finalizer: "example.com/f", FinalizerOptions: ssa.FinalizerOptions{APIReader: countingReader{Reader: cluster.Client, gets: &gets}},
	})
	if err != nil {
		t.Fatal(err)
	}
	req := reconcile.Request{NamespacedName: client.ObjectKeyFromObject(cm)}
	if _, err := r.Reconcile(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	if err := cluster.Client.Delete(t.Context(), cm); err != nil {
		t.Fatal(err)
	}

	if _, err := r.Reconcile(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	if gets != 1 {
		t.Errorf("the reader given was read %d times before the cleanup, want 1", gets)
	}
}
