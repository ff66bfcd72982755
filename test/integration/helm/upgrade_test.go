package helm

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/ssakit/ssakit/internal/testcluster"
	"github.com/ssakit/ssakit/pkg/ssa"
)

// release is the name of every test's Helm release, and of its Widget.
const release = "widget"

var (
	eventually = 30 * time.Second
	poll       = 50 * time.Millisecond
)

// live is what the tests look at on the live Widget.
type live struct {
	// Generation counts the writes of spec: helm's, and any controller's.
	Generation int64
	Color      string
	Replicas   int64
	Finalizers []string
	Phase      string
	// StatusCurrent is status.observedGeneration == metadata.generation: the controller has
	// reported on the spec as it is now.
	StatusCurrent bool
}

// reconciled is a Widget at generation with spec.color color (spec.replicas defaulted to 1) that
// carries the controller's finalizer and a status reported on that generation.
func reconciled(generation int64, color string) live {
	return live{Generation: generation, Color: color, Replicas: 1, Finalizers: []string{cleanupFinalizer}, Phase: "Ready", StatusCurrent: true}
}

// gone is the live value of a Widget that no longer exists.
var gone = live{Color: "<gone>"}

// observe reads the Widget of the release in namespace.
func observe(ctx context.Context, namespace string) (live, error) {
	w := &testcluster.Widget{}
	if err := cluster.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: release}, w); err != nil {
		if client.IgnoreNotFound(err) == nil {
			return gone, nil
		}
		return live{}, err
	}
	l := live{
		Generation:    w.Generation,
		Color:         w.Spec.Color,
		Finalizers:    w.Finalizers,
		Phase:         w.Status.Phase,
		StatusCurrent: w.Status.ObservedGeneration == w.Generation,
	}
	if w.Spec.Replicas != nil {
		l.Replicas = *w.Spec.Replicas
	}
	return l, nil
}

// eventuallyLive waits until the Widget of the release in namespace is want, and reports the
// last difference (-want +got) when it never is.
func eventuallyLive(t *testing.T, namespace string, want live) {
	t.Helper()
	NewWithT(t).Eventually(func() (string, error) {
		got, err := observe(t.Context(), namespace)
		return cmp.Diff(want, got), err
	}).WithTimeout(eventually).WithPolling(poll).Should(BeEmpty(), "the live widget (-want +got)")
}

// ownership parses the managedFields of the Widget of the release in namespace.
func ownership(t *testing.T, namespace string) *ssa.Ownership {
	t.Helper()
	w := &testcluster.Widget{}
	if err := cluster.Client.Get(t.Context(), client.ObjectKey{Namespace: namespace, Name: release}, w); err != nil {
		t.Fatalf("reading the widget: %v", err)
	}
	o, err := ssa.ParseOwnership(w.GetManagedFields())
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// entries renders a manager's managedFields entries: `helm (Apply)`.
func entries(o *ssa.Ownership, manager string) []string {
	var out []string
	for _, e := range o.Entries {
		if e.Manager == manager {
			out = append(out, e.String())
		}
	}
	return out
}

var (
	specColor    = fieldpath.MakePathOrDie("spec", "color")
	specReplicas = fieldpath.MakePathOrDie("spec", "replicas")
)

func diff(t *testing.T, what string, want, got any) {
	t.Helper()
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("%s (-want +got):\n%s", what, d)
	}
}

// The case, with ssakit: the controller's finalizer is an apply of its own manager, its
// status an apply to /status, and it never writes spec (the generation moves with helm's writes
// only). Helm 4's server-side apply of the chart owns spec and nothing else, so an upgrade that
// changes spec.color has no one to conflict with, whether the chart first set a color or rendered
// it empty.
func TestHelm4_WithSSAkitAnUpgradeOfTheSpecSucceedsKeepsFinalizerAndStatusAndUninstallCleansUpOnce(t *testing.T) {
	for _, tc := range []struct {
		name    string
		install []string // helm install's --set values
		color   string   // spec.color after the install
	}{
		{name: "chart sets the color", install: []string{"--set", "color=blue"}, color: "blue"},
		{name: "chart renders the color empty", color: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			ns := cluster.Namespace(t)
			controller := "widgets-" + ns[len("ssakit-test-"):]
			h := startSSAkitController(t, ns, controller)
			helm := newHelm(t, ns)

			out, err := helm.run(append([]string{"install", release, chart(t)}, tc.install...)...)
			g.Expect(err).NotTo(HaveOccurred(), "helm install")
			g.Expect(out).To(ContainSubstring("STATUS: deployed"))
			eventuallyLive(t, ns, reconciled(1, tc.color))
			diff(t, "owners of .spec.color", []string{"helm"}, ownership(t, ns).Owners(specColor))

			out, err = helm.run("upgrade", release, chart(t), "--set", "color=red")
			g.Expect(err).NotTo(HaveOccurred(), "helm upgrade")
			g.Expect(out).To(ContainSubstring("STATUS: deployed"))
			eventuallyLive(t, ns, reconciled(2, "red"))

			o := ownership(t, ns)
			diff(t, "helm's entries: Helm 4 applies server-side", []string{"helm (Apply)"}, entries(o, "helm"))
			diff(t, "owners of .spec.color", []string{"helm"}, o.Owners(specColor))
			// The CRD's default fills in spec.replicas, which the chart leaves out: nobody's.
			diff(t, "owners of .spec.replicas", []string(nil), o.Owners(specReplicas))
			g.Expect(o.CheckNoOverlap("helm", ssa.FinalizerFieldOwner(controller, cleanupFinalizer), controller)).To(Succeed())

			_, err = helm.run("uninstall", release)
			g.Expect(err).NotTo(HaveOccurred(), "helm uninstall")
			eventuallyLive(t, ns, gone)
			g.Consistently(h.cleanups.count).WithTimeout(time.Second).Should(Equal(1), "cleanups run")
		})
	}
}

