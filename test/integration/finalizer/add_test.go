package finalizer

import (
	"errors"
	"net/http"
	"testing"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/ssakit/ssakit/internal/testcluster"
	"github.com/ssakit/ssakit/pkg/ssa"
)

// untouched is everything an Add must leave as it was: content, labels, annotations, generation
// and every other manager's managedFields entry.
func untouched(obj *unstructured.Unstructured) map[string]any {
	var others []metav1.ManagedFieldsEntry
	for _, e := range obj.GetManagedFields() {
		if e.Manager != finalizerManager {
			others = append(others, e)
		}
	}
	return map[string]any{
		"spec":        obj.Object["spec"],
		"data":        obj.Object["data"],
		"labels":      obj.GetLabels(),
		"annotations": obj.GetAnnotations(),
		"generation":  obj.GetGeneration(),
		"others":      others,
	}
}

// Rows 1, 6 and 21: one apply, whose entry owns exactly the finalizer item and nothing else.
func TestAdd_SendsOneApplyThatOwnsOnlyTheFinalizerItem(t *testing.T) {
	for _, fl := range flavours {
		t.Run(fl.name, func(t *testing.T) {
			g := NewWithT(t)
			ns := cluster.Namespace(t)
			obj := fl.create(t, ns, "add")
			before := live(t, fl.gvk, obj)
			c, rec := cluster.RecordingClient(t)

			g.Expect(newFinalizer(t, c, cleanup, ssa.FinalizerOptions{}).Add(t.Context(), obj)).Error().To(Succeed())

			diff(t, "requests", []string{http.MethodPatch}, methods(rec.Requests()))
			after := live(t, fl.gvk, obj)
			g.Expect(entryFields(after, finalizerManager)).To(MatchJSON(`{"f:metadata":{"f:finalizers":{"v:\"example.com/cleanup\"":{}}}}`))
			diff(t, "what Add must not touch", untouched(before), untouched(after))
			diff(t, "finalizers", []string{cleanup}, after.GetFinalizers())
			if fl.gvk.Kind == "Widget" {
				diff(t, "spec with its defaulted replicas", map[string]any{"color": "blue", "replicas": int64(1)}, after.Object["spec"])
			}
			diff(t, "finalizers of the object passed in (updated from the answer)", []string{cleanup}, obj.GetFinalizers())
			g.Expect(obj.GetResourceVersion()).To(Equal(after.GetResourceVersion()), "resourceVersion of the object passed in")
		})
	}
}

func TestAdd_SendsNothingWhenTheManagerAlreadyOwnsTheFinalizer(t *testing.T) {
	for _, fl := range flavours {
		t.Run(fl.name, func(t *testing.T) {
			g := NewWithT(t)
			ns := cluster.Namespace(t)
			obj := fl.create(t, ns, "add-twice")
			c, rec := cluster.RecordingClient(t)
			f := newFinalizer(t, c, cleanup, ssa.FinalizerOptions{})
			sent, err := f.Add(t.Context(), obj)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(sent).To(BeTrue(), "the first Add says it sent its apply")
			g.Expect(rec.Requests()).To(HaveLen(1), "the first Add's apply")
			rec.Reset()
			version := obj.GetResourceVersion()

			g.Expect(f.Add(t.Context(), obj)).To(BeFalse(), "with the object Add updated: sent")
			g.Expect(f.Add(t.Context(), fl.get(t, obj))).To(BeFalse(), "with the object read again: sent")

			g.Expect(rec.Requests()).To(BeEmpty())
			g.Expect(fl.get(t, obj).GetResourceVersion()).To(Equal(version), "resourceVersion")
		})
	}
}

// Row 12: the server refuses new finalizers on a terminating object; ssakit refuses first.
func TestAdd_RefusesATerminatingObjectWithoutARequest(t *testing.T) {
	for _, fl := range flavours {
		t.Run(fl.name, func(t *testing.T) {
			g := NewWithT(t)
			ns := cluster.Namespace(t)
			obj := fl.create(t, ns, "add-terminating")
			addByUpdate(t.Context(), t, obj, legacyManager, "example.com/other")
			g.Expect(cluster.Client.Delete(t.Context(), obj)).To(Succeed())
			terminating := fl.get(t, obj)
			c, rec := cluster.RecordingClient(t)

			_, err := newFinalizer(t, c, cleanup, ssa.FinalizerOptions{}).Add(t.Context(), terminating)

			g.Expect(err).To(MatchError(ssa.ErrTerminating))
			var objErr *ssa.ObjectError
			g.Expect(errors.As(err, &objErr)).To(BeTrue())
			g.Expect(objErr.Object.Name).To(Equal("add-terminating"))
			g.Expect(rec.Requests()).To(BeEmpty())
			diff(t, "finalizers", []string{"example.com/other"}, fl.get(t, obj).GetFinalizers())
		})
	}
}

// Row 10: an object deleted and created again under its name is another object.
func TestAdd_RefusesAnObjectReplacedUnderTheSameName(t *testing.T) {
	for _, fl := range flavours {
		t.Run(fl.name, func(t *testing.T) {
			g := NewWithT(t)
			ns := cluster.Namespace(t)
			old := fl.create(t, ns, "add-replaced")
			g.Expect(cluster.Client.Delete(t.Context(), fl.get(t, old))).To(Succeed())
			successor := fl.create(t, ns, "add-replaced")
			before := live(t, fl.gvk, successor)

			_, err := newFinalizer(t, cluster.Client, cleanup, ssa.FinalizerOptions{}).Add(t.Context(), old)

			g.Expect(err).To(MatchError(ssa.ErrReplaced))
			after := live(t, fl.gvk, successor)
			g.Expect(after.GetResourceVersion()).To(Equal(before.GetResourceVersion()), "the successor was written")
			g.Expect(after.GetFinalizers()).To(BeEmpty())
		})
	}
}

// Row 9: Add on an object that no longer exists is ErrGone and creates nothing.
func TestAdd_OnADeletedObjectIsGoneAndCreatesNothing(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	obj := typedWidget.create(t, ns, "add-gone")
	g.Expect(cluster.Client.Delete(t.Context(), typedWidget.get(t, obj))).To(Succeed())

	_, err := newFinalizer(t, cluster.Client, cleanup, ssa.FinalizerOptions{}).Add(t.Context(), obj)

	g.Expect(err).To(MatchError(ssa.ErrGone))
	expectGone(t, typedWidget, obj)
}

func methods(requests []testcluster.Request) []string {
	var out []string
	for _, r := range requests {
		out = append(out, r.Method)
	}
	return out
}
