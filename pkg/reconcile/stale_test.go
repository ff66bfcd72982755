package reconcile

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/ssakit/ssakit/pkg/ssa"
	"github.com/ssakit/ssakit/pkg/ssatest"
)

// scriptedService is a Handler for Services whose Reconcile does, call after call, what its
// script says: "stale" applies the status to a copy someone else wrote since it was read, so the
// fake's tracker refuses it (409, ssa.ErrStale); "ok" applies it to the copy given; "fail"
// returns errFailed.
type scriptedService struct {
	noopHandler[*corev1.Service]
	client client.Client
	status *StatusApplier
	script []string
	calls  int
}

var errFailed = errors.New("the load balancer API answered 503")

func (h *scriptedService) Reconcile(ctx context.Context, svc *corev1.Service) (reconcile.Result, error) {
	next := h.script[h.calls]
	h.calls++
	switch next {
	case "stale":
		written := svc.DeepCopy()
		written.Labels = map[string]string{"written": fmt.Sprint(h.calls)}
		if err := h.client.Patch(ctx, written, client.MergeFrom(svc), client.FieldOwner("someone")); err != nil {
			return reconcile.Result{}, err
		}
	case "fail":
		return reconcile.Result{}, errFailed
	}
	return reconcile.Result{}, h.status.Apply(ctx, svc, corev1ac.ServiceStatus().WithConditions(
		Condition(nil, metav1.Condition{Type: "Ready", Status: metav1.ConditionTrue, Reason: "Call" + fmt.Sprint(h.calls)})))
}

// staleCall is what one reconcile returned.
type staleCall struct {
	RequeueAfter time.Duration
	Err          string // "" for none; "stale" for one that wraps ssa.ErrStale; "the handler's own" for errFailed as it is; the text of another
}

// runScript reconciles a Service with New's Reconciler over the fake kit once per step of script
// and returns what each reconcile returned, and the log lines, at V(1) and up, that they wrote.
func runScript(t *testing.T, script ...string) (calls []staleCall, logged []string, r *Reconciler[*corev1.Service]) {
	t.Helper()
	const finalizer = "lb.example.com/release"
	// The finalizer is on the Service already, owned by the step's manager alone, so that the step
	// sends nothing: on a Service, the fake's apply would own the empty spec the Go type writes.
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "web", Generation: 1, Finalizers: []string{finalizer},
		ManagedFields: []metav1.ManagedFieldsEntry{{
			Manager: ssa.FinalizerFieldOwner("lb-provisioner", finalizer), Operation: metav1.ManagedFieldsOperationApply, APIVersion: "v1", FieldsType: "FieldsV1",
			FieldsV1: metav1.NewFieldsV1(`{"f:metadata":{"f:finalizers":{"v:\"` + finalizer + `\"":{}}}}`),
		}},
	}}
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).WithObjects(svc).WithStatusSubresource(svc).Build()
	h := &scriptedService{client: c, status: NewStatusApplier(c, "lb-provisioner", StatusApplierOptions{}), script: script}
	r, err := New[*corev1.Service](ssatest.Cluster{Client: c}, h, Options{Controller: "lb-provisioner", Finalizer: finalizer})
	if err != nil {
		t.Fatal(err)
	}
	logger := funcr.New(func(_, args string) { logged = append(logged, args) }, funcr.Options{Verbosity: 1})
	ctx := log.IntoContext(context.Background(), logger)
	for range script {
		result, err := r.Reconcile(ctx, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(svc)})
		call := staleCall{RequeueAfter: result.RequeueAfter}
		switch {
		case errors.Is(err, ssa.ErrStale):
			call.Err = "stale"
		case err == errFailed: //nolint:errorlint // the very error the handler returned, not one that wraps it
			call.Err = "the handler's own"
		case err != nil:
			call.Err = err.Error()
		}
		calls = append(calls, call)
	}
	return calls, logged, r
}

