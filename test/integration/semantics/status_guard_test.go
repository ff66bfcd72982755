package semantics

import (
	"net/http"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ssakit/ssakit/internal/testcluster"
)

// statusManager is the field manager of the /status applies below.
const statusManager = "ctl"

// statusKind is a kind with a status subresource whose status a test can set and read back.
type statusKind struct {
	kind
	// create creates an object of the kind, owned by the user's manager, with an empty status.
	create func(t *testing.T, namespace, name string) *unstructured.Unstructured
	// status is the content of .status that records value.
	status func(value string) map[string]any
	// observed reads back the value status recorded, or "" when there is none.
	observed func(obj *unstructured.Unstructured) string
}

var (
	service = kind{name: "Service", gvk: corev1.SchemeGroupVersion.WithKind("Service"), plural: "services"}

	// statusKinds are a custom resource and a built-in type, both with a status subresource.
	// A Service is the simplest built-in type to create where no controller runs: a PVC gets the
	// kubernetes.io/pvc-protection finalizer from the StorageObjectInUseProtection admission
	// plugin (on by default), so without a controller it could not be deleted and recreated.
	statusKinds = []statusKind{
		{
			kind: widget,
			create: func(t *testing.T, namespace, name string) *unstructured.Unstructured {
				return createAsUser(t, widget, namespace, name)
			},
			status: func(value string) map[string]any { return map[string]any{"phase": value} },
			observed: func(obj *unstructured.Unstructured) string {
				phase, _, _ := unstructured.NestedString(obj.Object, "status", "phase")
				return phase
			},
		},
		{
			kind:   service,
			create: createService,
			// A Service's status.conditions is a list of metav1.Condition keyed by type; the
			// value is kept in the reason.
			status: func(value string) map[string]any {
				return map[string]any{"conditions": []any{map[string]any{
					"type":               "Observed",
					"status":             "True",
					"reason":             value,
					"message":            "set by " + statusManager,
					"lastTransitionTime": "2025-01-01T00:00:00Z",
				}}}
			},
			observed: func(obj *unstructured.Unstructured) string {
				conditions, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
				for _, c := range conditions {
					if c, ok := c.(map[string]any); ok && c["type"] == "Observed" {
						reason, _ := c["reason"].(string)
						return reason
					}
				}
				return ""
			},
		},
	}
)

// createService creates a ClusterIP Service with one port, owned by the user's manager.
func createService(t *testing.T, namespace, name string) *unstructured.Unstructured {
	t.Helper()
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(service.gvk)
	obj.SetNamespace(namespace)
	obj.SetName(name)
	obj.Object["spec"] = map[string]any{
		"type":  "ClusterIP",
		"ports": []any{map[string]any{"name": "http", "port": int64(80), "protocol": "TCP"}},
	}
	if err := cluster.Client.Create(t.Context(), obj, client.FieldOwner(userManager)); err != nil {
		t.Fatalf("creating Service %s/%s: %v", namespace, name, err)
	}
	return obj
}

// statusConfig is a /status apply configuration: identity, the precondition under test (a UID
// and a resourceVersion, each left out when empty) and the status that records value.
func statusConfig(k statusKind, namespace, name string, uid, resourceVersion, value string) *unstructured.Unstructured {
	obj := &unstructured.Unstructured{Object: map[string]any{"status": k.status(value)}}
	obj.SetGroupVersionKind(k.gvk)
	obj.SetNamespace(namespace)
	obj.SetName(name)
	if uid != "" {
		obj.SetUID(types.UID(uid))
	}
	if resourceVersion != "" {
		obj.SetResourceVersion(resourceVersion)
	}
	return obj
}

// applyStatus sends config as a Server-Side Apply to the /status subresource, without force.
func applyStatus(t *testing.T, c client.Client, config *unstructured.Unstructured) error {
	t.Helper()
	return c.Status().Apply(t.Context(), client.ApplyConfigurationFromUnstructured(config), client.FieldOwner(statusManager))
}

// recreate creates an object, deletes it and creates its successor under the same name. It
// returns both.
func recreate(t *testing.T, k statusKind, namespace, name string) (old, successor *unstructured.Unstructured) {
	t.Helper()
	old = k.create(t, namespace, name)
	if err := cluster.Client.Delete(t.Context(), old); err != nil {
		t.Fatalf("deleting %s %s/%s: %v", k.name, namespace, name, err)
	}
	expectNotFound(t, k.kind, namespace, name)
	successor = k.create(t, namespace, name)
	if successor.GetUID() == old.GetUID() {
		t.Fatalf("the successor has the old object's UID %s", old.GetUID())
	}
	return old, successor
}

