package proof

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	mirrorv1alpha1 "github.com/ssakit/ssakit/example/operator/api/v1alpha1"
	mirrorcontroller "github.com/ssakit/ssakit/example/operator/controller"
	"github.com/ssakit/ssakit/example/operator/setup"
	"github.com/ssakit/ssakit/internal/testcluster"
	"github.com/ssakit/ssakit/pkg/ssa"
)

// The operator workload's sizes.
const (
	workloadMirrors = 3
	workloadSteps   = 80
	// stepPause bounds the random pause before each step, during which the operator works: the
	// invariants are checked in the middle of its reconciles, not only once it is idle.
	stepPause = 150 * time.Millisecond
)

var (
	mirrorGVK    = mirrorv1alpha1.GroupVersion.WithKind("ConfigMirror")
	configMapGVK = corev1.SchemeGroupVersion.WithKind("ConfigMap")
	// operatorManagers are the example operator's field managers: copies and status, and the
	// finalizer's own.
	operatorManagers = []string{mirrorcontroller.Name, mirrorcontroller.FinalizerFieldOwner}
	// workloadUsers are the managers of the user and of the other controller.
	workloadUsers = []string{userApply, userEdit, other}
)

// While the example ConfigMirror operator runs, a user drives a random workload of PROOF_SEED
// (the time by default) on three mirrors of two sources into three namespaces, one of which
// already holds a ConfigMap of the user's under a source's name: applies of specs, labels by merge
// patch, source changes, deletes and re-creates, notes added to the operator's copies, and another
// controller's finalizer applied and released. Before every step, at a random moment of the
// operator's work, the invariants of the proof that apply to a running operator are checked on
// every object:
//
//	(a) on every mirror, the finalizer's manager owns only its finalizer's item, and the status
//	    manager only status, on the status subresource;
//	(b, d, e) every mirror is as its user and the other controller last wrote it, apart from
//	    finalizers and status: no spec, label, generation or deletion change by the operator; same
//	    UID, and no mirror the user did not create or re-create (none resurrected);
//	(c) the other controller's finalizer is on a mirror exactly when it last applied it;
//	(f) the operator's managers and the user's own no field in common, on mirrors and copies;
//	never adopts or overwrites: the user's ConfigMaps (the sources, and the one that blocks a copy)
//	    are exactly as the user last wrote them, managedFields and resourceVersion included.
//
// And the user's notes on copies stay: each note the user wrote on a copy is there, owned by the
// user's manager, for as long as that copy (by UID) exists.
//
// Once the operator is idle at the end: (g) every live mirror carries the finalizer, with a
// status of its generation; every deleted one has lost only its finalizer, which the cleanup
// released; and no copy of a deleted mirror is left.
//
// The summary line counts the violations, the user's writes the server accepted, and what the
// operator did: copies created and deleted (a watch of the test's own), finalizers added, cleanups
// and releases (the operator's ssakit metrics).
//
// The writes are made from fresh reads, as the user and the other controller would; only what
// the operator does between a user's write and the answer to it (milliseconds) escapes (b).
func TestOperator_OwnershipInvariantsHoldWhileTheOperatorRunsAUsersWorkload(t *testing.T) {
	seed := proofSeed(t)
	rng := rand.New(rand.NewPCG(seed, 1))
	w := newWorkload(t)
	copies := watchCopies(t, w.targets)
	did := operatorMetrics(t)
	stopOperator := startOperator(t)

	violations := 0
	violated := func(when string, err error) {
		if _, ok := errors.AsType[*readError](err); ok {
			t.Fatalf("operator workload of seed %d: %s: %v", seed, when, err)
		}
		violations++
		t.Errorf("operator workload of seed %d: %s: %v\nsteps so far:\n%s", seed, when, err, w.played())
	}
	for step := range workloadSteps {
		time.Sleep(time.Duration(rng.Int64N(int64(stepPause))))
		if err := w.check(t.Context()); err != nil {
			violated(fmt.Sprintf("before step %d", step+1), err)
			break // the workload's record of what the user wrote may be off from here on
		}
		if err := w.act(t.Context(), rng); err != nil {
			t.Fatalf("operator workload of seed %d: step %d: %v\nsteps so far:\n%s", seed, step+1, err, w.played())
		}
	}
	if violations == 0 {
		waitOperatorIdle(t)
		if err := w.check(t.Context()); err != nil {
			violated("once idle", err)
		}
		wrong := w.settled(t.Context())
		violations += len(wrong)
		if d := cmp.Diff([]string(nil), wrong); d != "" {
			t.Errorf("operator workload of seed %d: what the idle operator left (-want +got):\n%s\nsteps:\n%s", seed, d, w.played())
		}
	}
	stopOperator()
	created, deleted := copies.counts()
	line := fmt.Sprintf("operator: %d steps (%d writes accepted) of a user's workload on %d mirrors, %d invariant checks, %d violations (seed %d); "+
		"the operator created %d copies and deleted %d, added its finalizer %d times, completed %d cleanups and released %d finalizers; the user's %d notes on copies checked %d times",
		len(w.steps), w.writes, workloadMirrors, w.checks, violations, seed,
		created, deleted, did(finalizerOp("add")), did(cleanupsSucceeded), did(finalizerOp("remove")), w.notesWritten, w.notesChecked)
	t.Log(line)
	fmt.Println(line)
}