// A stale copy met by the handler is retried soon, without an error, while it is a cache that
// lags: a few times in a row, backing off. The sixth in a row is an error for controller-runtime
// to log and back off; a success starts the count again; any other error is the handler's own.
func TestReconciler_RetriesAStaleCopyQuietlyAFewTimesInARow(t *testing.T) {
	quiet := func(d time.Duration) staleCall { return staleCall{RequeueAfter: d} }
	ms := time.Millisecond
	for _, tc := range []struct {
		name   string
		script []string
		want   []staleCall
	}{
		{"one stale copy", []string{"stale", "ok"}, []staleCall{quiet(100 * ms), {}}},
		{"six in a row", []string{"stale", "stale", "stale", "stale", "stale", "stale", "stale", "ok", "stale"},
			[]staleCall{quiet(100 * ms), quiet(200 * ms), quiet(400 * ms), quiet(800 * ms), quiet(time.Second), {Err: "stale"}, {Err: "stale"}, {}, quiet(100 * ms)}},
		{"a success in between", []string{"stale", "stale", "stale", "stale", "stale", "ok", "stale"},
			[]staleCall{quiet(100 * ms), quiet(200 * ms), quiet(400 * ms), quiet(800 * ms), quiet(time.Second), {}, quiet(100 * ms)}},
		{"another error in between", []string{"stale", "stale", "fail", "stale"},
			[]staleCall{quiet(100 * ms), quiet(200 * ms), {Err: "the handler's own"}, quiet(400 * ms)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _, _ := runScript(t, tc.script...)

			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("what each reconcile returned (-want +got):\n%s", d)
			}
		})
	}
}

// Each quiet retry is one log line at V(1), never an error line.
func TestReconciler_LogsAQuietRetryAtV1(t *testing.T) {
	_, logged, _ := runScript(t, "stale")

	if len(logged) != 1 || !strings.Contains(logged[0], `"level"=1`) || !strings.Contains(logged[0], "reconciling it again") ||
		!strings.Contains(logged[0], `"requeueAfter"="100ms"`) || strings.Contains(logged[0], `"error"`) {
		t.Errorf("log lines = %q, want one at V(1) that says the object is reconciled again after 100ms", logged)
	}
}

// The error past the bound is the one the handler met, and says why a stale copy is now an error.
func TestStaleRetry_TheSixthStaleCopyInARowIsTheHandlersError(t *testing.T) {
	req := reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "demo", Name: "web"}}
	refused := &ssa.ObjectError{Object: ssa.ObjectRef{Name: "web"}, Reason: ssa.ErrStale}
	var stale StaleRetry
	var err error
	for range maxStaleRetries + 1 {
		_, err = stale.Handle(context.Background(), req, reconcile.Result{}, refused)
	}

	if !errors.Is(err, refused) || !strings.Contains(err.Error(), "stale 6 times in a row") {
		t.Errorf("err = %v, want the handler's, saying it was stale 6 times in a row", err)
	}
}

// A handler's error that is not a stale copy, its Result with it, is returned as it is.
func TestStaleRetry_ReturnsAnyOtherErrorAsItIs(t *testing.T) {
	req := reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "demo", Name: "web"}}
	terminal := reconcile.TerminalError(fmt.Errorf("status: %w", ssa.ErrStale))
	joined := errors.Join(errFailed, fmt.Errorf("status: %w", ssa.ErrStale))
	for _, err := range []error{errFailed, terminal, joined} {
		var stale StaleRetry
		result, got := stale.Handle(context.Background(), req, reconcile.Result{RequeueAfter: time.Minute}, err)

		if got != err || result.RequeueAfter != time.Minute { //nolint:errorlint // the very error given, not one that wraps it
			t.Errorf("Handle(%v) = %+v, %v; want the Result and the error given", err, result, got)
		}
	}
}

