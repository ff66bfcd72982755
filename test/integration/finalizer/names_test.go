package finalizer

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ssakit/ssakit/internal/fixtures"
	"github.com/ssakit/ssakit/pkg/ssa"
)

// Rows 14 to 17: ssakit's class of every name of the shared table agrees with what the API
// server does with that name on a ConfigMap and on a custom resource.
func TestNames_AgreeWithTheServer(t *testing.T) {
	for _, tc := range fixtures.FinalizerNames {
		t.Run(tc.Name, func(t *testing.T) {
			g := NewWithT(t)
			ns := cluster.Namespace(t)
			check := ssa.CheckFinalizerName(tc.Name)
			g.Expect(check.Class).To(Equal(tc.Class), "ssakit's class of the name")
			_, optInErr := ssa.NewFinalizer(cluster.Client, controller, tc.Name, ssa.FinalizerOptions{AllowUnqualifiedName: true})
			c, rec := cluster.RecordingClient(t)

			configMapErr := applyRaw(t, c, typedConfigMap, ns, tc.Name)
			rec.Reset()
			widgetErr := applyRaw(t, c, typedWidget, ns, tc.Name)
			widgetWarnings := rec.Warnings()

			switch tc.Class {
			case ssa.NameQualified:
				g.Expect(check.Err).NotTo(HaveOccurred())
				g.Expect(configMapErr).NotTo(HaveOccurred())
				g.Expect(widgetErr).NotTo(HaveOccurred())
				g.Expect(widgetWarnings).To(BeEmpty())
			case ssa.NameUnqualified:
				g.Expect(check.Err).To(HaveOccurred(), "refused without the opt-in")
				g.Expect(optInErr).NotTo(HaveOccurred(), "accepted with the opt-in (AllowUnqualifiedName)")
				g.Expect(apierrors.IsInvalid(configMapErr)).To(BeTrue(), "a ConfigMap refuses it (row 15): %v", configMapErr)
				g.Expect(widgetErr).NotTo(HaveOccurred(), "a custom resource accepts it (row 15)")
				diff(t, "warnings: the server's vs ssakit's", widgetWarnings, []string{check.Warning})
			case ssa.NameInvalid:
				g.Expect(optInErr).To(HaveOccurred(), "refused even with the opt-in")
				nameErr, ok := errors.AsType[*ssa.InvalidNameError](check.Err)
				g.Expect(ok).To(BeTrue(), "want an *InvalidNameError, got %v", check.Err)
				for _, err := range []error{configMapErr, widgetErr} {
					g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), "the server refuses it (row 16): %v", err)
					// ssakit words the reason with apimachinery's validation from go.mod; servers
					// before 1.35 word some of them differently ("characters" for "bytes").
					if serverMinor(t) >= 35 {
						g.Expect(err.Error()).To(ContainSubstring(nameErr.Reasons[0]), "ssakit gives the server's reason")
					}
				}
			case ssa.NameReserved:
				// Row 17: the server accepts these names because Kubernetes acts on them itself;
				// ssakit refuses to let a controller declare one as its own.
				g.Expect(check.Err).To(HaveOccurred())
				g.Expect(optInErr).To(HaveOccurred(), "refused even with the opt-in")
				g.Expect(configMapErr).NotTo(HaveOccurred())
				g.Expect(widgetErr).NotTo(HaveOccurred())
			}
		})
	}
}

// applyRaw applies finalizer to a new object of fl's kind by a throwaway manager, bypassing ssakit.
func applyRaw(t *testing.T, c client.Client, fl flavour, namespace, finalizer string) error {
	t.Helper()
	config := &unstructured.Unstructured{}
	config.SetGroupVersionKind(fl.gvk)
	config.SetNamespace(namespace)
	config.SetName("names")
	config.SetFinalizers([]string{finalizer})
	return c.Apply(t.Context(), client.ApplyConfigurationFromUnstructured(config), client.FieldOwner("name-probe"))
}

// serverMinor is the minor version of the control plane the tests run against.
func serverMinor(t *testing.T) int {
	t.Helper()
	dc, err := discovery.NewDiscoveryClientForConfig(cluster.Config)
	if err != nil {
		t.Fatal(err)
	}
	info, err := dc.ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	minor, err := strconv.Atoi(strings.TrimSuffix(info.Minor, "+"))
	if err != nil {
		t.Fatalf("server minor version %q: %v", info.Minor, err)
	}
	return minor
}
