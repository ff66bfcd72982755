package reconcile

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/managedfields"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/ssakit/ssakit/internal/testcluster"
	ssareconcile "github.com/ssakit/ssakit/pkg/reconcile"
	"github.com/ssakit/ssakit/pkg/ssa"
)

// The happy path of an operator built as the docs recommend (the finalizer predicate with
// GenerationChangedPredicate on For, an owned child watched with Owns, a status with a Ready
// condition) logs no ERROR line. The reconcile that the child's create brings often reads a cached
// parent older than the controller's own status write, and its status apply is refused (409,
// ssa.ErrStale): that must be retried quietly, and without an event, since the controller's own
// status write bumps no generation and brings none.
func TestQuiet_FiftyCreationsLogNoErrorAndEveryStatusConverges(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	op := startParentOperator(t, ns, nil)

	// One at a time, as users create them: a burst keeps the controller's queue busy, which gives
	// the cache the time to catch up before the child's create is reconciled.
	const parents = 50
	for i := range parents {
		createWidget(t, ns, fmt.Sprintf("parent-%02d", i))
		g.Eventually(func() ([]string, error) { return notConverged(t.Context(), ns) }).
			WithTimeout(30 * time.Second).WithPolling(20 * time.Millisecond).Should(BeEmpty())
	}
	op.logs.waitIdle(t)

	stale := op.logs.count(func(l logLine) bool {
		return !l.error && l.level == 1 && strings.Contains(l.text(), "object changed since it was read")
	})
	errs, repeated := op.logs.errors(), op.logs.repeatedKeys()
	t.Logf("%d parents: %d ERROR lines, %d quiet stale retries, %d reconciles of the handler, %d lines that repeat a key or the object",
		parents, len(errs), stale, op.handler.reconciles(), len(repeated))
	g.Expect(stale).To(BeNumerically(">", 0), "no reconcile met a stale copy: the test did not see the race it is about")
	g.Expect(len(errs)).To(BeZero(), "ERROR lines on the happy path; the first: %q", errs[:min(len(errs), 1)])
	g.Expect(len(repeated)).To(BeZero(), "log lines that repeat a key or the object; the first: %q", repeated[:min(len(repeated), 1)])
	for i := range parents {
		cm := &corev1.ConfigMap{}
		g.Expect(cluster.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: fmt.Sprintf("parent-%02d-child", i)}, cm)).To(Succeed())
		g.Expect(metav1.GetControllerOf(cm)).NotTo(BeNil())
	}
}

// A cleanup that fails is logged once per attempt, by controller-runtime, which retries it; ssakit
// adds a Warning event, not a second ERROR line.
func TestQuiet_AFailingCleanupIsLoggedOncePerAttempt(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	const failures = 2
	op := startParentOperator(t, ns, func(attempt int) error {
		if attempt <= failures {
			return fmt.Errorf("the external resource is still in use (attempt %d)", attempt)
		}
		return nil
	})
	w := createReadyParent(t, op, ns, "failing-cleanup")

	g.Expect(cluster.Client.Delete(t.Context(), w)).To(Succeed())
	waitGone(t, op, w)

	g.Expect(op.handler.cleanupAttempts()).To(Equal(failures + 1))
	got, repeated := op.logs.errors(), op.logs.repeatedKeys()
	t.Logf("%d failed cleanup attempts: %d ERROR lines %q, %d lines that repeat a key or the object", failures, len(got), got, len(repeated))
	g.Expect(got).To(HaveLen(failures), "one ERROR line per failed cleanup attempt")
	for i, text := range got {
		g.Expect(text).To(ContainSubstring(fmt.Sprintf("Reconciler error: cleanup before removing finalizer %q: the external resource is still in use (attempt %d)", quietFinalizer, i+1)))
	}
	g.Expect(len(repeated)).To(BeZero(), "log lines that repeat a key or the object; the first: %q", repeated[:min(len(repeated), 1)])
}