// An object that disappears is forgotten: at once when the Reconciler finds it gone or releases
// it, otherwise an hour after its last stale copy.
func TestStaleRetry_ForgetsObjectsThatDisappear(t *testing.T) {
	ctx := context.Background()
	key := types.NamespacedName{Namespace: "demo", Name: "web"}
	t.Run("released", func(t *testing.T) {
		_, _, r := runScript(t, "stale")
		if err := r.client.Delete(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}); err != nil {
			t.Fatal(err)
		}
		if outcome, err := r.Reconcile(ctx, reconcile.Request{NamespacedName: key}); err != nil {
			t.Fatal(outcome, err)
		}

		if d := cmp.Diff([]types.NamespacedName(nil), keysOf(&r.stale)); d != "" {
			t.Errorf("objects remembered (-want +got):\n%s", d)
		}
	})
	t.Run("found gone", func(t *testing.T) {
		_, _, r := runScript(t, "stale")
		svc := &corev1.Service{}
		if err := r.client.Get(ctx, key, svc); err != nil {
			t.Fatal(err)
		}
		// Someone strips the finalizer, then deletes the Service.
		stripped := svc.DeepCopy()
		stripped.Finalizers = nil
		if err := r.client.Patch(ctx, stripped, client.MergeFrom(svc)); err != nil {
			t.Fatal(err)
		}
		if err := r.client.Delete(ctx, stripped); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Reconcile(ctx, reconcile.Request{NamespacedName: key}); err != nil {
			t.Fatal(err)
		}

		if d := cmp.Diff([]types.NamespacedName(nil), keysOf(&r.stale)); d != "" {
			t.Errorf("objects remembered (-want +got):\n%s", d)
		}
	})
	t.Run("not seen for an hour", func(t *testing.T) {
		now := time.Now()
		stale := StaleRetry{now: func() time.Time { return now }}
		refused := fmt.Errorf("status: %w", ssa.ErrStale)
		for _, name := range []string{"a", "b"} {
			if _, err := stale.Handle(context.Background(), reconcile.Request{NamespacedName: types.NamespacedName{Name: name}}, reconcile.Result{}, refused); err != nil {
				t.Fatal(err)
			}
			now = now.Add(staleForgetAfter + time.Second)
		}

		if d := cmp.Diff([]types.NamespacedName{{Name: "b"}}, keysOf(&stale)); d != "" {
			t.Errorf("objects remembered (-want +got):\n%s", d)
		}
	})
}

// The expired are swept out at most once a minute, but an object not seen stale for an hour starts
// its count over even before its run is swept out.
func TestStaleRetry_AnObjectNotSeenStaleForAnHourStartsOver(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	stale := StaleRetry{now: func() time.Time { return now }}
	refused := fmt.Errorf("status: %w", ssa.ErrStale)
	x := reconcile.Request{NamespacedName: types.NamespacedName{Name: "x"}}
	for range maxStaleRetries {
		if _, err := stale.Handle(ctx, x, reconcile.Result{}, refused); err != nil {
			t.Fatal(err)
		}
	}
	now = now.Add(staleForgetAfter - 30*time.Second) // a sweep, while x is remembered
	if _, err := stale.Handle(ctx, reconcile.Request{NamespacedName: types.NamespacedName{Name: "y"}}, reconcile.Result{}, refused); err != nil {
		t.Fatal(err)
	}
	now = now.Add(31 * time.Second) // x expired, and no sweep since

	result, err := stale.Handle(ctx, x, reconcile.Result{}, refused)

	if err != nil || result.RequeueAfter != staleRetryFirst {
		t.Errorf("Handle = %+v, %v; want the first quiet retry, after %s", result, err, staleRetryFirst)
	}
}

