package reconcile

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/ssakit/ssakit/pkg/ssa"
	"github.com/ssakit/ssakit/pkg/ssatest"
)

// The step announces a takeover itself (its event and metric); a user's OnTakeOver, for a log or
// a metric of its own, is called as well, not instead.
func TestNewStep_CallsBothItsOwnAndTheUsersOnTakeOver(t *testing.T) {
	ctx := context.Background()
	const finalizer = "example.com/cleanup"
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).Build()
	// The finalizer as a controller that wrote it with Update left it: its legacy writer owns it.
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "settings", Finalizers: []string{finalizer}}}
	if err := c.Create(ctx, cm, client.FieldOwner("legacy-controller")); err != nil {
		t.Fatal(err)
	}
	var took []ssa.TakeOver
	recorder := events.NewFakeRecorder(10)
	step, err := NewStep(c, "example", finalizer, StepOptions{
		FinalizerOptions: ssa.FinalizerOptions{
			APIReader:      c,
			TakeOverLegacy: true,
			OnTakeOver:     func(_ context.Context, _ client.Object, t ssa.TakeOver) { took = append(took, t) },
		},
		Recorder: recorder,
	})
	if err != nil {
		t.Fatal(err)
	}

	outcome, _, err := step.Handle(ctx, cm, func(context.Context) (reconcile.Result, error) { return reconcile.Result{}, nil })

	if outcome != Proceed || err != nil {
		t.Fatalf("Handle = %v, %v; want Proceed", outcome, err)
	}
	if len(took) != 1 {
		t.Fatalf("the user's OnTakeOver was called %d times, want once", len(took))
	}
	if d := cmp.Diff([]string{finalizer}, took[0].Finalizers); d != "" {
		t.Errorf("finalizers taken over (-want +got):\n%s", d)
	}
	select {
	case event := <-recorder.Events:
		if !strings.Contains(event, ReasonFinalizerTakenOver) {
			t.Errorf("event = %q, want %s", event, ReasonFinalizerTakenOver)
		}
	default:
		t.Errorf("no %s event: the step's own OnTakeOver was not called", ReasonFinalizerTakenOver)
	}
}

func TestNewStep_RequiresAnAPIReader(t *testing.T) {
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).Build()

	_, err := NewStep(c, "example", "example.com/cleanup", StepOptions{})

	if err == nil || !strings.Contains(err.Error(), "StepOptions.FinalizerOptions.APIReader is required; pass mgr.GetAPIReader()") {
		t.Errorf("err = %v, want one that says to pass mgr.GetAPIReader()", err)
	}
}

// The result label of an add or a removal says whether a request was sent: the steady state,
// where the finalizer is already owned, costs none and counts as noop.
func TestStep_CountsAnOperationThatSentAsAppliedAndOneThatDidNotAsNoop(t *testing.T) {
	ctx := context.Background()
	const controller = "counts-operations"
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "settings"}}
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).WithObjects(cm).Build()
	step, err := NewStep(c, controller, "example.com/cleanup", StepOptions{FinalizerOptions: ssa.FinalizerOptions{APIReader: c}})
	if err != nil {
		t.Fatal(err)
	}
	count := func(operation, result string) float64 {
		return counterValue(t, finalizerOperations.WithLabelValues(controller, operation, result))
	}
	requests := func() float64 { return counterValue(t, applyRequests.WithLabelValues(controller, "finalizer")) }
	cleanup := func(context.Context) (reconcile.Result, error) { return reconcile.Result{}, nil }

	for range 2 { // added, then already owned
		if outcome, _, err := step.Handle(ctx, cm, cleanup); outcome != Proceed || err != nil {
			t.Fatalf("Handle = %v, %v; want Proceed", outcome, err)
		}
	}
	if err := c.Delete(ctx, cm); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(ctx, client.ObjectKeyFromObject(cm), cm); err != nil {
		t.Fatal(err)
	}
	if outcome, _, err := step.Handle(ctx, cm, cleanup); outcome != Released || err != nil {
		t.Fatalf("Handle = %v, %v; want Released", outcome, err)
	}

	got := map[string]float64{
		"add applied": count("add", resultApplied), "add noop": count("add", resultNoop),
		"remove applied": count("remove", resultApplied), "remove noop": count("remove", resultNoop),
		"apply requests": requests(),
	}
	want := map[string]float64{"add applied": 1, "add noop": 1, "remove applied": 1, "remove noop": 0, "apply requests": 2}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("counts (-want +got):\n%s", d)
	}
}

