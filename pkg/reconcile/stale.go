package reconcile

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/ssakit/ssakit/pkg/ssa"
)

// StaleRetry turns the ssa.ErrStale of a reconcile into a quiet retry: a Result with a short
// RequeueAfter, no error, and one log line at V(1), as long as the stale copies of an object are
// few in a row. New's Reconciler does this for its Handler; an operator that calls Step.Handle
// from a reconciler of its own keeps a StaleRetry in it and passes its own work's Result and error
// through Handle. Its zero value is ready to use; one StaleRetry serves every object of a
// controller, and is safe for concurrent use.
//
// A stale copy is the normal lot of a controller that reads from a cache: the reconcile that the
// create of an owned child brings (Owns) often reads its object from before the controller's own
// status write, and StatusApplier.Apply, guarded by the resourceVersion, is refused with a 409
// that writes nothing. The retry must not wait for an event: under
// predicate.GenerationChangedPredicate the controller's own status write brings none, so without
// a requeue the status would stay as the stale copy left it. Returning the error would requeue it,
// but controller-runtime logs every such error with a stack trace.
//
// The retries back off per object, from 100ms, doubling, to at most a second, each delay spread at
// random up to half as long again (apimachinery's wait.Jitter), and are bounded: five in a row
// wait 2.5s to 3.75s in all, longer than a healthy cache lags, so the sixth stale copy of an
// object in a row is returned as an error, and so is every next one until a reconcile of the
// object succeeds: a copy that stays stale is another writer that keeps changing the object, to
// be logged and backed off by controller-runtime's rate limiter. A reconcile that ends without
// error resets the count; an object that is not seen stale again for an hour is forgotten (within
// a minute after that: the expired are swept out at most once a minute, so that a burst of stale
// copies of many objects costs each one the same).
//
// Result.Requeue is not used for the retry: controller-runtime deprecates it, and it would run the
// retry on the rate limiter's schedule (5ms first with the default limiter, before a cache has
// caught up), counted with the object's failures.
type StaleRetry struct {
	mu      sync.Mutex
	objects map[types.NamespacedName]staleRun
	swept   time.Time        // when objects was last swept of the runs forgotten
	now     func() time.Time // time.Now unless a test says otherwise
}

// staleRun is how many times in a row an object's reconcile met a stale copy, and when it last
// did.
type staleRun struct {
	count int
	last  time.Time
}

// maxStaleRetries is how many stale copies of one object in a row are retried quietly. A cache
// catches up with the controller's own write within milliseconds, seconds at worst on a loaded
// cluster, and the five retries wait 2.5s or more in all: a sixth stale copy in a row is no longer a cache
// that lags but another writer that keeps changing the object (two controllers fighting over it,
// say), which a person must see and controller-runtime's rate limiter must slow down.
const maxStaleRetries = 5

// The delays of the quiet retries: the first after staleRetryFirst, each next one twice the one
// before, never more than staleRetryMax (100ms, 200ms, 400ms, 800ms, 1s), before staleJitter.
const (
	staleRetryFirst = 100 * time.Millisecond
	staleRetryMax   = time.Second
)

// staleJitter spreads a quiet retry's delay over [d, 1.5d). Without it, a retry of an object that
// another writer changes on a period (an annotation every second, say) comes back at the same
// point of that period each time, since every delay is a multiple of 100ms: if the first
// reconcile's write met the other writer's, each retry may meet it again. A variable so that the
// package's tests can read exact delays.
var staleJitter = func(d time.Duration) time.Duration { return wait.Jitter(d, 0.5) }

// staleForgetAfter is how long an object's run of stale copies is remembered after its last one:
// longer than the longest backoff of controller-runtime's default rate limiter (1000s), so that
// an object whose conflict persists is not forgotten between two of its backed-off retries, which
// would start its quiet retries, and the rate limiter's backoff, over again.
const staleForgetAfter = time.Hour