// A finalizer whose removal another field manager blocks is logged once per attempt too; ssakit
// adds a Warning FinalizerBlocked event, not a second ERROR line. The co-owner's release is not
// announced as the step's: the attempt after it sends its removal once the Widget is gone, and
// finds nothing to remove.
func TestQuiet_ABlockedFinalizerIsLoggedOncePerAttempt(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	const blocked = 3
	gone := make(chan struct{})
	op := startParentOperator(t, ns, func(attempt int) error {
		if attempt > blocked {
			<-gone
		}
		return nil
	})
	letGo := sync.OnceFunc(func() { close(gone) })
	t.Cleanup(letGo) // before the manager stops: its worker may be waiting
	w := createReadyParent(t, op, ns, "co-owned")
	// Another tool applies the same finalizer: the operator's removal cannot take it off alone.
	cluster.ApplyFinalizers(t, testcluster.WidgetGVK, w, "helper-tool", quietFinalizer)

	g.Expect(cluster.Client.Delete(t.Context(), w)).To(Succeed())
	// An attempt after the blocked ones has begun: the last blocked removal was answered.
	g.Eventually(op.handler.cleanupAttempts).WithTimeout(30 * time.Second).Should(BeNumerically(">", blocked))
	cluster.ApplyFinalizers(t, testcluster.WidgetGVK, w, "helper-tool") // and lets go of it
	waitGone(t, op, w)
	letGo()
	removed := func() float64 {
		return counterSeries(t, "ssakit_finalizer_operations_total", map[string]string{"controller": controllerName(ns), "operation": "remove", "result": "applied"})
	}
	g.Eventually(removed).WithTimeout(30*time.Second).Should(BeNumerically(">=", 1), "the removal of the attempt after the release")
	op.logs.waitIdle(t)

	// The removals the step found blocked, as it counts them.
	removals := counterSeries(t, "ssakit_finalizer_operations_total", map[string]string{"controller": controllerName(ns), "operation": "remove", "result": "co_owned"})
	got, repeated := op.logs.errors(), op.logs.repeatedKeys()
	t.Logf("%d cleanup attempts, %v removals blocked: %d ERROR lines, the first %q; %d lines that repeat a key or the object",
		op.handler.cleanupAttempts(), removals, len(got), got[:min(len(got), 1)], len(repeated))
	g.Expect(removals).To(BeNumerically("==", blocked))
	g.Expect(got).To(HaveLen(int(removals)), "one ERROR line per blocked removal")
	for _, text := range got {
		g.Expect(text).To(HavePrefix(fmt.Sprintf("Reconciler error: finalizer %q is still on", quietFinalizer)))
		g.Expect(text).To(ContainSubstring(`it is also owned by "helper-tool"`))
	}
	g.Expect(len(repeated)).To(BeZero(), "log lines that repeat a key or the object; the first: %q", repeated[:min(len(repeated), 1)])
	// The co-owner's apply released the finalizer, not the step's removal: nothing to announce.
	g.Consistently(eventsAbout(t.Context(), ns, w.Name)).WithTimeout(time.Second).ShouldNot(ContainElement("Normal CleanupSucceeded"))
	g.Expect(eventsAbout(t.Context(), ns, w.Name)()).To(ContainElement("Warning FinalizerBlocked"))
}