// operatorMetric selects series of the operator's ssakit metrics by name and labels besides
// controller; a histogram counts its samples.
type operatorMetric struct {
	name   string
	labels map[string]string
}

func finalizerOp(operation string) operatorMetric {
	return operatorMetric{"ssakit_finalizer_operations_total", map[string]string{"operation": operation, "result": "applied"}}
}

var cleanupsSucceeded = operatorMetric{"ssakit_cleanup_duration_seconds", map[string]string{"result": "succeeded"}}

// operatorMetrics returns what the operator did, as counted by a metric, since it was called.
func operatorMetrics(t *testing.T) func(operatorMetric) int {
	t.Helper()
	sum := func(m operatorMetric) float64 {
		families, err := metrics.Registry.Gather()
		if err != nil {
			t.Fatalf("gathering metrics: %v", err)
		}
		total := 0.0
		for _, f := range families {
			if f.GetName() != m.name {
				continue
			}
			for _, series := range f.GetMetric() {
				labels := map[string]string{}
				for _, l := range series.GetLabel() {
					labels[l.GetName()] = l.GetValue()
				}
				if labels["controller"] != mirrorcontroller.Name || !mapContains(labels, m.labels) {
					continue
				}
				total += series.GetCounter().GetValue() + float64(series.GetHistogram().GetSampleCount())
			}
		}
		return total
	}
	before := map[string]float64{}
	for _, m := range []operatorMetric{finalizerOp("add"), finalizerOp("remove"), cleanupsSucceeded} {
		before[fmt.Sprint(m)] = sum(m)
	}
	return func(m operatorMetric) int { return int(sum(m) - before[fmt.Sprint(m)]) }
}

func mapContains(m, sub map[string]string) bool {
	for k, v := range sub {
		if m[k] != v {
			return false
		}
	}
	return true
}

// copyWatch counts the operator's copies in the target namespaces, by UID, as an informer of the
// test's own sees them created and deleted.
type copyWatch struct {
	mu               sync.Mutex
	created, deleted map[types.UID]bool
}