// counterValue reads a counter.
func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// A failing cleanup is logged once per attempt, by controller-runtime, from the error the step
// returns: the step adds its Warning event, not an error line of its own. Its lines name the
// finalizer; the object is named by controller-runtime's logger already.
func TestStep_AFailingCleanupIsAnEventAndTheErrorNotALogLine(t *testing.T) {
	ctx := context.Background()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "settings"}}
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).WithObjects(cm).Build()
	recorder := events.NewFakeRecorder(10)
	step, err := NewStep(c, "example", "example.com/cleanup", StepOptions{FinalizerOptions: ssa.FinalizerOptions{APIReader: c}, Recorder: recorder})
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
	var logged []string
	ctx = log.IntoContext(ctx, funcr.New(func(_, args string) { logged = append(logged, args) }, funcr.Options{Verbosity: 1}))

	outcome, _, err := step.Handle(ctx, cm, func(context.Context) (reconcile.Result, error) {
		return reconcile.Result{}, errors.New("the bucket is not empty")
	})

	if outcome != Failed || err == nil || !strings.Contains(err.Error(), "the bucket is not empty") {
		t.Fatalf("Handle = %v, %v; want Failed with the cleanup's error", outcome, err)
	}
	if len(logged) != 0 {
		t.Errorf("log lines = %q, want none: the caller returns the error, and controller-runtime logs it", logged)
	}
	if event := <-recorder.Events; !strings.Contains(event, "Warning "+ReasonCleanupFailed) {
		t.Errorf("event = %q, want a Warning %s", event, ReasonCleanupFailed)
	}
}

// The step's log lines carry the finalizer, and not the object: controller-runtime's reconcile
// logger names it already, under its kind.
func TestStep_LogsTheFinalizerNotTheObject(t *testing.T) {
	ctx := context.Background()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "settings"}}
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).WithObjects(cm).Build()
	step, err := NewStep(c, "example", "example.com/cleanup", StepOptions{FinalizerOptions: ssa.FinalizerOptions{APIReader: c}})
	if err != nil {
		t.Fatal(err)
	}
	var logged []string
	ctx = log.IntoContext(ctx, funcr.New(func(_, args string) { logged = append(logged, args) }, funcr.Options{Verbosity: 1}))
	cleanup := func(context.Context) (reconcile.Result, error) { return reconcile.Result{}, nil }
	if outcome, _, err := step.Handle(ctx, cm, cleanup); outcome != Proceed || err != nil {
		t.Fatalf("adding the finalizer: %v, %v", outcome, err)
	}
	if err := c.Delete(ctx, cm); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(ctx, client.ObjectKeyFromObject(cm), cm); err != nil {
		t.Fatal(err)
	}

	if outcome, _, err := step.Handle(ctx, cm, cleanup); outcome != Released || err != nil {
		t.Fatalf("Handle = %v, %v; want Released", outcome, err)
	}

	if len(logged) == 0 {
		t.Fatal("no log line, want the finalizer's removal")
	}
	for _, line := range logged {
		if !strings.Contains(line, `"finalizer"="example.com/cleanup"`) || strings.Contains(line, `"object"`) {
			t.Errorf("log line %s: want the finalizer and not the object", line)
		}
	}
}

// A UID that expired reads as unknown even before it is pruned, which is at most once a minute.
func TestRecentUIDs_AnExpiredUIDIsUnknownBeforeItIsPruned(t *testing.T) {
	var r recentUIDs
	r.add("fresh", recentFor) // prunes now, so the next minute does not
	r.expires["old"] = time.Now().Add(-time.Second)

	if r.has("old") {
		t.Error(`has("old") = true for an expired UID, want false`)
	}
	if !r.add("old", recentFor) {
		t.Error(`add("old") = false for an expired UID, want true: it is new again`)
	}
	if r.add("fresh", recentFor) {
		t.Error(`add("fresh") = true for a UID remembered, want false`)
	}
}

// One cleanup released, among many remembered (a namespace of them deleted): the cost of one must
// not grow with the number of the others.
func BenchmarkRecentUIDs_ManyObjects(b *testing.B) {
	for _, remembered := range []int{100, 40_000} {
		b.Run(fmt.Sprintf("remembered=%d", remembered), func(b *testing.B) {
			var r recentUIDs
			for i := range remembered {
				r.add(types.UID(strconv.Itoa(i)), recentFor)
			}
			b.ReportAllocs()
			for b.Loop() {
				r.add("web", recentFor)
				r.remove("web")
			}
		})
	}
}