func TestOnlyStale(t *testing.T) {
	stale := &ssa.ObjectError{Object: ssa.ObjectRef{Name: "web"}, Reason: ssa.ErrStale, Err: errors.New("409: the object has been modified")}
	gone := &ssa.ObjectError{Object: ssa.ObjectRef{Name: "web"}, Reason: ssa.ErrGone}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"ErrStale", ssa.ErrStale, true},
		{"an ObjectError with the server's answer", stale, true},
		{"wrapped", fmt.Errorf("status of Service demo/web: %w", stale), true},
		{"two stale copies joined", errors.Join(stale, fmt.Errorf("child: %w", ssa.ErrStale)), true},
		{"nil", nil, false},
		{"another error", errFailed, false},
		{"another ObjectError", gone, false},
		{"joined with a failure", errors.Join(stale, errFailed), false},
		{"with a failure in one fmt.Errorf", fmt.Errorf("%w; %w", stale, errFailed), false},
		{"a join wrapped", fmt.Errorf("cleanup: %w", errors.Join(errFailed, stale)), false},
		{"a stale copy's text only", errors.New(stale.Error()), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := onlyStale(tc.err); got != tc.want {
				t.Errorf("onlyStale(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

func keysOf(s *StaleRetry) []types.NamespacedName {
	s.mu.Lock()
	defer s.mu.Unlock()
	var keys []types.NamespacedName
	for k := range s.objects {
		keys = append(keys, k)
	}
	return keys
}

// A stale copy of one object, then a success, while many other objects are remembered, as in a
// burst of stale copies when a controller starts on a cluster full of them: the cost of one must
// not grow with the number of the others.
func BenchmarkStaleRetry_ManyObjects(b *testing.B) {
	ctx := log.IntoContext(context.Background(), logr.Discard())
	refused := fmt.Errorf("status: %w", ssa.ErrStale)
	for _, remembered := range []int{100, 10_000, 40_000} {
		b.Run(fmt.Sprintf("remembered=%d", remembered), func(b *testing.B) {
			var stale StaleRetry
			for i := range remembered {
				req := reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "demo", Name: strconv.Itoa(i)}}
				if _, err := stale.Handle(ctx, req, reconcile.Result{}, refused); err != nil {
					b.Fatal(err)
				}
			}
			req := reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "demo", Name: "web"}}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := stale.Handle(ctx, req, reconcile.Result{}, refused); err != nil {
					b.Fatal(err)
				}
				if _, err := stale.Handle(ctx, req, reconcile.Result{}, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// cleanupScript is a Handler for Services whose cleanups do, call after call, what their scripts
// say: "stale" applies a status to a copy someone else wrote since it was read (a waiting cleanup
// that reports its progress, on a copy from a lagging cache), so the fake refuses it (ssa.ErrStale);
// "stale+fail" returns that refusal joined with errFailed; "fail" returns errFailed; "wait" returns
// a Result with a RequeueAfter of a minute (not done yet); "ok" is done.
// The main finalizer's cleanup follows main, another finalizer's, if any, other.
type cleanupScript struct {
	noopHandler[*corev1.Service]
	client client.Client
	status *StatusApplier
}

func (h *cleanupScript) cleanup(script []string) func(context.Context, *corev1.Service) (reconcile.Result, error) {
	calls := 0
	return func(ctx context.Context, svc *corev1.Service) (reconcile.Result, error) {
		next := script[calls]
		calls++
		switch next {
		case "fail":
			return reconcile.Result{}, errFailed
		case "wait":
			return reconcile.Result{RequeueAfter: time.Minute}, nil
		case "ok":
			return reconcile.Result{}, nil
		}
		written := svc.DeepCopy()
		written.Labels = map[string]string{"written": fmt.Sprint(calls)}
		if err := h.client.Patch(ctx, written, client.MergeFrom(svc), client.FieldOwner("someone")); err != nil {
			return reconcile.Result{}, err
		}
		err := h.status.Apply(ctx, svc, corev1ac.ServiceStatus().WithConditions(
			Condition(nil, metav1.Condition{Type: "Released", Status: metav1.ConditionFalse, Reason: "Call" + fmt.Sprint(calls)})))
		if next == "stale+fail" {
			err = errors.Join(errFailed, err)
		}
		return reconcile.Result{}, err
	}
}

// runCleanupScript deletes a Service that carries the finalizers of New's Reconciler, reconciles
// it once per step of main, and returns what each reconcile returned, with each error as it is,
// and the events emitted. With other, a second finalizer's cleanup follows it.
func runCleanupScript(t *testing.T, main []string, other ...string) (calls []staleCall, errs []error, emitted []string) {
	t.Helper()
	return runCleanupScriptThrough(t, interceptor.Funcs{}, main, other...)
}

// runCleanupScriptThrough is runCleanupScript with the client's calls passed through funcs.
func runCleanupScriptThrough(t *testing.T, funcs interceptor.Funcs, main []string, other ...string) (calls []staleCall, errs []error, emitted []string) {
	t.Helper()
	ctx := context.Background()
	finalizers := []string{"lb.example.com/release"}
	if other != nil {
		finalizers = append(finalizers, "dns.example.com/record")
	}
	// The finalizers are on the Service already, each owned by its step's manager alone.
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "web", Generation: 1, Finalizers: finalizers}}
	for _, f := range finalizers {
		svc.ManagedFields = append(svc.ManagedFields, metav1.ManagedFieldsEntry{
			Manager: ssa.FinalizerFieldOwner("lb-provisioner", f), Operation: metav1.ManagedFieldsOperationApply, APIVersion: "v1", FieldsType: "FieldsV1",
			FieldsV1: metav1.NewFieldsV1(`{"f:metadata":{"f:finalizers":{"v:\"` + f + `\"":{}}}}`),
		})
	}
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).WithObjects(svc).WithStatusSubresource(svc).WithInterceptorFuncs(funcs).Build()
	h := &cleanupScript{client: c, status: NewStatusApplier(c, "lb-provisioner", StatusApplierOptions{})}
	var more []Finalizer[*corev1.Service]
	if other != nil {
		more = append(more, Finalizer[*corev1.Service]{Name: finalizers[1], Cleanup: h.cleanup(other)})
	}
	recorder := events.NewFakeRecorder(100)
	r, err := New[*corev1.Service](ssatest.Cluster{Client: c}, &scriptedCleanupHandler{h, h.cleanup(main)},
		Options{Controller: "lb-provisioner", Finalizer: finalizers[0], Recorder: recorder}, more...)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, svc); err != nil {
		t.Fatal(err)
	}
	for range main {
		result, err := r.Reconcile(ctx, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(svc)})
		call := staleCall{RequeueAfter: result.RequeueAfter}
		if errors.Is(err, ssa.ErrStale) {
			call.Err = "stale"
		} else if err != nil {
			call.Err = "another"
		}
		calls = append(calls, call)
		errs = append(errs, err)
	}
	close(recorder.Events)
	for event := range recorder.Events {
		emitted = append(emitted, strings.Fields(event)[1]) // "Warning CleanupFailed ...": the reason
	}
	return calls, errs, emitted
}

