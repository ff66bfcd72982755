package proof

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/ssakit/ssakit/internal/testcluster"
	"github.com/ssakit/ssakit/pkg/ssa"
)

// The actors' field managers and finalizers.
const (
	userApply   = "kubectl"                // the user's server-side applies of spec and data
	userEdit    = "kubectl-edit"           // the user's Updates and merge patches
	userCreate  = "user"                   // the user's creates
	other       = "other-controller"       // another controller, with a finalizer of its own
	otherFinal  = "other.example.com/keep" // its finalizer
	controller  = "proof"                  // ssakit's controller: its status manager
	firstFinal  = "proof.ssakit.dev/first"
	secondFinal = "proof.ssakit.dev/second"
)

// userManagers are the managers of the user's writes.
var userManagers = []string{userApply, userEdit, userCreate}

// object is one of a sequence's objects, by name and kind.
type object struct {
	name string
	gvk  schema.GroupVersionKind
}

// objects are the objects every sequence acts on: two Widgets (a custom resource with a defaulted
// spec and a status subresource) and a ConfigMap.
var objects = []object{
	{"widget-a", testcluster.WidgetGVK},
	{"widget-b", testcluster.WidgetGVK},
	{"settings", corev1.SchemeGroupVersion.WithKind("ConfigMap")},
}

func (o object) isWidget() bool { return o.gvk == testcluster.WidgetGVK }

// The ways an ssakit call gets its object.
const (
	viewFresh    = "fresh"          // read just now
	viewStale    = "stale"          // read Age steps ago
	viewStripped = "stripped"       // fresh, managedFields stripped (cache.TransformStripManagedFields)
	viewPartial  = "partial"        // stale, only ssakit's own entries kept (ssa.KeepManagedFieldsOf)
	viewStaleBar = "stale-stripped" // stale and stripped
)

var views = []string{viewFresh, viewStale, viewStripped, viewPartial, viewStaleBar}

// action is one step of a sequence: everything needed to replay it.
type action struct {
	Op     string
	Object int
	View   string // ssakit calls only; for opReconcile, the replica's cache
	Age    int    // steps ago, for stale views; for opReconcile, how far its cache is behind
	Value  string // a color, a label value; for opReconcile, what the cleanup answers
}

func (a action) String() string {
	s := fmt.Sprintf("%s %s", a.Op, objects[a.Object].name)
	if a.Op == opReconcile {
		when := "caught up"
		switch {
		case a.Age == 1:
			when = "1 step behind"
		case a.Age > 1:
			when = fmt.Sprintf("%d steps behind", a.Age)
		}
		return fmt.Sprintf("%s (the replica with a %s cache, %s; a cleanup answers %s)", s, a.View, when, a.Value)
	}
	if a.View != "" {
		s += " with a " + a.View + " object"
		if a.View == viewStale || a.View == viewPartial || a.View == viewStaleBar {
			s += fmt.Sprintf(" (read %d steps ago)", a.Age)
		}
	}
	if a.Value != "" && (!isSSAKit(a.Op) || a.Op == "ssakit applies status") && !strings.HasPrefix(a.Op, "other") && a.Op != "user deletes" && a.Op != "user replaces dropping every finalizer" {
		s += " (" + a.Value + ")"
	}
	return s
}

// The operations, by actor.
var (
	userOps = []string{"user applies spec", "user edits spec with Update", "user replaces dropping every finalizer",
		"user merge-patches a label", "user deletes", "user creates again"}
	otherOps  = []string{"other adds its finalizer with Update", "other adds its finalizer with a merge patch", "other applies its finalizer", "other removes its finalizer with Update", "other releases its applied finalizer"}
	ssakitOps = []string{"ssakit adds first", "ssakit adds second", "ssakit removes first", "ssakit removes second", "ssakit applies status"}
)

// isSSAKit reports whether op is an ssakit call, to which the per-call invariants apply.
func isSSAKit(op string) bool { return slices.Contains(ssakitOps, op) }

// randomAction draws one action; ssakit acts half of the time: in a fifth of the steps the
// running controller reconciles (often enough that it adds its finalizer before a user's delete
// and reconciles again after it, to clean up), in the rest of them ssakit's calls are made
// directly.
func randomAction(rng *rand.Rand) action {
	a := action{Object: rng.IntN(len(objects))}
	colors := []string{"red", "green", "blue"}
	switch r := rng.IntN(20); {
	case r < 6:
		a.Op = userOps[rng.IntN(len(userOps))]
		a.Value = colors[rng.IntN(len(colors))]
	case r < 10:
		a.Op = otherOps[rng.IntN(len(otherOps))]
	case r < 14:
		a.Op = opReconcile
		a.Object = widgets[rng.IntN(len(widgets))]
		a.View = caches[rng.IntN(len(caches))]
		if rng.IntN(2) == 0 {
			a.Age = 1 + rng.IntN(4)
		}
		a.Value = cleanupAnswers[rng.IntN(len(cleanupAnswers))]
	default:
		a.Op = ssakitOps[rng.IntN(len(ssakitOps))]
		a.View = views[rng.IntN(len(views))]
		a.Age = 1 + rng.IntN(5)
		a.Value = colors[rng.IntN(len(colors))]
	}
	return a
}

