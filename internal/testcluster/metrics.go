package testcluster

import (
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// MetricSum adds up every series of a metric in controller-runtime's registry that belongs to
// controller: those labelled controller=<controller>, or name=<controller> as the work queue's
// are. Counters and gauges both count.
func MetricSum(t testing.TB, name, controller string) float64 {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatalf("gathering metrics: %v", err)
	}
	sum := 0.0
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if (l.GetName() == "controller" || l.GetName() == "name") && l.GetValue() == controller {
					sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
					break
				}
			}
		}
	}
	return sum
}