// scriptedCleanupHandler is a cleanupScript whose Cleanup is one script's.
type scriptedCleanupHandler struct {
	*cleanupScript
	run func(context.Context, *corev1.Service) (reconcile.Result, error)
}

func (h *scriptedCleanupHandler) Cleanup(ctx context.Context, svc *corev1.Service) (reconcile.Result, error) {
	return h.run(ctx, svc)
}

// A stale copy met by a cleanup (its status write refused) is retried soon, quietly, as one met by
// Handler.Reconcile: no error, no CleanupFailed event, a few times in a row. The sixth in a row is
// the cleanup's failure.
func TestReconciler_RetriesAStaleCopyInACleanupQuietlyAFewTimesInARow(t *testing.T) {
	quiet := func(d time.Duration) staleCall { return staleCall{RequeueAfter: d} }
	ms := time.Millisecond
	for _, tc := range []struct {
		name       string
		script     []string
		want       []staleCall
		wantEvents []string
	}{
		{"one stale copy", []string{"stale", "ok"}, []staleCall{quiet(100 * ms), {}}, nil},
		{"six in a row", []string{"stale", "stale", "stale", "stale", "stale", "stale"},
			[]staleCall{quiet(100 * ms), quiet(200 * ms), quiet(400 * ms), quiet(800 * ms), quiet(time.Second), {Err: "stale"}}, []string{ReasonCleanupFailed}},
		{"another error in between", []string{"stale", "fail", "stale", "ok"},
			[]staleCall{quiet(100 * ms), {Err: "another"}, quiet(200 * ms), {}}, []string{ReasonCleanupFailed, ReasonCleanupSucceeded}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _, emitted := runCleanupScript(t, tc.script)

			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("what each reconcile returned (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.wantEvents, emitted); d != "" {
				t.Errorf("events (-want +got):\n%s", d)
			}
		})
	}
}