func watchCopies(t *testing.T, targets []string) *copyWatch {
	t.Helper()
	w := &copyWatch{created: map[types.UID]bool{}, deleted: map[types.UID]bool{}}
	hasLabel, err := labels.NewRequirement(mirrorcontroller.MirrorUIDLabel, selection.Exists, nil)
	if err != nil {
		t.Fatal(err)
	}
	namespaces := map[string]cache.Config{}
	for _, ns := range targets {
		namespaces[ns] = cache.Config{}
	}
	c, err := cache.New(cluster.Config, cache.Options{Scheme: cluster.Scheme, DefaultNamespaces: namespaces, DefaultLabelSelector: labels.NewSelector().Add(*hasLabel)})
	if err != nil {
		t.Fatal(err)
	}
	informer, err := c.GetInformer(t.Context(), &corev1.ConfigMap{})
	if err != nil {
		t.Fatal(err)
	}
	record := func(into map[types.UID]bool) func(any) {
		return func(obj any) {
			if tombstone, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
				obj = tombstone.Obj
			}
			if o, ok := obj.(client.Object); ok {
				w.mu.Lock()
				defer w.mu.Unlock()
				into[o.GetUID()] = true
			}
		}
	}
	if _, err := informer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{AddFunc: record(w.created), DeleteFunc: record(w.deleted)}); err != nil {
		t.Fatal(err)
	}
	go func() { _ = c.Start(t.Context()) }()
	if !c.WaitForCacheSync(t.Context()) {
		t.Fatal("the test's watch of the copies never synced")
	}
	return w
}

func (w *copyWatch) counts() (created, deleted int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.created), len(w.deleted)
}

// proofSeed is PROOF_SEED, or the time.
func proofSeed(t *testing.T) uint64 {
	t.Helper()
	s := os.Getenv("PROOF_SEED")
	if s == "" {
		return uint64(time.Now().UnixNano())
	}
	seed, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatalf("PROOF_SEED=%q: %v", s, err)
	}
	return seed
}

// startOperator runs the example operator's Manager, as cmd/operator assembles it, and returns a
// function that stops it.
func startOperator(t *testing.T) (stop func()) {
	t.Helper()
	mgr, err := setup.NewManager(cluster.Config, setup.Options{MetricsAddr: "0", HealthAddr: "0"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("the operator stopped with: %v", err)
		}
	}
	t.Cleanup(stop)
	return stop
}

// waitOperatorIdle waits until the operator's work queue has been empty, and no worker busy, for
// a second.
func waitOperatorIdle(t *testing.T) {
	t.Helper()
	idle := func() bool {
		return testcluster.MetricSum(t, "workqueue_depth", mirrorcontroller.Name) == 0 &&
			testcluster.MetricSum(t, "controller_runtime_active_workers", mirrorcontroller.Name) == 0
	}
	quietSince := time.Time{}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		switch {
		case !idle():
			quietSince = time.Time{}
		case quietSince.IsZero():
			quietSince = time.Now()
		case time.Since(quietSince) > time.Second:
			return
		}
	}
	t.Fatal("the operator did not become idle within 30s")
}

// workload is the user's side: the namespaces, and each object as its writers last left it.
type workload struct {
	home    string
	targets []string
	// mirrors are the mirrors as the user or the other controller last wrote them (the server's
	// answer), by name; nil for one that is not there, or deleted and seen gone.
	mirrors map[string]*unstructured.Unstructured
	// usersConfigMaps are the user's ConfigMaps as last written, by namespace/name.
	usersConfigMaps map[string]*unstructured.Unstructured
	// gone are the UIDs of mirrors deleted: none of their copies may be left at the end.
	gone []types.UID
	// notes are the user's notes on copies, by the copy's UID.
	notes        map[types.UID]string
	steps        []string
	writes       int // the user's and the other controller's writes the server accepted, setup aside
	checks       int
	notesWritten int
	notesChecked int
}

// The user's ConfigMaps: two sources, and one in the third target namespace under the first
// source's name, which the operator must neither adopt nor overwrite.
var sources = []string{"settings-a", "settings-b"}