// A finalizer released by the co-owner that blocked the step's removal is not announced done,
// though a failed cleanup was announced: the step cannot tell the co-owner's release from its
// own. The co-owner lets go while an attempt's cleanup runs, after which the step finds the
// finalizer off: in its next reconcile, or in the answer to that attempt's removal. The user's
// own finalizer keeps the Widget meanwhile.
func TestQuiet_AFinalizerItsCoOwnerReleasedIsNotAnnouncedDone(t *testing.T) {
	errInUse := errors.New("the external resource is still in use")
	for _, tc := range []struct {
		name string
		// cleanup decides the attempts before the one that runs while the co-owner lets go
		cleanup []error
		// then, that attempt's result
		then error
		want []string
	}{
		{"found off by the next reconcile", []error{nil}, errInUse, []string{"Warning FinalizerBlocked", "Warning CleanupFailed"}},
		{"found off by the step's next removal", []error{errInUse, nil}, nil, []string{"Warning CleanupFailed", "Warning FinalizerBlocked"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			ns := cluster.Namespace(t)
			letsGo := make(chan struct{})
			op := startParentOperator(t, ns, func(attempt int) error {
				if attempt <= len(tc.cleanup) {
					return tc.cleanup[attempt-1]
				}
				<-letsGo
				return tc.then
			})
			release := sync.OnceFunc(func() { close(letsGo) })
			t.Cleanup(release) // before the manager stops: its worker may be waiting
			w := createReadyParent(t, op, ns, "co-owned")
			cluster.ApplyFinalizers(t, testcluster.WidgetGVK, w, "helper-tool", quietFinalizer)
			cluster.ApplyFinalizers(t, testcluster.WidgetGVK, w, "user", "user.example.com/hold")

			g.Expect(cluster.Client.Delete(t.Context(), w)).To(Succeed())
			g.Eventually(op.handler.cleanupAttempts).WithTimeout(30*time.Second).Should(BeNumerically(">", len(tc.cleanup)), "the attempt after the blocked removal")
			cluster.ApplyFinalizers(t, testcluster.WidgetGVK, w, "helper-tool") // lets go of it
			g.Eventually(func() ([]string, error) {
				live := &testcluster.Widget{}
				err := cluster.Client.Get(t.Context(), client.ObjectKeyFromObject(w), live)
				return live.Finalizers, err
			}).WithTimeout(30 * time.Second).Should(Equal([]string{"user.example.com/hold"}))
			release()

			g.Eventually(eventsAbout(t.Context(), ns, w.Name)).WithTimeout(30 * time.Second).Should(ContainElements(tc.want))
			g.Consistently(eventsAbout(t.Context(), ns, w.Name)).WithTimeout(2 * time.Second).ShouldNot(ContainElement("Normal CleanupSucceeded"))
			cluster.ApplyFinalizers(t, testcluster.WidgetGVK, w, "user") // the user lets go too
			waitGone(t, op, w)
			g.Expect(eventsAbout(t.Context(), ns, w.Name)()).NotTo(ContainElement("Normal CleanupSucceeded"))
		})
	}
}

// counterSeries is the value of the series of a counter in controller-runtime's registry that has
// labels, or 0.
func counterSeries(t *testing.T, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatalf("gathering metrics: %v", err)
	}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			if f.GetName() == name && maps.Equal(got, labels) {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// createReadyParent creates a Widget and waits until the operator has reported it Ready and gone
// idle.
func createReadyParent(t *testing.T, op parentOperator, namespace, name string) *testcluster.Widget {
	t.Helper()
	w := createWidget(t, namespace, name)
	NewWithT(t).Eventually(func() ([]string, error) { return notConverged(t.Context(), namespace) }).WithTimeout(30 * time.Second).Should(BeEmpty())
	op.logs.waitIdle(t)
	return w
}

// waitGone waits until w no longer exists and the operator has gone idle.
func waitGone(t *testing.T, op parentOperator, w *testcluster.Widget) {
	t.Helper()
	NewWithT(t).Eventually(func() (bool, error) {
		_, ok, err := getWidget(t.Context(), w)
		return ok, err
	}).WithTimeout(30 * time.Second).Should(BeFalse())
	op.logs.waitIdle(t)
}

// quietFinalizer is the parent operator's finalizer.
const quietFinalizer = "test.ssakit.dev/quiet"

// parentOperator is a small operator as the getting-started guide builds it: Widgets are the
// parents, each with a ConfigMap child it owns through an owner reference, and a status with a
// Ready condition.
type parentOperator struct {
	handler *parentHandler
	logs    *logLines
}

// startParentOperator runs the parent operator in a manager of its own, watching namespace, whose
// every log line is kept in the operator's logs. cleanup, when set, decides each cleanup attempt
// (1-based).
func startParentOperator(t *testing.T, namespace string, cleanup func(attempt int) error) parentOperator {
	t.Helper()
	logs := &logLines{}
	mgr, err := ctrl.NewManager(cluster.Config, ctrl.Options{
		Scheme:                 cluster.Scheme,
		Logger:                 logr.New(&lineSink{lines: logs}),
		Cache:                  cache.Options{DefaultNamespaces: map[string]cache.Config{namespace: {}}},
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             config.Controller{SkipNameValidation: new(true)},
	})
	if err != nil {
		t.Fatalf("creating a manager: %v", err)
	}
	name := controllerName(namespace)
	types, err := loadWidgetTypes()
	if err != nil {
		t.Fatalf("reading the Widget's schema: %v", err)
	}
	h := &parentHandler{
		children: ssa.NewApplier(mgr.GetClient(), name, ssa.ApplierOptions{}),
		status:   ssareconcile.NewStatusApplier(mgr.GetClient(), name, ssareconcile.StatusApplierOptions{TypeConverters: []managedfields.TypeConverter{types}}),
		cleanup:  cleanup,
	}
	r, err := ssareconcile.New[*testcluster.Widget](mgr, h, ssareconcile.Options{Controller: name, Finalizer: quietFinalizer})
	if err != nil {
		t.Fatalf("building the reconciler: %v", err)
	}
	err = ctrl.NewControllerManagedBy(mgr).
		For(&testcluster.Widget{}, builder.WithPredicates(predicate.Or[client.Object](predicate.GenerationChangedPredicate{}, r.FinalizerPredicate()))).
		Owns(&corev1.ConfigMap{}).
		Named(name).
		Complete(r)
	if err != nil {
		t.Fatalf("building the controller: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-stopped; err != nil {
			t.Errorf("manager stopped with: %v", err)
		}
	})
	return parentOperator{handler: h, logs: logs}
}

