package operator

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mirrorv1alpha1 "github.com/ssakit/ssakit/example/operator/api/v1alpha1"
	mirrorac "github.com/ssakit/ssakit/example/operator/api/v1alpha1/applyconfiguration/api/v1alpha1"
	"github.com/ssakit/ssakit/example/operator/controller"
	"github.com/ssakit/ssakit/internal/testcluster"
)

// steadyMirrors is how many unchanged mirrors the steady-state test reconciles.
const steadyMirrors = 50

// A reconcile of an unchanged mirror sends no write: not for the finalizer (its manager's entry
// proves it owned), not for status (unchanged, proven by ssa.MayChange), not for the copies
// (likewise), and no event. Counted at the operator's HTTP transport.
func TestSteadyState_ReconcilingUnchangedMirrorsSendsNoWrite(t *testing.T) {
	g := NewWithT(t)
	home := cluster.Namespace(t)
	first, second := accepting(t, home), accepting(t, home)
	var mirrors []*mirrorv1alpha1.ConfigMirror
	for i := range steadyMirrors {
		source := fmt.Sprintf("settings-%02d", i)
		applySourceNamed(t, home, source, map[string]string{"n": fmt.Sprint(i)})
		mirrors = append(mirrors, applyMirrorNamed(t, home, "mirror-"+source, source, first, second))
	}
	for _, mirror := range mirrors {
		g.Eventually(readiness(t.Context(), mirror)).WithTimeout(eventually).WithPolling(poll).
			Should(Equal([]string{first + " Synced", second + " Synced", "Ready True Synced"}), mirror.Name)
	}
	waitIdle(t)
	operatorRequests.Reset()
	reconciled := reconciles(t)

	for _, mirror := range mirrors { // an annotation the operator does not care about: a reconcile each
		touch := mirrorac.ConfigMirror(mirror.Name, home).WithAnnotations(map[string]string{"example.com/touched": "yes"})
		g.Expect(user.Apply(t.Context(), touch, client.FieldOwner("kubectl-annotate"))).To(Succeed())
	}
	g.Eventually(func() float64 { return reconciles(t) - reconciled }).WithTimeout(eventually).WithPolling(poll).
		Should(BeNumerically(">=", steadyMirrors), "reconciles after the touch")
	waitIdle(t)

	g.Expect(writesIn(operatorRequests, home, first, second)).To(BeEmpty(), "writes of a steady-state resync of %d mirrors", steadyMirrors)
}

// writesIn returns the recorded writes to objects in namespaces.
func writesIn(rec *testcluster.Recorder, namespaces ...string) []string {
	var out []string
	for _, w := range rec.Writes() {
		if slices.ContainsFunc(namespaces, func(ns string) bool { return strings.Contains(w.Path, "/namespaces/"+ns+"/") }) {
			out = append(out, fmt.Sprintf("%s %s %d", w.Method, w.Path, w.StatusCode))
		}
	}
	return out
}

// reconciles is how many reconciles the operator's controller has finished.
func reconciles(t *testing.T) float64 {
	return testcluster.MetricSum(t, "controller_runtime_reconcile_total", controller.Name)
}

// waitIdle waits until the operator's work queue has been empty and no worker busy for a second.
func waitIdle(t *testing.T) {
	t.Helper()
	idle := func() bool {
		return testcluster.MetricSum(t, "workqueue_depth", controller.Name) == 0 && testcluster.MetricSum(t, "controller_runtime_active_workers", controller.Name) == 0
	}
	g := NewWithT(t)
	g.Eventually(idle).WithTimeout(eventually).WithPolling(poll).Should(BeTrue(), "the operator's queue drained")
	g.Consistently(idle).WithTimeout(time.Second).WithPolling(poll).Should(BeTrue(), "the operator's queue stayed empty")
}