// CleanupSucceeded ends what an event said was not done, once; a cleanup done at its first attempt
// brings no event, which would cost the API server a write per deletion.
func TestReconciler_AnnouncesACleanupDoneOnlyAfterAnnouncingItWasNot(t *testing.T) {
	for _, tc := range []struct {
		name   string
		script []string
		want   []string
	}{
		{"done at once", []string{"ok"}, nil},
		{"done after a quiet stale copy", []string{"stale", "ok"}, nil},
		{"waited twice", []string{"wait", "wait", "ok"}, []string{ReasonCleanupWaiting, ReasonCleanupSucceeded}},
		{"failed", []string{"fail", "ok"}, []string{ReasonCleanupFailed, ReasonCleanupSucceeded}},
		{"failed, then waited", []string{"fail", "wait", "ok"}, []string{ReasonCleanupFailed, ReasonCleanupWaiting, ReasonCleanupSucceeded}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, emitted := runCleanupScript(t, tc.script)

			if d := cmp.Diff(tc.want, emitted); d != "" {
				t.Errorf("events (-want +got):\n%s", d)
			}
		})
	}
}

// A removal the server wrote but whose answer was lost is a failure; the next reconcile finds the
// finalizer gone, and announces the end of the cleanup it had said failed. Another finalizer,
// whose cleanup waits, keeps the object.
func TestReconciler_AnnouncesACleanupDoneWhoseRemovalLostItsAnswer(t *testing.T) {
	lost := false
	loseTheRemoval := interceptor.Funcs{Apply: func(ctx context.Context, c client.WithWatch, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
		applied := &client.ApplyOptions{}
		applied.ApplyOptions(opts)
		err := c.Apply(ctx, obj, opts...)
		if err == nil && !lost && applied.FieldManager == ssa.FinalizerFieldOwner("lb-provisioner", "lb.example.com/release") {
			lost = true
			return errors.New("http2: client connection lost")
		}
		return err
	}}

	calls, _, emitted := runCleanupScriptThrough(t, loseTheRemoval, []string{"fail", "ok", "ok"}, "wait", "wait", "wait")

	if !lost {
		t.Fatalf("no removal was lost: %+v", calls)
	}
	if d := cmp.Diff([]string{ReasonCleanupFailed, ReasonCleanupWaiting, ReasonCleanupSucceeded}, emitted); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
}

// A real failure is never retried quietly, though a stale copy comes with it: in the same
// cleanup's error, or in another finalizer's.
func TestReconciler_NeverHidesACleanupFailureThatComesWithAStaleCopy(t *testing.T) {
	t.Run("joined in one cleanup's error", func(t *testing.T) {
		_, errs, emitted := runCleanupScript(t, []string{"stale+fail"})

		if !errors.Is(errs[0], errFailed) {
			t.Errorf("err = %v, want the cleanup's failure", errs[0])
		}
		if d := cmp.Diff([]string{ReasonCleanupFailed}, emitted); d != "" {
			t.Errorf("events (-want +got):\n%s", d)
		}
	})
	t.Run("in another finalizer's cleanup", func(t *testing.T) {
		_, errs, emitted := runCleanupScript(t, []string{"stale"}, "fail")

		if !errors.Is(errs[0], errFailed) {
			t.Errorf("err = %v, want the other cleanup's failure", errs[0])
		}
		if d := cmp.Diff([]string{ReasonCleanupFailed}, emitted); d != "" {
			t.Errorf("events (-want +got):\n%s", d)
		}
	})
}

// The quiet retries' delays are spread at random over [d, 1.5d), so that the retries of an object
// another writer changes on a period (every 100ms, the first delay) do not all meet its writes.
func TestStaleRetry_SpreadsEachDelayUpToHalfAsLongAgain(t *testing.T) {
	staleJitter = realStaleJitter
	defer func() { staleJitter = withoutJitter }()
	refused := fmt.Errorf("status: %w", ssa.ErrStale)
	const draws = 200
	seen := map[time.Duration]bool{}
	for i := range draws {
		var stale StaleRetry
		result, err := stale.Handle(context.Background(), reconcile.Request{NamespacedName: types.NamespacedName{Name: fmt.Sprint(i)}}, reconcile.Result{}, refused)
		if err != nil {
			t.Fatal(err)
		}
		if d := result.RequeueAfter; d < staleRetryFirst || d >= staleRetryFirst*3/2 {
			t.Fatalf("the first quiet retry after %s, want within [%s, %s)", d, staleRetryFirst, staleRetryFirst*3/2)
		}
		seen[result.RequeueAfter] = true
	}
	if len(seen) < draws/2 {
		t.Errorf("%d first retries had %d distinct delays; want them spread at random", draws, len(seen))
	}
}
