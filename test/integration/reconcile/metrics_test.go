package reconcile

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"sigs.k8s.io/controller-runtime/pkg/manager"
)

// scrape reads the manager's metrics endpoint and returns the samples of the named metrics whose
// controller label is controller, as `name{labels} value` lines without the controller label; a
// histogram gives its sample count.
func scrape(addr, controller string, names ...string) ([]string, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, name := range names {
		family, ok := families[name]
		if !ok {
			continue
		}
		for _, m := range family.GetMetric() {
			var labels []string
			mine := false
			for _, l := range m.GetLabel() {
				if l.GetName() == "controller" {
					mine = l.GetValue() == controller
					continue
				}
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			if !mine {
				continue
			}
			sample, value := name, m.GetCounter().GetValue()
			if h := m.GetHistogram(); h != nil {
				sample, value = name+"_count", float64(h.GetSampleCount())
			}
			out = append(out, sample+"{"+strings.Join(labels, ",")+"} "+strconv.FormatFloat(value, 'g', -1, 64))
		}
	}
	return out, nil
}

// The metrics on the manager's endpoint count what the test saw on the wire: every apply request
// of the finalizer and of status (a stale cache can cause a repeat, which is counted too), one
// successful cleanup, one add and one remove that applied, and no errors.
func TestMetrics_CountWhatTheLifecycleDid(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	name := controllerName(ns)
	addr := freeAddress(t)
	cfg, rec := cluster.RecordingConfig()
	h := &widgetHandler{}
	startManager(t, ns, managerOptions{config: cfg, metricsAddr: addr}, func(mgr manager.Manager) error {
		return addWidgetController(mgr, name, cleanupFinalizer, h)
	})
	w := createWidget(t, ns, "counted")
	g.Eventually(observedGeneration(t, w)).WithTimeout(eventually).WithPolling(poll).Should(Equal(int64(1)))
	g.Expect(cluster.Client.Delete(t.Context(), w)).To(Succeed())
	g.Eventually(finalizersOf(t.Context(), w)).WithTimeout(eventually).WithPolling(poll).Should(Equal([]string{gone}))
	var finalizerApplies, statusApplies int
	count := func() int {
		finalizerApplies, statusApplies = 0, 0
		for _, r := range rec.Requests() {
			switch {
			case r.Method == http.MethodPatch && strings.HasSuffix(r.Path, "/widgets/counted"):
				finalizerApplies++
			case r.Method == http.MethodPatch && strings.HasSuffix(r.Path, "/widgets/counted/status"):
				statusApplies++
			}
		}
		return finalizerApplies
	}
	// The transport records a request once its answer is read: the removal can be seen done a
	// moment before the controller's client has recorded it.
	g.Eventually(count).WithTimeout(eventually).WithPolling(poll).Should(BeNumerically(">=", 2), "an add and a remove")
	g.Expect(statusApplies).To(BeNumerically(">=", 1))

	g.Eventually(func() ([]string, error) {
		return scrape(addr, name, "ssakit_apply_requests_total", "ssakit_cleanup_duration_seconds")
	}).WithTimeout(eventually).Should(ConsistOf(
		fmt.Sprintf("ssakit_apply_requests_total{target=finalizer} %d", finalizerApplies),
		fmt.Sprintf("ssakit_apply_requests_total{target=status} %d", statusApplies),
		"ssakit_cleanup_duration_seconds_count{result=succeeded} 1",
	))
	samples, err := scrape(addr, name, "ssakit_finalizer_operations_total")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(samples).To(ContainElements(
		"ssakit_finalizer_operations_total{operation=add,result=applied} "+strconv.Itoa(finalizerApplies-1),
		"ssakit_finalizer_operations_total{operation=remove,result=applied} 1",
	))
	g.Expect(samples).NotTo(ContainElement(ContainSubstring("result=error")))
}