func newWorkload(t *testing.T) *workload {
	t.Helper()
	w := &workload{home: cluster.Namespace(t), mirrors: map[string]*unstructured.Unstructured{}, usersConfigMaps: map[string]*unstructured.Unstructured{},
		notes: map[types.UID]string{}}
	for range 3 {
		target := cluster.Namespace(t)
		// The target namespaces accept copies from the user's (mirrorcontroller.AcceptFromAnnotation).
		accept := fmt.Appendf(nil, `{"metadata":{"annotations":{%q:%q}}}`, mirrorcontroller.AcceptFromAnnotation, w.home)
		ns := &corev1.Namespace{}
		ns.Name = target
		if err := cluster.Client.Patch(t.Context(), ns, client.RawPatch(types.MergePatchType, accept)); err != nil {
			t.Fatalf("annotating the target namespace %s: %v", target, err)
		}
		w.targets = append(w.targets, target)
	}
	for _, s := range sources {
		if err := w.applyConfigMap(t.Context(), w.home, s, map[string]any{"mode": "initial"}); err != nil {
			t.Fatalf("creating the source %s: %v", s, err)
		}
	}
	if err := w.applyConfigMap(t.Context(), w.targets[2], sources[0], map[string]any{"owner": "the user"}); err != nil {
		t.Fatalf("creating the user's ConfigMap that blocks a copy: %v", err)
	}
	for i := range workloadMirrors {
		name := fmt.Sprintf("mirror-%d", i)
		w.applyMirror(t.Context(), name, "", sources[i%len(sources)], w.targets)
		if w.mirrors[name] == nil {
			t.Fatalf("creating %s failed", name)
		}
	}
	w.writes = 0
	return w
}

func (w *workload) played() string {
	var b strings.Builder
	for i, s := range w.steps {
		fmt.Fprintf(&b, "  %2d. %s\n", i+1, s)
	}
	return b.String()
}

// act plays one random step of the user or the other controller, from fresh reads. The writes
// the workload's actors may see refused (on a mirror deleted meanwhile, say) are their business;
// it returns the errors of those that must not fail.
func (w *workload) act(ctx context.Context, rng *rand.Rand) error {
	name := fmt.Sprintf("mirror-%d", rng.IntN(workloadMirrors))
	live, err := w.read(ctx, mirrorGVK, w.home, name)
	if err != nil {
		return err
	}
	alive := live != nil && live.GetDeletionTimestamp() == nil
	value := []string{"red", "green", "blue"}[rng.IntN(3)]
	switch r := rng.IntN(8); {
	case r == 0 && alive:
		var targets []string
		for _, ns := range w.targets {
			if rng.IntN(2) == 0 {
				targets = append(targets, ns)
			}
		}
		source := sources[rng.IntN(len(sources))]
		w.log("user applies %s: source %s, %d targets", name, source, len(targets))
		w.applyMirror(ctx, name, live.GetUID(), source, targets)
	case r == 1 && alive:
		w.log("user labels %s %s with a merge patch", name, value)
		patch := fmt.Sprintf(`{"metadata":{"labels":{"mood":%q}}}`, value)
		if err := cluster.Client.Patch(ctx, live, client.RawPatch(types.MergePatchType, []byte(patch)), client.FieldOwner(userEdit)); err == nil {
			w.mirrors[name] = live
			w.writes++
		}
	case r == 2 && alive:
		w.log("user deletes %s", name)
		if err := cluster.Client.Delete(ctx, live.DeepCopy(), client.Preconditions{UID: new(live.GetUID())}); err == nil {
			w.writes++
			w.gone = append(w.gone, live.GetUID())
			if w.mirrors[name], err = w.afterDelete(ctx, live); err != nil {
				return err
			}
		}
	case r == 3 && live == nil:
		w.log("user creates %s again", name)
		w.applyMirror(ctx, name, "", sources[rng.IntN(len(sources))], w.targets[:1+rng.IntN(len(w.targets))])
	case r == 4:
		source := sources[rng.IntN(len(sources))]
		w.log("user changes source %s to %s", source, value)
		if err := w.applyConfigMap(ctx, w.home, source, map[string]any{"mode": value}); err != nil {
			return fmt.Errorf("changing the source %s: %w", source, err)
		}
	case r == 5 && alive:
		w.log("other controller applies its finalizer to %s", name)
		w.applyOthers(ctx, name, live.GetUID(), otherFinal)
	case r == 6 && live != nil:
		w.log("other controller releases its finalizer on %s", name)
		w.applyOthers(ctx, name, live.GetUID())
	case r == 7:
		return w.noteOnACopy(ctx, rng, value)
	default:
		w.log("user waits")
	}
	return nil
}

