package reconcile

import (
	"strings"
	"testing"

	"github.com/go-logr/logr/funcr"
	"github.com/prometheus/client_golang/prometheus"
)

func TestRegisterIn_LogsAMetricItCannotRegister(t *testing.T) {
	reg := prometheus.NewRegistry()
	// Another collector holds the name with other labels.
	reg.MustRegister(prometheus.NewCounterVec(prometheus.CounterOpts{Name: cleanupsSkippedMetric, Help: "someone else's"}, []string{"namespace"}))
	var logged []string
	logger := funcr.New(func(_, args string) { logged = append(logged, args) }, funcr.Options{})

	registerIn(reg, logger)

	if len(logged) != 1 || !strings.Contains(logged[0], cleanupsSkippedMetric) {
		t.Errorf("log lines = %q, want one that names %s", logged, cleanupsSkippedMetric)
	}
}

func TestRegisterIn_LogsNothingWhenEveryMetricIsRegistered(t *testing.T) {
	var logged []string
	logger := funcr.New(func(_, args string) { logged = append(logged, args) }, funcr.Options{})

	registerIn(prometheus.NewRegistry(), logger)

	if len(logged) != 0 {
		t.Errorf("log lines = %q, want none", logged)
	}
}
