package reconcile

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

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
		wantTerminal bool
	}{
		{"a terminal and a retried error", []error{refused, nil, failed}, false},
		{"only terminal errors", []error{refused, nil}, true},
		{"only retried errors", []error{failed}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := joinStepErrors(tc.errs)

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
	if err := joinStepErrors([]error{nil, nil}); err != nil {
		t.Errorf("err = %v, want nil", err)
	}
}