// Row 27: a /status apply carrying the UID of a deleted object, after a new object was created
// under the same name. A custom resource answers 200 and the status lands on the successor: its
// status strategy replaces the request's metadata with the stored object's, so the UID is never
// compared. A Service, a built-in type, keeps the request's UID and validates it like any
// update: 422 "field is immutable", and the successor is untouched (as row 10 on the main
// resource).
func TestRow27_StatusApplyWithADeletedObjectsUID(t *testing.T) {
	for _, k := range statusKinds {
		t.Run(k.name, func(t *testing.T) {
			g := NewWithT(t)
			ns := cluster.Namespace(t)
			old, successor := recreate(t, k, ns, "row27")
			c, rec := cluster.RecordingClient(t)

			err := applyStatus(t, c, statusConfig(k, ns, "row27", string(old.GetUID()), "", "for-the-old-object"))

			got := get(t, k.kind, ns, "row27")
			g.Expect(got.GetUID()).To(Equal(successor.GetUID()))
			switch k.name {
			case widget.name:
				g.Expect(err).NotTo(HaveOccurred())
				diff(t, "requests", []testcluster.Request{{Method: http.MethodPatch, Path: resourcePath(k.kind, ns, "row27") + "/status", StatusCode: http.StatusOK}}, rec.Requests(), testcluster.IgnoreRequestSize)
				g.Expect(k.observed(got)).To(Equal("for-the-old-object"), "the status landed on the successor")
			default:
				status := statusError(t, err)
				g.Expect(status.Code).To(Equal(int32(http.StatusUnprocessableEntity)))
				g.Expect(status.Reason).To(Equal(metav1.StatusReasonInvalid))
				g.Expect(status.Details).NotTo(BeNil())
				diff(t, "causes", []metav1.StatusCause{{
					Type:    metav1.CauseTypeFieldValueInvalid,
					Message: `Invalid value: "` + string(old.GetUID()) + `": field is immutable`,
					Field:   "metadata.uid",
				}}, distinct(status.Details.Causes))
				g.Expect(got.GetResourceVersion()).To(Equal(successor.GetResourceVersion()), "the successor was written")
				g.Expect(k.observed(got)).To(BeEmpty())
			}
		})
	}
}

// Row 11 on /status: a /status apply with a stale metadata.resourceVersion (another client wrote
// the object since) is a 409 "the object has been modified", and the status is not written.
func TestStatusApply_StaleResourceVersionIsAConflict(t *testing.T) {
	for _, k := range statusKinds {
		t.Run(k.name, func(t *testing.T) {
			g := NewWithT(t)
			ns := cluster.Namespace(t)
			obj := k.create(t, ns, "stale")
			stale := obj.GetResourceVersion()
			obj.SetLabels(map[string]string{"written": "since"})
			g.Expect(cluster.Client.Update(t.Context(), obj, client.FieldOwner(userManager))).To(Succeed())
			g.Expect(obj.GetResourceVersion()).NotTo(Equal(stale))

			err := applyStatus(t, cluster.Client, statusConfig(k, ns, "stale", "", stale, "stale"))

			status := statusError(t, err)
			g.Expect(status.Code).To(Equal(int32(http.StatusConflict)))
			g.Expect(status.Reason).To(Equal(metav1.StatusReasonConflict))
			g.Expect(status.Message).To(Equal(`Operation cannot be fulfilled on ` + k.plural + qualifier(k.kind) + ` "stale": the object has been modified; please apply your changes to the latest version and try again`))
			got := get(t, k.kind, ns, "stale")
			g.Expect(got.GetResourceVersion()).To(Equal(obj.GetResourceVersion()), "the object was written")
			g.Expect(k.observed(got)).To(BeEmpty())
		})
	}
}

// Row 11 on /status: a /status apply with the current metadata.resourceVersion (and the current
// UID) succeeds and writes the status.
func TestStatusApply_CurrentResourceVersionSucceeds(t *testing.T) {
	for _, k := range statusKinds {
		t.Run(k.name, func(t *testing.T) {
			g := NewWithT(t)
			ns := cluster.Namespace(t)
			obj := k.create(t, ns, "current")
			c, rec := cluster.RecordingClient(t)

			g.Expect(applyStatus(t, c, statusConfig(k, ns, "current", string(obj.GetUID()), obj.GetResourceVersion(), "current"))).To(Succeed())

			diff(t, "requests", []testcluster.Request{{Method: http.MethodPatch, Path: resourcePath(k.kind, ns, "current") + "/status", StatusCode: http.StatusOK}}, rec.Requests(), testcluster.IgnoreRequestSize)
			got := get(t, k.kind, ns, "current")
			g.Expect(got.GetResourceVersion()).NotTo(Equal(obj.GetResourceVersion()))
			g.Expect(k.observed(got)).To(Equal("current"))
		})
	}
}