func (w *workload) log(format string, args ...any) {
	w.steps = append(w.steps, fmt.Sprintf(format, args...))
}

// applyMirror applies the user's spec of name: uid makes it an edit that creates nothing.
func (w *workload) applyMirror(ctx context.Context, name string, uid types.UID, source string, targets []string) {
	u := identity(object{name, mirrorGVK}, w.home, uid)
	_ = unstructured.SetNestedField(u.Object, source, "spec", "source")
	_ = unstructured.SetNestedStringSlice(u.Object, targets, "spec", "targetNamespaces")
	if err := cluster.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(userApply), client.ForceOwnership); err == nil {
		w.mirrors[name] = w.answer(u)
		w.writes++
	}
}

// applyOthers applies the other controller's finalizers to name, guarded by uid.
func (w *workload) applyOthers(ctx context.Context, name string, uid types.UID, finalizers ...string) {
	u := identity(object{name, mirrorGVK}, w.home, uid, finalizers...)
	if err := cluster.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(other)); err != nil {
		return
	}
	w.writes++
	w.mirrors[name] = w.answer(u)
	if u.GetDeletionTimestamp() != nil && len(u.GetFinalizers()) == 0 {
		w.mirrors[name] = nil // released the last finalizer of a terminating mirror: the server deleted it
	}
}

// answer is the server's answer to an apply, which Client.Apply wrote into the configuration.
func (w *workload) answer(u *unstructured.Unstructured) *unstructured.Unstructured {
	answered := u.DeepCopy()
	answered.SetGroupVersionKind(u.GroupVersionKind())
	return answered
}

// afterDelete is the mirror as the user's delete left it: terminating, or nil once gone. The delete
// answers with no object through this client, so it is read, and only the deletion's own marks
// (deletionTimestamp, and the generation it bumps, row 6) are taken from that read.
func (w *workload) afterDelete(ctx context.Context, before *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	live, err := w.read(ctx, mirrorGVK, w.home, before.GetName())
	if err != nil || live == nil || live.GetUID() != before.GetUID() {
		return nil, err
	}
	deleted := before.DeepCopy()
	deleted.SetDeletionTimestamp(live.GetDeletionTimestamp())
	deleted.SetDeletionGracePeriodSeconds(live.GetDeletionGracePeriodSeconds())
	deleted.SetGeneration(before.GetGeneration() + 1)
	return deleted, nil
}

func (w *workload) applyConfigMap(ctx context.Context, namespace, name string, data map[string]any) error {
	u := identity(object{name, configMapGVK}, namespace, "")
	_ = unstructured.SetNestedMap(u.Object, data, "data")
	if err := cluster.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(userApply), client.ForceOwnership); err != nil {
		return err
	}
	w.writes++
	w.usersConfigMaps[namespace+"/"+name] = w.answer(u)
	return nil
}

// userNote is the key of the user's notes on copies.
const userNote = "user-note"