// userOrOther carries out a's write as the user or the other controller, on a fresh read, as
// those actors do. It returns nothing: their writes may fail (the object is gone, say), which is
// their business.
func (r *run) userOrOther(ctx context.Context, a action, live *unstructured.Unstructured) {
	o := objects[a.Object]
	c := cluster.Client
	switch a.Op {
	case "user applies spec":
		if live == nil {
			return
		}
		_ = c.Apply(ctx, client.ApplyConfigurationFromUnstructured(r.userContent(o, a.Value, live.GetUID())), client.FieldOwner(userApply), client.ForceOwnership)
	case "user edits spec with Update":
		if live == nil {
			return
		}
		edited := live.DeepCopy()
		setContent(o, edited, "edited-"+a.Value)
		_ = c.Update(ctx, edited, client.FieldOwner(userEdit))
	case "user replaces dropping every finalizer":
		if live == nil {
			return
		}
		replaced := live.DeepCopy()
		replaced.SetFinalizers(nil)
		_ = c.Update(ctx, replaced, client.FieldOwner(userEdit))
	case "user merge-patches a label":
		if live == nil {
			return
		}
		patch := fmt.Sprintf(`{"metadata":{"labels":{"mood":%q}}}`, a.Value)
		_ = c.Patch(ctx, live.DeepCopy(), client.RawPatch(types.MergePatchType, []byte(patch)), client.FieldOwner(userEdit))
	case "user deletes":
		if live == nil {
			return
		}
		_ = c.Delete(ctx, live.DeepCopy())
	case "user creates again":
		if live != nil {
			return
		}
		created := r.userContent(o, a.Value, "")
		_ = c.Create(ctx, created, client.FieldOwner(userCreate))
	case "other adds its finalizer with Update":
		if live == nil || !live.GetDeletionTimestamp().IsZero() {
			return
		}
		edited := live.DeepCopy()
		if controllerutil.AddFinalizer(edited, otherFinal) {
			_ = c.Update(ctx, edited, client.FieldOwner(other))
		}
	case "other adds its finalizer with a merge patch":
		if live == nil || !live.GetDeletionTimestamp().IsZero() {
			return
		}
		edited := live.DeepCopy()
		if controllerutil.AddFinalizer(edited, otherFinal) {
			_ = c.Patch(ctx, edited, client.MergeFrom(live), client.FieldOwner(other))
		}
	case "other applies its finalizer":
		if live == nil || !live.GetDeletionTimestamp().IsZero() {
			return
		}
		_ = c.Apply(ctx, client.ApplyConfigurationFromUnstructured(identity(o, r.ns, live.GetUID(), otherFinal)), client.FieldOwner(other+"-apply"))
	case "other removes its finalizer with Update":
		if live == nil {
			return
		}
		edited := live.DeepCopy()
		if controllerutil.RemoveFinalizer(edited, otherFinal) {
			_ = c.Update(ctx, edited, client.FieldOwner(other))
		}
	case "other releases its applied finalizer":
		if live == nil {
			return
		}
		_ = c.Apply(ctx, client.ApplyConfigurationFromUnstructured(identity(o, r.ns, live.GetUID())), client.FieldOwner(other+"-apply"))
	}
}

// userContent is the user's object: a Widget's spec.color (spec.replicas is left to the server's
// default) or a ConfigMap's data, with a label. A uid makes an apply a precondition.
func (r *run) userContent(o object, value string, uid types.UID) *unstructured.Unstructured {
	u := identity(o, r.ns, uid)
	u.SetLabels(map[string]string{"app": "proof"})
	setContent(o, u, value)
	return u
}

// identity is an apply configuration of o that holds only its identity and finalizers.
func identity(o object, namespace string, uid types.UID, finalizers ...string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{}}
	u.SetGroupVersionKind(o.gvk)
	u.SetNamespace(namespace)
	u.SetName(o.name)
	if uid != "" {
		u.SetUID(uid)
	}
	if len(finalizers) > 0 {
		u.SetFinalizers(finalizers)
	}
	return u
}

func setContent(o object, u *unstructured.Unstructured, value string) {
	if o.isWidget() {
		_ = unstructured.SetNestedField(u.Object, value, "spec", "color")
		return
	}
	_ = unstructured.SetNestedField(u.Object, value, "data", "value")
}

// viewOf returns the object an ssakit call is given for a, or nil when there is none to give (a
// stale view of a time the object did not exist).
func (r *run) viewOf(a action, live *unstructured.Unstructured) *unstructured.Unstructured {
	var view *unstructured.Unstructured
	switch a.View {
	case viewFresh, viewStripped:
		view = live
	default:
		view = r.snapshot(a.Object, a.Age)
	}
	if view == nil {
		return nil
	}
	view = view.DeepCopy()
	switch a.View {
	case viewStripped, viewStaleBar:
		view.SetManagedFields(nil)
	case viewPartial:
		kept, err := ssa.KeepManagedFieldsOf(r.first.FieldOwner(), r.second.FieldOwner(), controller)(view)
		if err != nil {
			return nil
		}
		view = kept.(*unstructured.Unstructured)
	}
	return view
}
