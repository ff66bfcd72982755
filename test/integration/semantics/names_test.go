package semantics

import (
	"net/http"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Row 15: a finalizer name without a "/" is refused on built-in types.
func TestRow15_UnqualifiedFinalizerIsRefusedOnBuiltInTypes(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	obj := createAsUser(t, configMap, ns, "row15")

	err := applyAs(t.Context(), cluster.Client, finalizerManager, finalizerConfig(configMap, ns, "row15", obj.GetUID(), "legacy-finalizer"))

	status := statusError(t, err)
	g.Expect(status.Code).To(Equal(int32(http.StatusUnprocessableEntity)))
	g.Expect(status.Reason).To(Equal(metav1.StatusReasonInvalid))
	g.Expect(status.Details).NotTo(BeNil())
	diff(t, "causes", []metav1.StatusCause{{
		Type:    metav1.CauseTypeFieldValueInvalid,
		Message: `Invalid value: "legacy-finalizer": name is neither a standard finalizer name nor is it fully qualified`,
		Field:   "metadata.finalizers[0]",
	}}, distinct(status.Details.Causes))
}

// Row 15: on custom resources a finalizer name without a "/" is accepted with a warning, which
// since 1.32 asks for a path when the name has dots. The warning comes only with the request that
// adds the name.
func TestRow15_UnqualifiedFinalizerIsAcceptedWithAWarningOnCustomResources(t *testing.T) {
	for _, tc := range []struct {
		finalizer string
		warning   string
	}{{
		finalizer: "legacy-finalizer",
		warning:   `metadata.finalizers: "legacy-finalizer": prefer a domain-qualified finalizer name to avoid accidental conflicts with other finalizer writers`,
	}, {
		finalizer: "legacy.example.com",
		warning:   `metadata.finalizers: "legacy.example.com": prefer a domain-qualified finalizer name including a path (/) to avoid accidental conflicts with other finalizer writers`,
	}} {
		t.Run(tc.finalizer, func(t *testing.T) {
			g := NewWithT(t)
			ns := cluster.Namespace(t)
			obj := createAsUser(t, widget, ns, "row15")
			c, rec := cluster.RecordingClient(t)

			g.Expect(applyAs(t.Context(), c, finalizerManager, finalizerConfig(widget, ns, "row15", obj.GetUID(), tc.finalizer))).To(Succeed())
			diff(t, "warnings when adding", []string{tc.warning}, rec.Warnings())
			diff(t, "finalizers", []string{tc.finalizer}, get(t, widget, ns, "row15").GetFinalizers())

			rec.Reset()
			g.Expect(applyAs(t.Context(), c, "second/finalizers", finalizerConfig(widget, ns, "row15", obj.GetUID(), tc.finalizer))).To(Succeed())
			diff(t, "warnings when applying it again", []string(nil), rec.Warnings())
		})
	}
}

// Row 16: a finalizer that is not a qualified name is refused on every type.
func TestRow16_NamesThatAreNotQualifiedNamesAreRefused(t *testing.T) {
	for _, finalizer := range []string{
		"Foo_bar!",
		"example.com/" + strings.Repeat("n", 64),
		"-bad-.example.com/cleanup",
		"Example.com/cleanup",
	} {
		for _, k := range bothKinds {
			t.Run(k.name+"/"+finalizer, func(t *testing.T) {
				g := NewWithT(t)
				ns := cluster.Namespace(t)
				obj := createAsUser(t, k, ns, "row16")

				err := applyAs(t.Context(), cluster.Client, finalizerManager, finalizerConfig(k, ns, "row16", obj.GetUID(), finalizer))

				status := statusError(t, err)
				g.Expect(status.Code).To(Equal(int32(http.StatusUnprocessableEntity)), status.Message)
				g.Expect(status.Reason).To(Equal(metav1.StatusReasonInvalid))
				g.Expect(status.Message).To(ContainSubstring("metadata.finalizers"))
				g.Expect(get(t, k, ns, "row16").GetFinalizers()).To(BeEmpty())
			})
		}
	}
}