// The reported pattern where it does not fail: an Update is credited only with the fields its
// write changed (docs/ssa-semantics.md row 20). Adding the finalizer with controllerutil and
// Update changes metadata.finalizers, Status().Update changes status on /status; neither is a
// field of the chart. When the chart renders spec.color empty, the finalizer's Update does write
// spec: the Go type drops the empty string (omitempty), so the Update removes a field helm set
// (the generation moves) and helm's claim on it goes with the field. A removal takes nobody's
// ownership, so the next upgrade's apply puts it back without a conflict.
func TestHelm4_UpdateControllerThatWritesOnlyFinalizerAndStatusLeavesTheUpgradeWorking(t *testing.T) {
	for _, tc := range []struct {
		name    string
		install []string // helm install's --set values
		// color and generation after the install
		color      string
		generation int64
		// colorOwners are the owners of .spec.color after the install.
		colorOwners []string
	}{
		{name: "chart sets the color", install: []string{"--set", "color=blue"}, color: "blue", generation: 1, colorOwners: []string{"helm"}},
		{name: "chart renders the color empty and the finalizer's Update drops it", color: "", generation: 2, colorOwners: nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			ns := cluster.Namespace(t)
			r := startUpdateController(t, ns, false)
			helm := newHelm(t, ns)

			_, err := helm.run(append([]string{"install", release, chart(t)}, tc.install...)...)
			g.Expect(err).NotTo(HaveOccurred(), "helm install")
			eventuallyLive(t, ns, reconciled(tc.generation, tc.color))
			o := ownership(t, ns)
			diff(t, "owners of .spec.color", tc.colorOwners, o.Owners(specColor))
			diff(t, "the controller's entries", []string{"manager (Update)", "manager (Update, status)"}, entries(o, updateManager))

			out, err := helm.run("upgrade", release, chart(t), "--set", "color=red")
			g.Expect(err).NotTo(HaveOccurred(), "helm upgrade")
			g.Expect(out).To(ContainSubstring("STATUS: deployed"))
			eventuallyLive(t, ns, reconciled(tc.generation+1, "red"))
			diff(t, "owners of .spec.color", []string{"helm"}, ownership(t, ns).Owners(specColor))

			_, err = helm.run("uninstall", release)
			g.Expect(err).NotTo(HaveOccurred(), "helm uninstall")
			eventuallyLive(t, ns, gone)
			// An Update-based removal runs the cleanup again after a 409; how often is not what
			// is tested here.
			g.Expect(r.cleanups.count()).To(BeNumerically(">=", 1), "cleanups run")
		})
	}
}

// The reported failure, reproduced: the chart renders spec.color empty, the controller defaults it
// in Go and writes it with Update (generation 3: the finalizer's Update dropped the empty color,
// the defaulting Update wrote "blue"), so its manager "manager" owns .spec.color with another
// value than the chart's. Helm 4 applies every object of the chart on every upgrade, so every
// upgrade fails, even one that changes only spec.replicas, and writes nothing; the release is
// left failed. --force-conflicts takes the field back; as long as the controller does not write it
// again, plain upgrades work from then on.
func TestHelm4_UpdateControllerThatDefaultsASpecFieldMakesEveryUpgradeFailWithAConflict(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	r := startUpdateController(t, ns, true)
	helm := newHelm(t, ns)

	_, err := helm.run("install", release, chart(t))
	g.Expect(err).NotTo(HaveOccurred(), "helm install")
	eventuallyLive(t, ns, reconciled(3, defaultColor))
	diff(t, "owners of .spec.color", []string{updateManager}, ownership(t, ns).Owners(specColor))

	conflict := `UPGRADE FAILED: conflict occurred while applying object ` + ns + `/` + release + ` test.ssakit.dev/v1, Kind=Widget: ` +
		`Apply failed with 1 conflict: conflict with "manager" using test.ssakit.dev/v1: .spec.color`
	for _, set := range []string{"replicas=3", "color=red"} {
		out, err := helm.run("upgrade", release, chart(t), "--set", set)
		g.Expect(err).To(HaveOccurred(), "helm upgrade --set %s", set)
		g.Expect(out).To(ContainSubstring(conflict), "helm upgrade --set %s", set)
		eventuallyLive(t, ns, reconciled(3, defaultColor))
	}
	out, err := helm.run("status", release)
	g.Expect(err).NotTo(HaveOccurred(), "helm status")
	g.Expect(out).To(ContainSubstring("STATUS: failed"))

	out, err = helm.run("upgrade", release, chart(t), "--set", "color=red", "--force-conflicts")
	g.Expect(err).NotTo(HaveOccurred(), "helm upgrade --force-conflicts")
	g.Expect(out).To(ContainSubstring("STATUS: deployed"))
	eventuallyLive(t, ns, reconciled(4, "red"))
	diff(t, "owners of .spec.color", []string{"helm"}, ownership(t, ns).Owners(specColor))
	// The color is set now, so the controller's defaulting writes nothing: the field stays helm's
	// and a plain upgrade works again.
	_, err = helm.run("upgrade", release, chart(t), "--set", "color=green")
	g.Expect(err).NotTo(HaveOccurred(), "helm upgrade after the forced one")
	eventuallyLive(t, ns, reconciled(5, "green"))

	_, err = helm.run("uninstall", release)
	g.Expect(err).NotTo(HaveOccurred(), "helm uninstall")
	eventuallyLive(t, ns, gone)
	g.Expect(r.cleanups.count()).To(BeNumerically(">=", 1), "cleanups run")
}
