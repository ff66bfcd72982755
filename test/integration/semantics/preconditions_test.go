package semantics

import (
	"net/http"
	"testing"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ssakit/ssakit/internal/testcluster"
)

// Row 8: an apply without metadata.uid to an object that does not exist creates it (201), which
// is how a late finalizer-removal apply resurrects a deleted object.
func TestRow8_ApplyWithoutUIDCreatesAMissingObject(t *testing.T) {
	for _, k := range bothKinds {
		t.Run(k.name, func(t *testing.T) {
			g := NewWithT(t)
			ns := cluster.Namespace(t)
			c, rec := cluster.RecordingClient(t)

			g.Expect(applyAs(t.Context(), c, finalizerManager, finalizerConfig(k, ns, "row8", "", "example.com/fin"))).To(Succeed())

			diff(t, "requests", []testcluster.Request{{Method: http.MethodPatch, Path: resourcePath(k, ns, "row8"), StatusCode: http.StatusCreated}}, rec.Requests(), testcluster.IgnoreRequestSize)
			diff(t, "finalizers of the created object", []string{"example.com/fin"}, get(t, k, ns, "row8").GetFinalizers())
		})
	}
}

// Row 9: an apply with metadata.uid to an object that no longer exists is a 409 "uid mismatch"
// and creates nothing.
func TestRow9_ApplyWithUIDToAMissingObjectIsAConflictAndCreatesNothing(t *testing.T) {
	for _, k := range bothKinds {
		t.Run(k.name, func(t *testing.T) {
			g := NewWithT(t)
			ns := cluster.Namespace(t)
			obj := createAsUser(t, k, ns, "row9")
			g.Expect(cluster.Client.Delete(t.Context(), obj)).To(Succeed())

			err := applyAs(t.Context(), cluster.Client, finalizerManager, finalizerConfig(k, ns, "row9", obj.GetUID()))

			status := statusError(t, err)
			g.Expect(status.Code).To(Equal(int32(http.StatusConflict)))
			g.Expect(status.Reason).To(Equal(metav1.StatusReasonConflict))
			g.Expect(status.Message).To(ContainSubstring(
				`uid mismatch: the provided object specified uid ` + string(obj.GetUID()) + `, and no existing object was found`))
			expectNotFound(t, k, ns, "row9")
		})
	}
}

// Row 10: an apply carrying the UID of a deleted object to its same-named successor is a 422 on
// metadata.uid, and the successor is untouched.
func TestRow10_ApplyWithAnotherObjectsUIDIsInvalidAndTouchesNothing(t *testing.T) {
	for _, k := range bothKinds {
		t.Run(k.name, func(t *testing.T) {
			g := NewWithT(t)
			ns := cluster.Namespace(t)
			old := createAsUser(t, k, ns, "row10")
			g.Expect(cluster.Client.Delete(t.Context(), old)).To(Succeed())
			successor := createAsUser(t, k, ns, "row10")

			err := applyAs(t.Context(), cluster.Client, finalizerManager, finalizerConfig(k, ns, "row10", old.GetUID(), "example.com/fin"))

			status := statusError(t, err)
			g.Expect(status.Code).To(Equal(int32(http.StatusUnprocessableEntity)))
			g.Expect(status.Reason).To(Equal(metav1.StatusReasonInvalid))
			g.Expect(status.Details).NotTo(BeNil())
			diff(t, "causes", []metav1.StatusCause{{
				Type:    metav1.CauseTypeFieldValueInvalid,
				Message: `Invalid value: "` + string(old.GetUID()) + `": field is immutable`,
				Field:   "metadata.uid",
			}}, distinct(status.Details.Causes))
			got := get(t, k, ns, "row10")
			g.Expect(got.GetResourceVersion()).To(Equal(successor.GetResourceVersion()), "the successor was written")
			g.Expect(got.GetFinalizers()).To(BeEmpty())
		})
	}
}