// parentHandler applies each parent's child and status, and counts what it was asked to do.
type parentHandler struct {
	children *ssa.Applier
	status   *ssareconcile.StatusApplier
	cleanup  func(attempt int) error

	mu       sync.Mutex
	calls    int
	attempts int
}

func (h *parentHandler) Reconcile(ctx context.Context, w *testcluster.Widget) (reconcile.Result, error) {
	h.mu.Lock()
	h.calls++
	h.mu.Unlock()
	// The child through ApplyChild, as the docs recommend: created the first time (a stale copy
	// when the cache has not shown one made a moment ago), then applied with the Widget's
	// controller reference.
	child := corev1ac.ConfigMap(w.Name+"-child", w.Namespace).WithData(map[string]string{"color": w.Spec.Color})
	if _, err := h.children.ApplyChild(ctx, w, child, client.ForceOwnership); err != nil {
		return reconcile.Result{}, err
	}
	ready := ssareconcile.Condition(w.Status.Conditions, metav1.Condition{
		Type: "Ready", Status: metav1.ConditionTrue, Reason: "ChildApplied", Message: "the child is applied", ObservedGeneration: w.Generation,
	})
	return reconcile.Result{}, h.status.Apply(ctx, w, &widgetStatus{Conditions: []*metav1ac.ConditionApplyConfiguration{ready}})
}

func (h *parentHandler) Cleanup(context.Context, *testcluster.Widget) (reconcile.Result, error) {
	h.mu.Lock()
	h.attempts++
	attempt := h.attempts
	h.mu.Unlock()
	if h.cleanup != nil {
		return reconcile.Result{}, h.cleanup(attempt)
	}
	return reconcile.Result{}, nil
}

func (h *parentHandler) reconciles() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.calls
}

func (h *parentHandler) cleanupAttempts() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.attempts
}

// notConverged lists the Widgets of namespace whose status does not yet report Ready=True for
// their generation, each with what it reports.
func notConverged(ctx context.Context, namespace string) ([]string, error) {
	var list testcluster.WidgetList
	if err := cluster.Client.List(ctx, &list, client.InNamespace(namespace)); err != nil {
		return nil, err
	}
	var behind []string
	for _, w := range list.Items {
		ready := meta.FindStatusCondition(w.Status.Conditions, "Ready")
		if ready == nil || ready.Status != metav1.ConditionTrue || ready.ObservedGeneration != w.Generation || w.Status.ObservedGeneration != w.Generation {
			behind = append(behind, fmt.Sprintf("%s (generation %d): %+v, observedGeneration %d", w.Name, w.Generation, ready, w.Status.ObservedGeneration))
		}
	}
	return behind, nil
}

