package reconcile

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/ssakit/ssakit/pkg/ssa"
)

// Event reasons, as `kubectl describe` shows them.
const (
	// ReasonCleanupFailed is a Warning: the cleanup returned an error and will be retried with
	// backoff; the finalizer stays.
	ReasonCleanupFailed = "CleanupFailed"
	// ReasonCleanupSucceeded is Normal: the cleanup is done and the step's removal of the
	// finalizer succeeded, after this process announced that the cleanup was not done
	// (ReasonCleanupWaiting, ReasonCleanupFailed). Once a removal was blocked
	// (ReasonFinalizerBlocked), the end is not announced: the co-owners' own apply usually
	// releases the finalizer, and the step cannot tell its removal from theirs (one that finds
	// the object gone succeeds too). A process that starts after the announcement (a restart, a
	// new leader) does not know of it. A cleanup done at its first attempt is announced by no
	// event: the object's disappearance, the "Finalizer removed" log line and
	// ssakit_finalizer_operations_total say it, and an event per deletion would cost the API
	// server a write for each (see docs/bench.md).
	ReasonCleanupSucceeded = "CleanupSucceeded"
	// ReasonFinalizerBlocked is a Warning: the cleanup is done but the finalizer stays, because
	// other field managers also own it (see ssa.CoOwnedError).
	ReasonFinalizerBlocked = "FinalizerBlocked"
	// ReasonCleanupSkipped is a Warning: the step saw the object live without the finalizer and
	// tried to add it, and the server refused because deletion had started (someone removed the
	// finalizer, or the object was deleted right after it was created), so the cleanup will not
	// run; whatever the controller made for the object must be released by hand. An object the
	// step first sees already terminating without the finalizer is left alone silently, as after
	// the step's own removal.
	ReasonCleanupSkipped = "CleanupSkipped"
	// ReasonCleanupWaiting is Normal: the cleanup has started but is not done (it returned a
	// Result with a RequeueAfter); the finalizer stays. It is emitted when the waiting starts,
	// not on every look.
	ReasonCleanupWaiting = "CleanupWaiting"
	// ReasonFinalizerTakenOver is Normal: the finalizer was taken over from legacy field
	// managers (TakeOverLegacy in the step's ssa.FinalizerOptions), or a former name of it
	// (FormerNames) is about to be released, so the controller alone owns it now. Once per
	// migrated object, and once more for a rename.
	ReasonFinalizerTakenOver = "FinalizerTakenOver"
)

// Outcome is how the finalizer step ended for one object; see Step.Handle.
type Outcome int

const (
	// Proceed means the object lives and carries the finalizer: the caller goes on with its
	// reconcile.
	Proceed Outcome = iota
	// Waiting means the object is terminating and its cleanup is not done yet: the finalizer
	// stays, and the caller returns the Result, which looks at the object again later.
	Waiting
	// Released means the cleanup is done and the finalizer was removed, by this call or an
	// earlier one for the same object (whose copy is then stale).
	Released
	// Gone means an add or removal found that the object no longer exists, or that another
	// object now holds its name: nothing is left to do for it.
	Gone
	// NotHeld means the object is terminating without the finalizer, or is found gone when the
	// finalizer is checked, so there is nothing of the step's to do: the finalizer was removed
	// before (by this controller or by someone else), or deletion started while it was missing
	// and the cleanup cannot run (ReasonCleanupSkipped).
	NotHeld
	// Failed means the step failed: the error says how, and the finalizer stays where it was.
	Failed
)