// noteOnACopy adds a key of the user's to one of the operator's copies: the operator owns only its
// own keys, and leaves this one. The note is recorded by the UID of the copy the server patched.
func (w *workload) noteOnACopy(ctx context.Context, rng *rand.Rand, value string) error {
	copies, err := w.copies(ctx)
	if err != nil {
		return err
	}
	if len(copies) == 0 {
		w.log("user finds no copy to note on")
		return nil
	}
	c := copies[rng.IntN(len(copies))]
	w.log("user notes %s on the copy %s/%s", value, c.GetNamespace(), c.GetName())
	patch := fmt.Sprintf(`{"data":{%q:%q}}`, userNote, value)
	err = cluster.Client.Patch(ctx, c, client.RawPatch(types.MergePatchType, []byte(patch)), client.FieldOwner(userEdit))
	switch {
	case apierrors.IsNotFound(err):
		w.steps[len(w.steps)-1] += " (gone before the note)"
		return nil
	case err != nil:
		return fmt.Errorf("noting on the copy %s/%s: %w", c.GetNamespace(), c.GetName(), err)
	}
	w.writes++
	w.notesWritten++
	w.notes[c.GetUID()] = value // c is the server's answer
	return nil
}

// copies lists the operator's copies in the target namespaces; a list that keeps failing is a
// *readError.
func (w *workload) copies(ctx context.Context) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, ns := range w.targets {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(configMapGVK.GroupVersion().WithKind("ConfigMapList"))
		err := retryRead(ctx, func() error {
			return cluster.Client.List(ctx, list, client.InNamespace(ns), client.HasLabels{mirrorcontroller.MirrorUIDLabel})
		})
		if err != nil {
			return nil, &readError{name: "the copies in " + ns, err: err}
		}
		for i := range list.Items {
			out = append(out, &list.Items[i])
		}
	}
	return out, nil
}

// read reads an object live: nil when it does not exist; a read that keeps failing otherwise is a
// *readError.
func (w *workload) read(ctx context.Context, gvk schema.GroupVersionKind, namespace, name string) (*unstructured.Unstructured, error) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	err := retryRead(ctx, func() error {
		return cluster.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, u)
	})
	switch {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, &readError{name: namespace + "/" + name, err: err}
	}
	return u, nil
}

// retryRead calls read until it succeeds or finds nothing, for at most readWithin.
func retryRead(ctx context.Context, read func() error) error {
	for deadline := time.Now().Add(readWithin); ; time.Sleep(50 * time.Millisecond) {
		err := read()
		if err == nil || apierrors.IsNotFound(err) || time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
	}
}

// check verifies the invariants on every object, live.
func (w *workload) check(ctx context.Context) error {
	for name, want := range w.mirrors {
		live, err := w.read(ctx, mirrorGVK, w.home, name)
		if err != nil {
			return err
		}
		w.checks++
		switch {
		case want == nil && live != nil:
			return fmt.Errorf("(e) %s exists (uid %s), but the user did not create it again", name, live.GetUID())
		case want == nil:
			continue
		case live == nil && want.GetDeletionTimestamp() == nil:
			return fmt.Errorf("(e) %s vanished, but nobody deleted it", name)
		case live == nil:
			w.mirrors[name] = nil // deleted, and now gone
			continue
		}
		w.checks += 4
		if d := outsideFinalizersAndStatus(want, live); d != "" {
			return fmt.Errorf("(b, d, e) %s changed outside metadata.finalizers and status since its user wrote it: %s", name, d)
		}
		if err := ownOnlyTheirShare(live, map[string]string{mirrorcontroller.FinalizerFieldOwner: mirrorcontroller.Finalizer}, mirrorcontroller.Name); err != nil {
			return fmt.Errorf("(a) %s: %w", name, err)
		}
		if carries, wanted := slices.Contains(live.GetFinalizers(), otherFinal), slices.Contains(want.GetFinalizers(), otherFinal); carries != wanted {
			return fmt.Errorf("(c) %s carries the other controller's finalizer: %t, as last applied: %t (finalizers %v)", name, carries, wanted, live.GetFinalizers())
		}
		if err := disjointOwners(live, operatorManagers, workloadUsers); err != nil {
			return fmt.Errorf("(f) %s: %w", name, err)
		}
	}
	for key, want := range w.usersConfigMaps {
		namespace, name, _ := strings.Cut(key, "/")
		w.checks++
		live, err := w.read(ctx, configMapGVK, namespace, name)
		if err != nil {
			return err
		}
		if live == nil {
			return fmt.Errorf("the user's ConfigMap %s was deleted", key)
		}
		if d := cmp.Diff(want.Object, live.Object); d != "" {
			return fmt.Errorf("the user's ConfigMap %s changed since the user wrote it (-want +got):\n%s", key, d)
		}
	}
	copies, err := w.copies(ctx)
	if err != nil {
		return err
	}
	for _, c := range copies {
		w.checks++
		if err := disjointOwners(c, operatorManagers, workloadUsers); err != nil {
			return fmt.Errorf("(f) the copy %s/%s: %w", c.GetNamespace(), c.GetName(), err)
		}
		if err := w.noteKept(c); err != nil {
			return err
		}
	}
	return nil
}