// Rows 11 and 27: after delete and recreate under the same name, a /status apply carrying the
// deleted object's metadata.resourceVersion is a 409 "the object has been modified" for both
// kinds, and the successor is untouched. Unlike the UID (row 27), the resourceVersion guards a
// custom resource's /status.
func TestStatusApply_DeletedObjectsResourceVersionIsAConflictOnTheSuccessor(t *testing.T) {
	for _, k := range statusKinds {
		t.Run(k.name, func(t *testing.T) {
			g := NewWithT(t)
			ns := cluster.Namespace(t)
			old, successor := recreate(t, k, ns, "replaced")

			err := applyStatus(t, cluster.Client, statusConfig(k, ns, "replaced", "", old.GetResourceVersion(), "for-the-old-object"))

			status := statusError(t, err)
			g.Expect(status.Code).To(Equal(int32(http.StatusConflict)))
			g.Expect(status.Reason).To(Equal(metav1.StatusReasonConflict))
			g.Expect(status.Message).To(Equal(`Operation cannot be fulfilled on ` + k.plural + qualifier(k.kind) + ` "replaced": the object has been modified; please apply your changes to the latest version and try again`))
			got := get(t, k.kind, ns, "replaced")
			g.Expect(got.GetUID()).To(Equal(successor.GetUID()))
			g.Expect(got.GetResourceVersion()).To(Equal(successor.GetResourceVersion()), "the successor was written")
			g.Expect(k.observed(got)).To(BeEmpty())
		})
	}
}

// Rows 8, 9 and 11 on /status: a /status apply to an object that no longer exists creates
// nothing, but how it is refused depends on the kind.
//
// A custom resource's /status never creates: 404 NotFound whatever the apply carries (nothing,
// the deleted object's UID or its resourceVersion), before the UID is looked at.
//
// A Service allows create on update, and its /status keeps that, so the apply takes the create
// path of the main resource (rows 8, 9, 11): with the deleted object's UID it is the 409 "uid
// mismatch" of row 9; without it, or with only a resourceVersion (no create guard, row 11), only
// create validation stops it, here with 422 "spec.ports: Required value" because a status
// configuration has no spec.
func TestStatusApply_ToADeletedObjectCreatesNothing(t *testing.T) {
	type want struct {
		code    int32
		reason  metav1.StatusReason
		message func(old *unstructured.Unstructured) string
	}
	notFound := want{http.StatusNotFound, metav1.StatusReasonNotFound, func(*unstructured.Unstructured) string {
		return `widgets.test.ssakit.dev "gone" not found`
	}}
	invalid := want{http.StatusUnprocessableEntity, metav1.StatusReasonInvalid, func(*unstructured.Unstructured) string {
		return `Service "gone" is invalid: spec.ports: Required value`
	}}
	uidMismatch := want{http.StatusConflict, metav1.StatusReasonConflict, func(old *unstructured.Unstructured) string {
		return `Operation cannot be fulfilled on services "gone": uid mismatch: the provided object specified uid ` + string(old.GetUID()) + `, and no existing object was found`
	}}
	for _, tc := range []struct {
		precondition    string
		withUID, withRV bool
		widget, service want
	}{
		{precondition: "none", widget: notFound, service: invalid},
		{precondition: "uid", withUID: true, widget: notFound, service: uidMismatch},
		{precondition: "resourceVersion", withRV: true, widget: notFound, service: invalid},
	} {
		for _, k := range statusKinds {
			t.Run(k.name+"/"+tc.precondition, func(t *testing.T) {
				g := NewWithT(t)
				ns := cluster.Namespace(t)
				old := k.create(t, ns, "gone")
				g.Expect(cluster.Client.Delete(t.Context(), old)).To(Succeed())
				var uid, resourceVersion string
				if tc.withUID {
					uid = string(old.GetUID())
				}
				if tc.withRV {
					resourceVersion = old.GetResourceVersion()
				}
				w := tc.widget
				if k.name == service.name {
					w = tc.service
				}

				err := applyStatus(t, cluster.Client, statusConfig(k, ns, "gone", uid, resourceVersion, "for-the-deleted-object"))

				status := statusError(t, err)
				g.Expect(status.Code).To(Equal(w.code))
				g.Expect(status.Reason).To(Equal(w.reason))
				g.Expect(status.Message).To(Equal(w.message(old)))
				expectNotFound(t, k.kind, ns, "gone")
			})
		}
	}
}

// qualifier is what follows the plural in a group-qualified resource name: ".group" for a
// resource in a named group, nothing in the core group.
func qualifier(k kind) string {
	if k.gvk.Group == "" {
		return ""
	}
	return "." + k.gvk.Group
}