// String implements fmt.Stringer.
func (o Outcome) String() string {
	switch o {
	case Proceed:
		return "Proceed"
	case Waiting:
		return "Waiting"
	case Released:
		return "Released"
	case Gone:
		return "Gone"
	case NotHeld:
		return "NotHeld"
	case Failed:
		return "Failed"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// Step is the finalizer step of a reconcile on its own, for a reconciler that keeps its shape and
// calls Handle at its top. New builds a whole reconciler around it. Such a reconciler passes the
// Result and error of its own work (after Handle said Proceed) through a StaleRetry, as New's
// does, so that a stale copy is retried soon and without an error log; the step does so itself
// for a stale copy its cleanup meets.
//
// The step's log lines go to the context's logger, which in a controller-runtime reconcile names
// the object already; the step adds the finalizer's name.
type Step struct {
	controller string
	finalizer  *ssa.Finalizer
	recorder   events.EventRecorder
	cleanedUp  recentUIDs // cleaned up and released by this step
	waiting    recentUIDs // whose cleanup said it is not done yet
	// announced holds the objects whose cleanup an event said is not done (waiting, failed), so
	// that its end is announced too; blocked, those whose removal other managers blocked, whose
	// end is not.
	announced recentUIDs
	blocked   recentUIDs
	stale     StaleRetry // the stale copies the cleanups met
	// removing holds the objects whose removal this step sent without an answer of success: the
	// removal may have been written all the same, or the co-owners that blocked it may have let
	// go since, so their next cleanup reads the live object.
	removing recentUIDs
	// elected, with leader election, proves a cached copy fresh enough to clean up without the
	// live read; nil without.
	elected *electedRevision
}

// StepOptions configure a Step.
type StepOptions struct {
	// FinalizerOptions are passed to ssa.NewFinalizer. Its APIReader is required: mgr.GetAPIReader() with
	// a controller-runtime manager. A cached reader would defeat its purpose (checking the live
	// object before a cleanup) and start a metadata informer of its own. Its OnTakeOver, if any,
	// is called after the step has counted, logged and announced the takeover.
	FinalizerOptions ssa.FinalizerOptions
	// Recorder emits the events; nil emits none. With a manager: mgr.GetEventRecorder(controller).
	Recorder events.EventRecorder
	// LeaderElection says that the manager elects a leader (ctrl.Options.LeaderElection is true)
	// and that Handle runs in a controller that waits for the election, as controller-runtime's
	// controllers do unless their NeedLeaderElection option is false. A replica that is not the
	// leader then writes nothing, and one that lost the lease stops writing before another can
	// take it (controller-runtime's RenewDeadline is shorter than its LeaseDuration), so every
	// finalizer removal by an earlier leader is older than this process's election. The live
	// read before a cleanup is then skipped for a cached copy that is at least as new as the
	// revision read after the election (one List of the kind, Limit 1, per process): such a copy
	// has seen every earlier leader's removal. Default false: the live read is made before every
	// cleanup, since a process without leader election cannot know that it is alone (a
	// Deployment's rolling update runs the old Pod and the new one side by side).
	//
	// Set it only when every release that runs this finalizer elects its leader on the same Lease
	// (the same LeaderElectionID and namespace): a release that changes the Lease runs beside
	// the old one during a rolling update, as without leader election. Leader election is not
	// fencing: a removal an old leader sent just before it stopped can reach the API server late,
	// after the new leader's revision, and its cleanup then runs again, as the cleanup's contract
	// (idempotent) allows.
	LeaderElection bool
}

// NewStep declares finalizer for controller, owned by the field manager
// ssa.FinalizerFieldOwner(controller, finalizer) unless opts.FinalizerOptions.FieldOwner says otherwise
// (see ssa.NewFinalizer), and applied through c. The name is checked: an invalid one is an
// *ssa.InvalidNameError.
func NewStep(c client.Client, controller, finalizer string, opts StepOptions) (*Step, error) {
	if opts.FinalizerOptions.APIReader == nil {
		return nil, fmt.Errorf("finalizer step %q: StepOptions.FinalizerOptions.APIReader is required; pass mgr.GetAPIReader()", finalizer)
	}
	registerMetrics()
	s := &Step{controller: controller, recorder: opts.Recorder}
	fopts := opts.FinalizerOptions
	fopts.OnTakeOver = func(ctx context.Context, obj client.Object, t ssa.TakeOver) {
		s.tookOver(ctx, obj, t)
		if opts.FinalizerOptions.OnTakeOver != nil {
			opts.FinalizerOptions.OnTakeOver(ctx, obj, t)
		}
	}
	f, err := ssa.NewFinalizer(&applyCounter{Client: c, controller: controller}, controller, finalizer, fopts)
	if err != nil {
		return nil, err
	}
	s.finalizer = f
	if opts.LeaderElection {
		s.elected = &electedRevision{reader: opts.FinalizerOptions.APIReader, scheme: c.Scheme()}
	}
	return s, nil
}

// tookOver counts, logs and announces a takeover from legacy field managers, or of former names.
func (s *Step) tookOver(ctx context.Context, obj client.Object, t ssa.TakeOver) {
	s.count(operationTakeOver, resultApplied)
	owners := "no recorded owner (managedFields were reset)"
	if len(t.From) > 0 {
		owners = strings.Join(t.From, ", ")
	}
	log.FromContext(ctx).Info("Took finalizers over from other field managers", "finalizers", t.Finalizers, "from", t.From)
	next := ""
	if slices.ContainsFunc(t.Finalizers, func(name string) bool { return name != s.finalizer.Name() }) {
		next = "; its former names are removed next"
	}
	s.event(obj, corev1.EventTypeNormal, ReasonFinalizerTakenOver, "TakeOver", "Finalizers %s are now owned by field manager %s alone, taken over from %s%s",
		strings.Join(t.Finalizers, ", "), s.finalizer.FieldOwner(), owners, next)
}

// Finalizer returns the step's finalizer.
func (s *Step) Finalizer() *ssa.Finalizer { return s.finalizer }

// Handle runs the finalizer step for obj, as read at the start of a reconcile, and says how it
// ended:
//
//   - obj lives: the finalizer is added (no request when its manager already owns it): Proceed,
//     and the caller goes on with its reconcile. When the server's answer to the add shows that
//     deletion started after obj was read, Handle goes on as for a terminating object instead.
//   - obj is terminating and carries the finalizer: one uncached read of its metadata confirms
//     the finalizer is still there (a cache may lag behind a removal just made), cleanup runs,
//     then the finalizer is removed: Released. cleanup must be idempotent: it runs again if the
//     removal has to be retried. With StepOptions.LeaderElection the read is skipped when obj is
//     at least as new as a revision read after this process was elected, and this step has no
//     removal of obj whose outcome it does not know: obj then shows every earlier leader's
//     removal, and the step remembers its own.
//   - cleanup returns a Result with a positive RequeueAfter and no error: it has started but is
//     not done (an external resource still being deleted, say). Waiting: the finalizer stays, and
//     the caller returns the Result, so the object is looked at again after RequeueAfter. This is
//     not an error: no error log, no backoff, and one Normal ReasonCleanupWaiting event each time
//     a wait starts (in this process: a restarted controller announces it again).
//   - cleanup returns an error that wraps ssa.ErrStale and nothing else (a status write it made
//     on obj, refused because obj changed since it was read: a cache that lags): Waiting, quietly,
//     as StaleRetry says: a Result with a RequeueAfter of 100ms, doubling up to 1s, spread at
//     random, one log line at V(1), no event. The sixth stale copy in a row, and each next one
//     until the cleanup returns no error, is a failure as below.
//   - cleanup returns any other error: Failed, with the error; a Warning event, and the caller's
//     retry with backoff. So does any other non-zero Result (Requeue, deprecated, would be
//     retried with backoff; Priority alone, never): the error says to use RequeueAfter. The step
//     logs no line of its own for it: the caller returns the error, which controller-runtime
//     logs, once per attempt.
//   - obj is terminating without the finalizer, or, as the live read finds, no longer carries it
//     or no longer exists: NotHeld; there is nothing of the step's to do.
//   - an add or removal finds that obj no longer exists, or that another object holds its name:
//     Gone, without error. (A removal that finds obj gone cannot tell it from its own success and
//     says Released.)
//
// Whatever the outcome but Proceed, the caller returns the Result and the error. An error a retry
// cannot fix, such as a finalizer name the server refuses for the object's kind (a name without
// a path on a built-in type, row 15), is a reconcile.TerminalError.
//
// Several steps chain: call each one's Handle on the same obj (an add may replace it with the
// server's answer) and go on only when every one says Proceed and obj still carries every
// finalizer; a later step's answer can show an earlier one's finalizer gone since obj was read.
// Each step's cleanup runs on its own, so one that fails or waits holds up no other. New does all
// this for the finalizers given to it.
func (s *Step) Handle(ctx context.Context, obj client.Object, cleanup func(context.Context) (reconcile.Result, error)) (Outcome, reconcile.Result, error) {
	// controller-runtime's reconcile logger names the object already (its kind, namespace, name
	// and reconcileID): the step adds only what it knows of its own.
	logger := log.FromContext(ctx).WithValues("finalizer", s.finalizer.Name())
	ctx = log.IntoContext(ctx, logger)

	if s.cleanedUp.has(obj.GetUID()) {
		// This step cleaned obj up and released it: obj is a stale copy from a cache that has
		// not caught up. Whatever a reconcile built for it now would outlive it.
		logger.V(1).Info("Object was cleaned up and released by this controller; nothing left to do")
		return Released, reconcile.Result{}, nil
	}
	if obj.GetDeletionTimestamp().IsZero() {
		outcome, cleanUp, err := s.add(ctx, obj)
		if !cleanUp {
			return outcome, reconcile.Result{}, err
		}
	}
	held, err := s.held(ctx, obj)
	switch {
	case err != nil:
		return Failed, reconcile.Result{}, err
	case !held:
		s.waiting.remove(obj.GetUID())
		if blocked := s.blocked.take(obj.GetUID()); s.announced.take(obj.GetUID()) && s.removing.has(obj.GetUID()) && !blocked {
			// The step's last removal got no answer, and the finalizer is gone: most likely that
			// removal was written (as a removal that finds obj gone says Released).
			s.announceCleanupSucceeded(obj)
		}
		return NotHeld, reconcile.Result{}, nil
	}
	return s.cleanUp(ctx, obj, cleanup)
}

// add adds the finalizer to obj, read live, and says how the step ends, or that it must clean
// up instead: deletion turned out to be under way while the finalizer, or a former name of it,
// guards obj.
func (s *Step) add(ctx context.Context, obj client.Object) (outcome Outcome, cleanUp bool, err error) {
	sent, err := s.finalizer.Add(ctx, obj)
	switch {
	case err == nil:
		s.count("add", appliedOrNoop(sent))
		// The add replaced obj with the server's answer, which may show deletion under way: then
		// this reconcile must clean up, not build more.
		return Proceed, !obj.GetDeletionTimestamp().IsZero(), nil
	case errors.Is(err, ssa.ErrTerminating) && s.finalizer.IsOn(obj):
		// Deletion started after obj was read, and obj carries a former name of the finalizer
		// (ssa.FinalizerOptions.FormerNames), which still guards the object.
		return Proceed, true, nil
	case errors.Is(err, ssa.ErrTerminating):
		s.cleanupSkipped(ctx, obj, err)
		return NotHeld, false, nil
	}
	outcome, err = s.failed(ctx, "add", err)
	return outcome, false, err
}

// held reports whether the terminating obj still carries the finalizer, or a former name of it,
// on the API server. obj may come from a cache that has not seen a removal by an earlier process
// yet; one read of the live metadata keeps a finished cleanup from running again. This step's
// own removals need no read: Handle remembers them (cleanedUp), and removing holds those whose
// outcome it does not know. Under leader election, a copy at least as new as the revision read
// after the election has seen every earlier leader's removal (see electedRevision).
func (s *Step) held(ctx context.Context, obj client.Object) (bool, error) {
	if !s.finalizer.IsOn(obj) {
		return false, nil
	}
	if s.elected != nil && !s.removing.has(obj.GetUID()) && s.elected.covers(ctx, obj) {
		return true, nil
	}
	return s.finalizer.IsOnLive(ctx, obj)
}

// cleanUp runs cleanup for the terminating obj, which holds the finalizer, and releases the
// finalizer when it is done.
func (s *Step) cleanUp(ctx context.Context, obj client.Object, cleanup func(context.Context) (reconcile.Result, error)) (Outcome, reconcile.Result, error) {
	start := time.Now()
	result, err := cleanup(ctx)
	if err == nil && !result.IsZero() && result.RequeueAfter <= 0 {
		// controller-runtime would requeue such a Result with backoff (Requeue) or not at all
		// (Priority alone): neither is a wait.
		err = fmt.Errorf("the cleanup returned %+v: to wait, return a Result with a positive RequeueAfter; to fail, an error", result)
		result = reconcile.Result{}
	}
	if err != nil {
		// A stale copy, and nothing else: a write the cleanup made (its progress in the status,
		// say) was refused because obj changed since it was read. A cache that lags, retried soon
		// and quietly, as StaleRetry says; a failure, as any other error, when it keeps on.
		retry, stillErr := s.stale.Handle(ctx, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(obj)}, reconcile.Result{}, err)
		if stillErr == nil {
			cleanupDuration.WithLabelValues(s.controller, resultWaiting).Observe(time.Since(start).Seconds())
			return Waiting, retry, nil
		}
		err = stillErr
	} else {
		s.stale.forget(client.ObjectKeyFromObject(obj))
	}
	switch {
	case err != nil:
		s.waiting.remove(obj.GetUID())
		s.announced.add(obj.GetUID(), waitingFor)
		cleanupDuration.WithLabelValues(s.controller, resultFailed).Observe(time.Since(start).Seconds())
		// No log line: the error is returned, and controller-runtime logs it, once per attempt.
		s.event(obj, corev1.EventTypeWarning, ReasonCleanupFailed, "Cleanup", "Cleanup before removing finalizer %s failed, will retry: %v", s.finalizer.Name(), err)
		return Failed, reconcile.Result{}, fmt.Errorf("cleanup before removing finalizer %q: %w", s.finalizer.Name(), err)
	case !result.IsZero():
		cleanupDuration.WithLabelValues(s.controller, resultWaiting).Observe(time.Since(start).Seconds())
		log.FromContext(ctx).V(1).Info("Cleanup not done yet; the finalizer stays", "requeueAfter", result.RequeueAfter)
		// Remembered past the next look, however far off it is.
		remember := max(waitingFor, 2*result.RequeueAfter)
		s.announced.add(obj.GetUID(), remember)
		if s.waiting.add(obj.GetUID(), remember) {
			s.event(obj, corev1.EventTypeNormal, ReasonCleanupWaiting, "Cleanup", "Cleanup before removing finalizer %s is not done yet; checking again in %s", s.finalizer.Name(), result.RequeueAfter)
		}
		return Waiting, result, nil
	}
	s.waiting.remove(obj.GetUID())
	cleanupDuration.WithLabelValues(s.controller, resultOK).Observe(time.Since(start).Seconds())
	uid := obj.GetUID() // remove replaces obj with the answer
	outcome, err := s.remove(ctx, obj)
	s.removed(obj, uid, outcome)
	return outcome, reconcile.Result{}, err
}

// removed announces the end of obj's cleanup when the step's removal succeeded after an event
// said the cleanup was not done: a person who read that one hears the end. Not after a removal
// other managers blocked: their own apply usually released the finalizer since.
func (s *Step) removed(obj client.Object, uid types.UID, outcome Outcome) {
	switch {
	case outcome == Released:
		if blocked := s.blocked.take(uid); s.announced.take(uid) && !blocked {
			s.announceCleanupSucceeded(obj)
		}
	case outcome == Gone:
		s.announced.remove(uid)
		s.blocked.remove(uid)
	case outcome == Failed && s.announced.has(uid):
		// A removal that keeps failing (an API server away for long) keeps its announcement.
		s.announced.add(uid, waitingFor)
	}
}

// announceCleanupSucceeded emits ReasonCleanupSucceeded about obj.
func (s *Step) announceCleanupSucceeded(obj client.Object) {
	s.event(obj, corev1.EventTypeNormal, ReasonCleanupSucceeded, "Cleanup", "Cleanup done, finalizer %s removed", s.finalizer.Name())
}

// waitingFor is how long after its last look a waiting cleanup is remembered, so that its waiting
// is announced once: longer than the longest backoff of controller-runtime's default rate limiter
// (1000s), which schedules the looks when another finalizer's cleanup fails meanwhile.
const waitingFor = time.Hour

// cleanupSkipped reports an add the server refused because deletion has started and the
// finalizer is not on the object. Either the object was deleted before this controller first saw
// it, or someone stripped the finalizer after Reconcile had created things for it: the cleanup can
// no longer run, and a person must hear of it.
func (s *Step) cleanupSkipped(ctx context.Context, obj client.Object, err error) {
	s.count("add", resultTerminating)
	cleanupsSkipped.WithLabelValues(s.controller).Inc()
	log.FromContext(ctx).Info("Object is being deleted without the finalizer; its cleanup will not run", "reason", err.Error())
	s.event(obj, corev1.EventTypeWarning, ReasonCleanupSkipped, "AddFinalizer",
		"Deletion started while finalizer %s was not on the object, so its cleanup will not run; if this controller created anything for the object, release it by hand", s.finalizer.Name())
}

func (s *Step) remove(ctx context.Context, obj client.Object) (Outcome, error) {
	uid := obj.GetUID() // Remove replaces obj with the answer
	s.removing.add(uid, recentFor)
	sent, err := s.finalizer.Remove(ctx, obj)
	if err == nil || errors.Is(err, ssa.ErrReplaced) {
		s.removing.remove(uid)
	}
	if errors.Is(err, ssa.ErrReplaced) {
		// The object that was cleaned up is gone; the one now under its name is another, with
		// reconciles of its own, and was not touched.
		s.count("remove", resultGone)
		log.FromContext(ctx).V(1).Info("Object was replaced under its name after its cleanup; nothing left to do")
		return Gone, nil
	}
	if err == nil {
		s.cleanedUp.add(uid, recentFor)
		s.count("remove", appliedOrNoop(sent))
		log.FromContext(ctx).Info("Finalizer removed")
		return Released, nil
	}
	if _, ok := errors.AsType[*ssa.CoOwnedError](err); ok {
		s.count("remove", resultCoOwned)
		// No log line: the error, which names the co-owners, is returned and logged by
		// controller-runtime, once per attempt.
		s.blocked.add(uid, waitingFor)
		s.event(obj, corev1.EventTypeWarning, ReasonFinalizerBlocked, "RemoveFinalizer", "%v", err)
		return Failed, err
	}
	if errors.Is(err, ssa.ErrNoManagedFields) {
		// The finalizer stays until the controller's client gets managedFields in its answers,
		// which takes a person: say so where they look.
		s.blocked.add(uid, waitingFor)
		s.event(obj, corev1.EventTypeWarning, ReasonFinalizerBlocked, "RemoveFinalizer", "%v", err)
	}
	return s.failed(ctx, "remove", err)
}

// failed classifies an error of the finalizer's apply: an object gone or replaced under its name
// ends the step quietly (the successor has reconciles of its own), a name the server refuses is
// terminal, the rest is retried.
func (s *Step) failed(ctx context.Context, operation string, err error) (Outcome, error) {
	switch {
	case errors.Is(err, ssa.ErrGone):
		s.count(operation, resultGone)
		log.FromContext(ctx).V(1).Info("Object is gone; nothing left to do")
		return Gone, nil
	case errors.Is(err, ssa.ErrReplaced):
		s.count(operation, resultGone)
		log.FromContext(ctx).V(1).Info("Object was replaced under its name; nothing left to do for the one read", "reason", err.Error())
		return Gone, nil
	}
	if _, ok := errors.AsType[*ssa.InvalidNameError](err); ok {
		s.count(operation, resultRejected)
		return Failed, reconcile.TerminalError(err)
	}
	s.count(operation, resultError)
	return Failed, err
}

func appliedOrNoop(sent bool) string {
	if sent {
		return resultApplied
	}
	return resultNoop
}

func (s *Step) count(operation, result string) {
	finalizerOperations.WithLabelValues(s.controller, operation, result).Inc()
}

func (s *Step) event(obj runtime.Object, eventType, reason, action, note string, args ...any) {
	if s.recorder != nil {
		s.recorder.Eventf(obj, nil, eventType, reason, action, note, args...)
	}
}

// recentUIDs remembers object UIDs for a while: the objects a step cleaned up and released, so
// that a stale cached copy of one (not yet terminating in the cache) does not read as a finalizer
// someone stripped; the objects whose cleanup is waiting, so that the waiting is announced once;
// those whose removal has no answer yet; and those whose cleanup an event said was not done, so
// that its end is announced. Entries expire, so objects that disappear some other way are
// forgotten.
type recentUIDs struct {
	mu      sync.Mutex
	expires map[types.UID]time.Time
	pruned  time.Time // when expires was last pruned
}

// recentFor is the shortest time a UID is remembered: far longer than a cache lags.
const recentFor = 10 * time.Minute

// add remembers uid for at least recentFor, or for d when longer, and reports whether it was new.
func (r *recentUIDs) add(uid types.UID, d time.Duration) (added bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	if r.expires == nil {
		r.expires = map[types.UID]time.Time{}
	}
	r.prune(now)
	at, known := r.expires[uid]
	r.expires[uid] = now.Add(max(d, recentFor))
	return !known || now.After(at)
}

// pruneEvery is how often, at most, prune looks through every UID for those that expired: on every
// call, a burst of cleanups (a namespace of thousands of objects deleted) would cost each one as
// many steps as there are UIDs remembered, quadratic in all. An expired UID not pruned yet reads as
// unknown all the same.
const pruneEvery = time.Minute

// prune forgets the UIDs that expired, unless it did less than pruneEvery ago; r.mu is held.
func (r *recentUIDs) prune(now time.Time) {
	if now.Sub(r.pruned) < pruneEvery {
		return
	}
	r.pruned = now
	for uid, at := range r.expires {
		if now.After(at) {
			delete(r.expires, uid)
		}
	}
}

func (r *recentUIDs) has(uid types.UID) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	at, ok := r.expires[uid]
	return ok && !time.Now().After(at)
}

// take forgets uid and reports whether it was remembered, in one step: of two calls at once for
// the same uid, one says true.
func (r *recentUIDs) take(uid types.UID) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	at, ok := r.expires[uid]
	delete(r.expires, uid)
	return ok && !time.Now().After(at)
}

func (r *recentUIDs) remove(uid types.UID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.expires, uid)
	r.prune(time.Now())
}

// applyCounter counts the apply requests the finalizer sends (ssakit_apply_requests_total).
type applyCounter struct {
	client.Client
	controller string
}

// Apply implements client.Client.
func (c *applyCounter) Apply(ctx context.Context, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
	applyRequests.WithLabelValues(c.controller, "finalizer").Inc()
	return c.Client.Apply(ctx, obj, opts...)
}