// logLine is one line logged through a lineSink.
type logLine struct {
	error bool // logged with Error, which controller-runtime's zap logger prints at ERROR level
	level int  // the V level of an Info line
	name  string
	msg   string
	err   error
	keys  []any // the line's keys and values, those of WithValues first
}

// text is the line's message, and its error after a colon.
func (l logLine) text() string {
	if l.err != nil {
		return l.msg + ": " + l.err.Error()
	}
	if reason := l.value("reason"); reason != nil {
		return fmt.Sprintf("%s: %v", l.msg, reason)
	}
	return l.msg
}

// value is the value of key in the line, or nil.
func (l logLine) value(key string) any {
	for i := 0; i+1 < len(l.keys); i += 2 {
		if l.keys[i] == key {
			return l.keys[i+1]
		}
	}
	return nil
}

// logLines keeps the lines logged through its sinks.
type logLines struct {
	mu    sync.Mutex
	lines []logLine
}

func (l *logLines) add(line logLine) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, line)
}

// count counts the lines that match.
func (l *logLines) count(match func(logLine) bool) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, line := range l.lines {
		if match(line) {
			n++
		}
	}
	return n
}

// errors returns the text of each line logged at ERROR level.
func (l *logLines) errors() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var errs []string
	for _, line := range l.lines {
		if line.error {
			errs = append(errs, line.text())
		}
	}
	return errs
}

// repeatedKeys returns the lines that carry a key twice, or the same object twice under two keys
// (controller-runtime's reconcile logger names the object under its kind, as a klog.ObjectRef).
func (l *logLines) repeatedKeys() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var repeated []string
	for _, line := range l.lines {
		var keys, objects []any
		for i := 0; i+1 < len(line.keys); i += 2 {
			key, value := line.keys[i], line.keys[i+1]
			if slices.Contains(keys, key) {
				repeated = append(repeated, fmt.Sprintf("%s: key %v twice in %v", line.msg, key, line.keys))
			}
			if ref, ok := value.(klog.ObjectRef); ok && slices.Contains(objects, any(ref)) {
				repeated = append(repeated, fmt.Sprintf("%s: object %v twice in %v", line.msg, ref, line.keys))
			}
			keys = append(keys, key)
			if ref, ok := value.(klog.ObjectRef); ok {
				objects = append(objects, ref)
			}
		}
	}
	return repeated
}

// waitIdle waits until nothing has been logged for quietFor, up to V(5), where controller-runtime
// logs the start and end of every reconcile: no reconcile runs and none is due within a second
// (the longest quiet retry), so the counts are final.
func (l *logLines) waitIdle(t *testing.T) {
	t.Helper()
	const quietFor = 3 * time.Second
	last := l.count(func(logLine) bool { return true })
	for since := time.Now(); time.Since(since) < quietFor; {
		time.Sleep(100 * time.Millisecond)
		if now := l.count(func(logLine) bool { return true }); now != last {
			last, since = now, time.Now()
		}
	}
}

// lineSink is a logr.LogSink that keeps every line, up to V(5), in lines.
type lineSink struct {
	lines  *logLines
	name   string
	values []any
}

func (s *lineSink) Init(logr.RuntimeInfo) {}

func (s *lineSink) Enabled(level int) bool { return level <= 5 }

func (s *lineSink) Info(level int, msg string, keysAndValues ...any) {
	s.lines.add(logLine{level: level, name: s.name, msg: msg, keys: append(slices.Clone(s.values), keysAndValues...)})
}

func (s *lineSink) Error(err error, msg string, keysAndValues ...any) {
	s.lines.add(logLine{error: true, name: s.name, msg: msg, err: err, keys: append(slices.Clone(s.values), keysAndValues...)})
}

func (s *lineSink) WithValues(keysAndValues ...any) logr.LogSink {
	return &lineSink{lines: s.lines, name: s.name, values: append(slices.Clone(s.values), keysAndValues...)}
}

func (s *lineSink) WithName(name string) logr.LogSink {
	return &lineSink{lines: s.lines, name: strings.TrimPrefix(s.name+"."+name, "."), values: s.values}
}