// noteKept checks that the user's last note on the copy c, if any, is on it and owned by the
// user's manager alone.
func (w *workload) noteKept(c *unstructured.Unstructured) error {
	want, noted := w.notes[c.GetUID()]
	if !noted {
		return nil
	}
	w.checks++
	w.notesChecked++
	got, found, _ := unstructured.NestedString(c.Object, "data", userNote)
	if !found || got != want {
		return fmt.Errorf("the user's note on the copy %s/%s is %q (found: %t), not the %q the user wrote", c.GetNamespace(), c.GetName(), got, found, want)
	}
	ownership, err := ssa.ParseOwnership(c.GetManagedFields())
	if err != nil {
		return err
	}
	if owners := ownership.Owners(fieldpath.MakePathOrDie("data", userNote)); !slices.Equal(owners, []string{userEdit}) {
		return fmt.Errorf("the user's note on the copy %s/%s is owned by %v, not by the user's %s alone", c.GetNamespace(), c.GetName(), owners, userEdit)
	}
	return nil
}

// settled lists what is wrong once the operator is idle: a live mirror without the finalizer or a
// status of its generation, a deleted one still carrying the finalizer, a copy of a deleted mirror.
func (w *workload) settled(ctx context.Context) []string {
	var wrong []string
	for name := range w.mirrors {
		live, err := w.read(ctx, mirrorGVK, w.home, name)
		w.checks++
		if err != nil {
			wrong = append(wrong, err.Error())
			continue
		}
		if live == nil {
			continue
		}
		carries := slices.Contains(live.GetFinalizers(), mirrorcontroller.Finalizer)
		observed, _, _ := unstructured.NestedInt64(live.Object, "status", "observedGeneration")
		switch terminating := live.GetDeletionTimestamp() != nil; {
		case terminating && carries:
			wrong = append(wrong, fmt.Sprintf("%s is deleted and still carries %s", name, mirrorcontroller.Finalizer))
		case !terminating && !carries:
			wrong = append(wrong, fmt.Sprintf("%s lives without %s (finalizers %v)", name, mirrorcontroller.Finalizer, live.GetFinalizers()))
		case !terminating && observed != live.GetGeneration():
			wrong = append(wrong, fmt.Sprintf("%s has generation %d and a status of generation %d", name, live.GetGeneration(), observed))
		}
	}
	copies, err := w.copies(ctx)
	if err != nil {
		wrong = append(wrong, err.Error())
	}
	for _, c := range copies {
		w.checks++
		if slices.Contains(w.gone, types.UID(c.GetLabels()[mirrorcontroller.MirrorUIDLabel])) {
			wrong = append(wrong, fmt.Sprintf("the copy %s/%s of a deleted mirror is left", c.GetNamespace(), c.GetName()))
		}
	}
	slices.Sort(wrong)
	return wrong
}