// Row 11: an apply with a stale metadata.resourceVersion is a 409 "the object has been modified".
func TestRow11_ApplyWithAStaleResourceVersionIsAConflict(t *testing.T) {
	for _, k := range bothKinds {
		t.Run(k.name, func(t *testing.T) {
			g := NewWithT(t)
			ns := cluster.Namespace(t)
			obj := createAsUser(t, k, ns, "row11")
			stale := obj.GetResourceVersion()
			mustApply(t, finalizerManager, finalizerConfig(k, ns, "row11", obj.GetUID(), "example.com/first"))

			config := finalizerConfig(k, ns, "row11", obj.GetUID(), "example.com/first", "example.com/second")
			config.SetResourceVersion(stale)
			err := applyAs(t.Context(), cluster.Client, finalizerManager, config)

			status := statusError(t, err)
			g.Expect(status.Code).To(Equal(int32(http.StatusConflict)))
			g.Expect(status.Reason).To(Equal(metav1.StatusReasonConflict))
			g.Expect(status.Message).To(ContainSubstring("the object has been modified"))
			diff(t, "finalizers", []string{"example.com/first"}, get(t, k, ns, "row11").GetFinalizers())
		})
	}
}

// Row 11: a resourceVersion is no create guard: an apply carrying one still creates a missing
// custom resource.
func TestRow11_ResourceVersionDoesNotStopAnApplyFromCreatingACustomResource(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	config := finalizerConfig(widget, ns, "row11-missing", "", "example.com/fin")
	config.SetResourceVersion("1")

	g.Expect(applyAs(t.Context(), cluster.Client, finalizerManager, config)).To(Succeed())

	diff(t, "finalizers of the created object", []string{"example.com/fin"}, get(t, widget, ns, "row11-missing").GetFinalizers())
}

// Row 12: no new finalizer can be added once deletionTimestamp is set; re-applying one that is
// already there is allowed.
func TestRow12_NoNewFinalizerOnATerminatingObject(t *testing.T) {
	for _, k := range bothKinds {
		t.Run(k.name, func(t *testing.T) {
			g := NewWithT(t)
			ns := cluster.Namespace(t)
			obj := createAsUser(t, k, ns, "row12")
			mustApply(t, finalizerManager, finalizerConfig(k, ns, "row12", obj.GetUID(), "example.com/present"))
			g.Expect(cluster.Client.Delete(t.Context(), obj)).To(Succeed())

			err := applyAs(t.Context(), cluster.Client, finalizerManager, finalizerConfig(k, ns, "row12", obj.GetUID(), "example.com/present", "example.com/new"))

			status := statusError(t, err)
			g.Expect(status.Code).To(Equal(int32(http.StatusUnprocessableEntity)))
			g.Expect(status.Reason).To(Equal(metav1.StatusReasonInvalid))
			g.Expect(status.Message).To(ContainSubstring("metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted"))
			g.Expect(applyAs(t.Context(), cluster.Client, finalizerManager, finalizerConfig(k, ns, "row12", obj.GetUID(), "example.com/present"))).
				To(Succeed(), "re-applying a finalizer that is already there")
			diff(t, "finalizers", []string{"example.com/present"}, get(t, k, ns, "row12").GetFinalizers())
		})
	}
}

// Row 13: removing the last finalizer of a terminating object deletes it within that request.
func TestRow13_RemovingTheLastFinalizerOfATerminatingObjectDeletesIt(t *testing.T) {
	for _, k := range bothKinds {
		t.Run(k.name, func(t *testing.T) {
			g := NewWithT(t)
			ns := cluster.Namespace(t)
			obj := createAsUser(t, k, ns, "row13")
			mustApply(t, finalizerManager, finalizerConfig(k, ns, "row13", obj.GetUID(), "example.com/last"))
			g.Expect(cluster.Client.Delete(t.Context(), obj)).To(Succeed())
			g.Expect(get(t, k, ns, "row13").GetDeletionTimestamp()).NotTo(BeNil())

			mustApply(t, finalizerManager, finalizerConfig(k, ns, "row13", obj.GetUID()))

			expectNotFound(t, k, ns, "row13")
		})
	}
}