// staleSweepEvery is how often, at most, record looks through every object remembered for those
// to forget. Sweeping on every stale copy would cost each one as many steps as there are objects
// remembered, under the one lock of a controller: quadratic in a burst, 10s for a stale copy each
// of 40,000 objects. Once a minute keeps the objects remembered to those seen stale within the
// last hour and a minute, at a cost spread thin.
const staleSweepEvery = time.Minute

// Handle returns what the reconcile of req returns when its own work ended with result and err.
// An err that wraps ssa.ErrStale and nothing else, and is not a reconcile.TerminalError, is
// retried quietly:
// Result{RequeueAfter: d} (d as the type's doc says) and no error, with one V(1) log line, up to five times in a row; the
// sixth stale copy in a row, and each next one, is returned, wrapped with the count. Any other err is returned as it
// is, with result. No error: result is returned and req's count is reset.
//
// An err that joins a stale copy with another error (errors.Join, or fmt.Errorf with two %w) is
// returned as it is: a failure must not wait behind the quiet retries of a stale copy met with it.
//
// Give it the error of the reconcile's own work, not that of Step.Handle, which is the step's to
// report: return that as it is.
func (s *StaleRetry) Handle(ctx context.Context, req reconcile.Request, result reconcile.Result, err error) (reconcile.Result, error) {
	switch {
	case err == nil:
		s.forget(req.NamespacedName)
		return result, nil
	case !onlyStale(err) || errors.Is(err, reconcile.TerminalError(nil)):
		return result, err
	}
	n := s.record(req.NamespacedName)
	if n > maxStaleRetries {
		return reconcile.Result{}, fmt.Errorf("stale %d times in a row, more than a lagging cache explains: does another writer keep changing the object? %w", n, err)
	}
	delay := staleJitter(min(staleRetryFirst<<(n-1), staleRetryMax))
	log.FromContext(ctx).V(1).Info("Object changed since it was read; reconciling it again", "retry", n, "requeueAfter", delay, "reason", err.Error())
	return reconcile.Result{RequeueAfter: delay}, nil
}

// onlyStale reports whether err is a stale copy and nothing else: it wraps ssa.ErrStale, and each
// error it joins (errors.Join, fmt.Errorf with several %w) does too. An *ssa.ObjectError, which
// unwraps to its reason and the API server's answer, is one error, stale when its reason is.
func onlyStale(err error) bool {
	if err == nil {
		return false
	}
	if err == ssa.ErrStale { //nolint:errorlint // this node of the tree, not one it wraps
		return true
	}
	if objErr, ok := err.(*ssa.ObjectError); ok { //nolint:errorlint // this node of the tree, not one it wraps
		return errors.Is(objErr.Reason, ssa.ErrStale)
	}
	switch u := err.(type) { //nolint:errorlint // the wrapping of this node, not of one it wraps
	case interface{ Unwrap() error }:
		return onlyStale(u.Unwrap())
	case interface{ Unwrap() []error }:
		joined := 0
		for _, e := range u.Unwrap() {
			if e == nil {
				continue
			}
			if !onlyStale(e) {
				return false
			}
			joined++
		}
		return joined > 0
	}
	return false
}

// record counts one more stale copy of key and returns how many there were in a row.
func (s *StaleRetry) record(key types.NamespacedName) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock()
	if s.objects == nil {
		s.objects = map[types.NamespacedName]staleRun{}
	}
	// Forget the objects not seen stale for long, which include those that disappeared: the
	// map holds only the objects whose reconciles met a stale copy lately.
	if now.Sub(s.swept) >= staleSweepEvery {
		s.swept = now
		for k, run := range s.objects {
			if now.Sub(run.last) > staleForgetAfter {
				delete(s.objects, k)
			}
		}
	}
	run := s.objects[key]
	if now.Sub(run.last) > staleForgetAfter {
		run = staleRun{} // forgotten, though not swept out yet
	}
	run.count++
	run.last = now
	s.objects[key] = run
	return run.count
}

// forget resets key's count: its reconcile succeeded, or it no longer exists.
func (s *StaleRetry) forget(key types.NamespacedName) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.objects, key)
}

func (s *StaleRetry) clock() time.Time {
	if s.now != nil {
		return s.now()
	}
	return time.Now()
}
