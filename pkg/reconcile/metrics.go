package reconcile

import (
	"sync"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Metric names, in controller-runtime's registry (served on the manager's metrics endpoint). The
// package doc lists them for dashboards and alerts: the names, not Go identifiers, are what users
// depend on.
const (
	// finalizerOperationsMetric counts finalizer operations by controller, operation (add,
	// remove) and result.
	finalizerOperationsMetric = "ssakit_finalizer_operations_total"
	// cleanupDurationMetric observes how long cleanups took, by controller and result.
	cleanupDurationMetric = "ssakit_cleanup_duration_seconds"
	// applyRequestsMetric counts the apply requests sent, by controller and target (finalizer,
	// status).
	applyRequestsMetric = "ssakit_apply_requests_total"
	// cleanupsSkippedMetric counts objects whose deletion started without the controller's
	// finalizer on them, so that their cleanup did not run, by controller. Alert on any increase.
	cleanupsSkippedMetric = "ssakit_cleanups_skipped_total"
)

// operationTakeOver is the "operation" label of finalizerOperationsMetric for a takeover from
// legacy field managers (ssa.FinalizerOptions.TakeOverLegacy), or of former names; add and
// remove are the others.
const operationTakeOver = "takeover"

// Results of a finalizer operation, the "result" label of finalizerOperationsMetric.
const (
	resultApplied     = "applied"     // an apply was sent and did what was asked
	resultNoop        = "noop"        // nothing to send: already as wanted
	resultGone        = "gone"        // the object no longer exists, or was replaced under its name
	resultCoOwned     = "co_owned"    // removal blocked: other managers own the finalizer
	resultRejected    = "rejected"    // terminal: a finalizer name the server refuses
	resultTerminating = "terminating" // add refused: deletion started without the finalizer
	resultError       = "error"       // retried
	resultOK          = "succeeded"   // cleanup succeeded
	resultFailed      = "failed"      // cleanup failed
	resultWaiting     = "waiting"     // cleanup not done yet, looked at again after its RequeueAfter
)

var (
	finalizerOperations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: finalizerOperationsMetric,
		Help: "Finalizer operations by controller, operation (add, remove) and result.",
	}, []string{"controller", "operation", "result"})
	cleanupDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    cleanupDurationMetric,
		Help:    "Duration of cleanups run before a finalizer is removed, by controller and result.",
		Buckets: prometheus.ExponentialBuckets(0.005, 4, 8),
	}, []string{"controller", "result"})
	applyRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: applyRequestsMetric,
		Help: "Server-Side Apply requests sent, by controller and target (finalizer, status).",
	}, []string{"controller", "target"})

	cleanupsSkipped = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: cleanupsSkippedMetric,
		Help: "Objects whose deletion started without the controller's finalizer, so that their cleanup did not run, by controller.",
	}, []string{"controller"})
	registerOnce sync.Once
)

// registerMetrics adds the metrics to controller-runtime's registry once per process.
func registerMetrics() {
	registerOnce.Do(func() {
		registerIn(metrics.Registry, log.Log.WithName("ssakit"))
	})
}

// registerIn registers the metrics with reg. A metric reg refuses (a name already registered by
// another collector, such as another copy of this package) is not served; the error is logged, so
// that a dashboard showing nothing can be traced to it. With controller-runtime's logger, the
// message is kept only once ctrl.SetLogger has been called, as in any controller's main before
// it builds its reconcilers.
func registerIn(reg prometheus.Registerer, logger logr.Logger) {
	for _, c := range []prometheus.Collector{finalizerOperations, cleanupDuration, applyRequests, cleanupsSkipped} {
		if err := reg.Register(c); err != nil {
			logger.Error(err, "A metric of pkg/reconcile could not be registered; its series will not be served. Is another collector registered under its name?")
		}
	}
}
