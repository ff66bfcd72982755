// Package controller is the ConfigMirror controller: a pkg/reconcile Handler that copies a source
// ConfigMap into target namespaces, and whose cleanup deletes the copies.
//
// It writes and deletes only copies it created for the very mirror at hand: a ConfigMap that
// carries MirrorUIDLabel with the mirror's UID. A copy is created with a plain create, which the
// API server refuses when the name is taken, so a ConfigMap someone else made is never adopted:
// the mirror reports it (reason TargetConflict) and leaves it as it is.
//
// It holds cluster-wide rights on ConfigMaps, so it never lends them to whoever writes a
// ConfigMirror: it writes only into a namespace that accepts copies from the mirror's namespace
// (AcceptFromAnnotation, which only those who may edit the Namespace can set), and deletes its
// copies from one that withdrew. The admission policy of config/admission adds the check of the
// requesting user's own rights, which only the API server knows.
package controller

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/apimachinery/pkg/util/sets"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/csaupgrade"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	mirrorv1alpha1 "github.com/ssakit/ssakit/example/operator/api/v1alpha1"
	mirrorapplyconfiguration "github.com/ssakit/ssakit/example/operator/api/v1alpha1/applyconfiguration"
	mirrorac "github.com/ssakit/ssakit/example/operator/api/v1alpha1/applyconfiguration/api/v1alpha1"
	ssareconcile "github.com/ssakit/ssakit/pkg/reconcile"
	"github.com/ssakit/ssakit/pkg/ssa"
)

const (
	// Name is the controller's name and its field manager for copies and status. The finalizer
	// has a field manager of its own, FinalizerFieldOwner.
	Name = "configmirror"
	// Finalizer guards the copies: they live in other namespaces, where owner references cannot
	// reach, so only this finalizer gets them deleted.
	Finalizer = "mirror.ssakit.dev/cleanup"

	// MirrorUIDLabel marks a ConfigMap as the copy made for the ConfigMirror with this UID. A UID
	// always fits a label value, whatever the length of the mirror's name, and a mirror deleted
	// and recreated under the same name has a new one, so it never takes over the old copies.
	// Remove the label from a copy to keep it: the operator then leaves it alone.
	MirrorUIDLabel = "mirror.ssakit.dev/mirror-uid"
	// MirrorAnnotation names a copy's ConfigMirror as namespace/name, for people and for the
	// watch that brings the mirror back when its copy changes.
	MirrorAnnotation = "mirror.ssakit.dev/mirror"

	// sourceIndex indexes ConfigMirrors by spec.source, to find those a source change concerns.
	sourceIndex = "spec.source"
	// targetIndex indexes ConfigMirrors by the namespace/name of each copy they want, to find
	// those a ConfigMap in a target namespace concerns (one blocking a copy, say).
	targetIndex = "copy"
	// namespaceIndex indexes ConfigMirrors by target namespace, to find those a namespace's
	// creation concerns.
	namespaceIndex = "spec.targetNamespaces"
)

// +kubebuilder:rbac:groups=mirror.ssakit.dev,resources=configmirrors,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=mirror.ssakit.dev,resources=configmirrors/status,verbs=patch
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// FinalizerFieldOwner is the field manager that owns Finalizer and nothing else.
var FinalizerFieldOwner = ssa.FinalizerFieldOwner(Name, Finalizer)

// Mirror reconciles ConfigMirrors.
type Mirror struct {
	// client reads from the cache and writes.
	client client.Client
	// apiReader reads from the API server: for the cleanup, which must see a copy created a
	// moment ago, and to tell who holds a name a create found taken.
	apiReader client.Reader
	status    *ssareconcile.StatusApplier
	// copies applies the copies, and sends nothing for a copy its cached copy proves unchanged.
	copies   *ssa.Applier
	recorder events.EventRecorder
	// operatorNamespace is Options.OperatorNamespace.
	operatorNamespace string
}

// Options are the ConfigMirror controller's settings.
type Options struct {
	// Recorder receives the controller's events. Nil: with a manager, the manager's recorder;
	// otherwise no events.
	Recorder events.EventRecorder
	// OperatorNamespace is the namespace the operator runs in (its Pod's: POD_NAMESPACE in
	// config/manager/deployment.yaml). Like the kube-* namespaces, it accepts copies only from
	// the source namespaces its AcceptFromAnnotation names: * does not cover it. Empty: the
	// operator runs outside the cluster (from a kubeconfig, say), and only the kube-* namespaces
	// are guarded that way.
	OperatorNamespace string
	// LeaderElection says that the manager elects a leader, as the operator's --leader-elect
	// does: a cleanup then skips the live read of its mirror when the cached copy is newer than
	// the election (ssareconcile.Options.LeaderElection).
	LeaderElection bool
}

// NewReconciler returns the ConfigMirror reconciler on c: a manager, or an ssatest.Cluster over a
// fake client in a unit test.
func NewReconciler(c ssareconcile.Cluster, opts Options) (*Mirror, *ssareconcile.Reconciler[*mirrorv1alpha1.ConfigMirror], error) {
	recorder := opts.Recorder
	if provider, ok := c.(eventRecorderProvider); ok && recorder == nil {
		recorder = provider.GetEventRecorder(Name)
	}
	// The generated schema lets the status applier prove a status unchanged without a request.
	statusOpts := ssareconcile.StatusApplierOptions{
		TypeConverters: []managedfields.TypeConverter{mirrorapplyconfiguration.NewTypeConverter(c.GetClient().Scheme())},
	}
	m := &Mirror{
		client:            c.GetClient(),
		apiReader:         c.GetAPIReader(),
		status:            ssareconcile.NewStatusApplier(c.GetClient(), Name, statusOpts),
		copies:            ssa.NewApplier(c.GetClient(), Name, ssa.ApplierOptions{}),
		recorder:          recorder,
		operatorNamespace: opts.OperatorNamespace,
	}
	r, err := ssareconcile.New[*mirrorv1alpha1.ConfigMirror](c, m, ssareconcile.Options{Controller: Name, Finalizer: Finalizer, Recorder: recorder, LeaderElection: opts.LeaderElection})
	if err != nil {
		return nil, nil, err
	}
	return m, r, nil
}

// eventRecorderProvider is the part of a manager.Manager that gives out event recorders.
type eventRecorderProvider interface {
	GetEventRecorder(name string) recorder.EventRecorder
}

// SetupWithManager registers the ConfigMirror controller with mgr.
func SetupWithManager(mgr ctrl.Manager, opts Options) error {
	indexes := map[string]func(*mirrorv1alpha1.ConfigMirror) []string{
		sourceIndex:    func(m *mirrorv1alpha1.ConfigMirror) []string { return []string{m.Spec.Source} },
		namespaceIndex: func(m *mirrorv1alpha1.ConfigMirror) []string { return m.Spec.TargetNamespaces },
		targetIndex: func(m *mirrorv1alpha1.ConfigMirror) []string {
			keys := make([]string, 0, len(m.Spec.TargetNamespaces))
			for _, ns := range m.Spec.TargetNamespaces {
				keys = append(keys, ns+"/"+m.Spec.Source)
			}
			return keys
		},
	}
	for field, extract := range indexes {
		if err := mgr.GetFieldIndexer().IndexField(context.Background(), &mirrorv1alpha1.ConfigMirror{}, field,
			func(o client.Object) []string { return extract(o.(*mirrorv1alpha1.ConfigMirror)) }); err != nil {
			return fmt.Errorf("indexing ConfigMirrors by %s: %w", field, err)
		}
	}
	m, r, err := NewReconciler(mgr, opts)
	if err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&mirrorv1alpha1.ConfigMirror{}).
		Named(Name).
		Watches(&corev1.ConfigMap{}, handler.EnqueueRequestsFromMapFunc(m.mirrorsOfConfigMap)).
		Watches(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(m.mirrorsOfNamespace)).
		Complete(r)
}

// mirrorsOfConfigMap maps a ConfigMap to the ConfigMirrors it matters to: the mirror a copy names,
// every mirror whose source it is, and every mirror that wants a copy where it is.
func (m *Mirror) mirrorsOfConfigMap(ctx context.Context, cm client.Object) []reconcile.Request {
	var requests []reconcile.Request
	if namespace, name, ok := strings.Cut(cm.GetAnnotations()[MirrorAnnotation], "/"); ok {
		requests = append(requests, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: namespace, Name: name}})
	}
	requests = append(requests, m.mirrorsWith(ctx, sourceIndex, cm.GetName(), client.InNamespace(cm.GetNamespace()))...)
	return append(requests, m.mirrorsWith(ctx, targetIndex, cm.GetNamespace()+"/"+cm.GetName())...)
}

// mirrorsOfNamespace maps a Namespace to the ConfigMirrors that target it: its creation, and a
// change of its AcceptFromAnnotation, concern them.
func (m *Mirror) mirrorsOfNamespace(ctx context.Context, ns client.Object) []reconcile.Request {
	return m.mirrorsWith(ctx, namespaceIndex, ns.GetName())
}

func (m *Mirror) mirrorsWith(ctx context.Context, index, value string, opts ...client.ListOption) []reconcile.Request {
	mirrors := &mirrorv1alpha1.ConfigMirrorList{}
	if err := m.client.List(ctx, mirrors, append(opts, client.MatchingFields{index: value})...); err != nil {
		log.FromContext(ctx).Error(err, "Listing the ConfigMirrors an object concerns failed", "index", index, "value", value)
		return nil
	}
	requests := make([]reconcile.Request, 0, len(mirrors.Items))
	for _, mirror := range mirrors.Items {
		requests = append(requests, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&mirror)})
	}
	return requests
}

// Reconcile brings every target namespace's copy in line with the source, each target on its
// own so that one failing target never holds up the others, deletes the copies spec no longer
// asks for, and reports each target in status.
func (m *Mirror) Reconcile(ctx context.Context, mirror *mirrorv1alpha1.ConfigMirror) (reconcile.Result, error) {
	source := &corev1.ConfigMap{}
	err := m.client.Get(ctx, client.ObjectKey{Namespace: mirror.Namespace, Name: mirror.Spec.Source}, source)
	if apierrors.IsNotFound(err) {
		// The source watch brings the mirror back when the ConfigMap appears. Until then the
		// copies in target namespaces stay, whatever their name: a source deleted by mistake,
		// or a typo in a changed spec.source, loses nothing downstream.
		deleteErr := m.deleteUnwantedCopies(ctx, mirror, m.client, true)
		message := fmt.Sprintf("ConfigMap %s/%s does not exist; create it or fix spec.source", mirror.Namespace, mirror.Spec.Source)
		if deleteErr != nil {
			message += "; " + deleteErr.Error()
		}
		return reconcile.Result{}, errors.Join(deleteErr,
			m.report(ctx, mirror, nil, metav1.ConditionFalse, mirrorv1alpha1.ReasonSourceNotFound, message))
	}
	if err != nil {
		return reconcile.Result{}, err
	}

	targets := make([]mirrorv1alpha1.TargetStatus, 0, len(mirror.Spec.TargetNamespaces))
	var writeErrs []error
	stale := false
	for _, ns := range mirror.Spec.TargetNamespaces {
		target, err := m.syncTarget(ctx, mirror, source, ns)
		targets = append(targets, target)
		if err != nil {
			writeErrs = append(writeErrs, err)
			stale = stale || errors.Is(err, ssa.ErrStale) || errors.Is(err, ssa.ErrGone) || errors.Is(err, ssa.ErrReplaced)
		}
	}
	if stale {
		// A copy changed since it was read: what this reconcile saw is out of date, so it
		// reports nothing and runs again, from a cache that has caught up.
		return reconcile.Result{}, errors.Join(writeErrs...)
	}
	// Unwanted copies go after the wanted ones are in place; one that cannot be deleted holds
	// up nothing else, and status says so.
	deleteErr := m.deleteUnwantedCopies(ctx, mirror, m.client, false)
	ready, reason, message := readiness(mirror, targets, deleteErr)
	before := slices.Clone(mirror.Status.Targets)
	if err := m.report(ctx, mirror, targets, ready, reason, message); err != nil {
		return reconcile.Result{}, err
	}
	m.announce(mirror, before, targets)
	// A refused write or delete is retried with backoff; conflicts and missing namespaces wait
	// for the watch events that resolve them.
	return reconcile.Result{}, errors.Join(append(writeErrs, deleteErr)...)
}

// Cleanup deletes every copy of the mirror. It lists them with the API reader, which cannot lag
// behind a copy created a moment before the mirror was deleted. It is idempotent: copies already
// gone are skipped.
func (m *Mirror) Cleanup(ctx context.Context, mirror *mirrorv1alpha1.ConfigMirror) (reconcile.Result, error) {
	gone := mirror.DeepCopy()
	gone.Spec.TargetNamespaces = nil
	return reconcile.Result{}, m.deleteUnwantedCopies(ctx, gone, m.apiReader, false)
}

// syncTarget makes the copy in namespace match source, if the operator may, and says how the
// target stands. The error is a write the API server refused, worth retrying.
func (m *Mirror) syncTarget(ctx context.Context, mirror *mirrorv1alpha1.ConfigMirror, source *corev1.ConfigMap, namespace string) (mirrorv1alpha1.TargetStatus, error) {
	target := mirrorv1alpha1.TargetStatus{Namespace: namespace}
	if namespace == mirror.Namespace {
		return notSynced(target, mirrorv1alpha1.ReasonSourceNamespace,
			"namespace %s is the ConfigMirror's own namespace, where the source lives; a mirror never writes there: remove it from spec.targetNamespaces", namespace), nil
	}
	ns := &corev1.Namespace{}
	err := m.client.Get(ctx, client.ObjectKey{Name: namespace}, ns)
	if apierrors.IsNotFound(err) {
		return notSynced(target, mirrorv1alpha1.ReasonNamespaceNotFound,
			"namespace %s does not exist; create it or remove it from spec.targetNamespaces", namespace), nil
	}
	if err != nil {
		return writeFailed(target, err)
	}
	if !ns.DeletionTimestamp.IsZero() {
		// The server refuses new objects there; the namespace watch brings the mirror back
		// when a namespace of that name is created again.
		return notSynced(target, mirrorv1alpha1.ReasonNamespaceTerminating,
			"namespace %s is being deleted; the copy is not kept there", namespace), nil
	}
	if ok, why := m.accepts(ns, mirror.Namespace); !ok {
		// Nothing there is read or written; a copy made before the namespace withdrew its
		// consent is deleted with the copies spec no longer asks for.
		return notSynced(target, mirrorv1alpha1.ReasonNamespaceNotConsenting, "%s", why), nil
	}

	key := client.ObjectKey{Namespace: namespace, Name: source.Name}
	live := &corev1.ConfigMap{}
	err = m.client.Get(ctx, key, live)
	if apierrors.IsNotFound(err) {
		live, err = m.createCopy(ctx, mirror, source, namespace)
	}
	if err != nil {
		return writeFailed(target, err)
	}
	if live.Labels[MirrorUIDLabel] != string(mirror.UID) {
		return m.conflict(mirror, target, live), nil
	}
	sent, err := m.applyCopy(ctx, mirror, source, live)
	switch notOurs, immutable := (*notACopyError)(nil), (*immutableCopyError)(nil); {
	case errors.As(err, &notOurs):
		return notSynced(target, mirrorv1alpha1.ReasonCopyNotOwned,
			"ConfigMap %s/%s carries this mirror's label, but %s, so the operator no longer takes it for its copy and leaves it untouched: delete it to let the operator make a new copy, or remove the label to keep it",
			namespace, source.Name, notOurs.why), nil
	case errors.As(err, &immutable):
		return notSynced(target, mirrorv1alpha1.ReasonCopyImmutable,
			"the copy %s/%s was made immutable and no longer matches the source; delete it and the operator creates it again", namespace, source.Name), nil
	case err != nil:
		return writeFailed(target, err)
	}
	// A key someone else wrote stays in the copy, even one the source dropped: the operator
	// owns only its own keys (docs/ssa-semantics.md row 3). Then the copy is not the source's.
	if extra := extraKeys(live, source); !sent && len(extra) > 0 {
		return notSynced(target, mirrorv1alpha1.ReasonCopyDiffers,
			"the copy %s/%s has keys the source does not (%s), written by someone else; the operator leaves them: remove them from the copy, or remove the copy's label to keep it as it is",
			namespace, source.Name, strings.Join(extra, ", ")), nil
	}
	target.Synced, target.Reason = true, mirrorv1alpha1.ReasonSynced
	return target, nil
}

// extraKeys returns the keys of copied's data and binaryData that source does not have, sorted.
func extraKeys(copied, source *corev1.ConfigMap) []string {
	var extra []string
	for key := range copied.Data {
		if _, ok := source.Data[key]; !ok {
			extra = append(extra, key)
		}
	}
	for key := range copied.BinaryData {
		if _, ok := source.BinaryData[key]; !ok {
			extra = append(extra, key)
		}
	}
	slices.Sort(extra)
	return extra
}

// createCopy creates the copy of source in namespace. A create fails when the name is taken,
// whoever took it a moment ago (docs/ssa-semantics.md row 28): then the ConfigMap holding it is
// read from the API server and returned, and the caller checks whose it is.
func (m *Mirror) createCopy(ctx context.Context, mirror *mirrorv1alpha1.ConfigMirror, source *corev1.ConfigMap, namespace string) (*corev1.ConfigMap, error) {
	copied := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: source.Name, Labels: copyLabels(mirror), Annotations: copyAnnotations(mirror)},
		Data:       source.Data,
		BinaryData: source.BinaryData,
	}
	err := m.client.Create(ctx, copied, client.FieldOwner(Name))
	if apierrors.IsAlreadyExists(err) {
		existing := &corev1.ConfigMap{}
		if err := m.apiReader.Get(ctx, client.ObjectKeyFromObject(copied), existing); err != nil {
			return nil, err
		}
		return existing, nil
	}
	if err != nil {
		return nil, err
	}
	log.FromContext(ctx).Info("Created copy", "namespace", namespace)
	return copied, nil
}

// applyCopy applies the copy's content to live, unless the operator's ssa.Applier proves from
// live's values and managedFields that the apply would change nothing: at steady state it sends
// nothing, and reads nothing.
//
// Before it writes, it reads the ConfigMap from the API server and checks that it is a copy made
// for mirror (isCopyOf), or returns a *notACopyError. The copy's fields created with a plain
// create belong to the operator's Update entry; they move into its Apply entry first
// (client-go's csaupgrade, a JSON patch guarded by resourceVersion), so that a key the source
// drops leaves the copy too (docs/ssa-semantics.md row 3). The copy is the operator's, so the
// apply takes its fields back (force) from anyone who edited them; keys and labels others added
// stay theirs.
//
// Every write carries the UID and resourceVersion of that read: if the copy changed since (its
// label removed by someone keeping it), or was deleted and its name taken, the API server refuses
// it (rows 9 to 11) and nothing is written; the error is ssa.ErrStale, ErrGone or ErrReplaced.
func (m *Mirror) applyCopy(ctx context.Context, mirror *mirrorv1alpha1.ConfigMirror, source, live *corev1.ConfigMap) (sent bool, err error) {
	config := func(resourceVersion string) *corev1ac.ConfigMapApplyConfiguration {
		return corev1ac.ConfigMap(live.Name, live.Namespace).
			WithUID(live.UID).
			WithResourceVersion(resourceVersion).
			WithLabels(copyLabels(mirror)).
			WithAnnotations(copyAnnotations(mirror)).
			WithData(source.Data).
			WithBinaryData(source.BinaryData)
	}
	if changes, err := m.copies.WouldChange(live, config(live.ResourceVersion)); err != nil || !changes {
		return false, err
	}

	ref := ssa.ObjectRef{GroupVersionKind: corev1.SchemeGroupVersion.WithKind("ConfigMap"), Namespace: live.Namespace, Name: live.Name, UID: live.UID}
	fresh := &corev1.ConfigMap{}
	if err := m.apiReader.Get(ctx, client.ObjectKeyFromObject(live), fresh); err != nil {
		if apierrors.IsNotFound(err) {
			return false, &ssa.ObjectError{Object: ref, Reason: ssa.ErrGone, Detail: "the copy was deleted since it was read", Err: err}
		}
		return false, err
	}
	if fresh.UID != live.UID {
		return false, &ssa.ObjectError{Object: ref, Reason: ssa.ErrReplaced, Detail: "the copy was deleted and its name taken since it was read"}
	}
	if ok, why := isCopyOf(mirror, fresh); !ok {
		return false, &notACopyError{existing: fresh, why: why}
	}
	if patch, err := csaupgrade.UpgradeManagedFieldsPatch(fresh, sets.New(Name), Name); err != nil {
		return false, err
	} else if patch != nil {
		if err := m.client.Patch(ctx, fresh, client.RawPatch(types.JSONPatchType, patch), client.FieldOwner(Name)); err != nil {
			return true, ssa.FromApplyError(ref, err)
		}
		sent = true
	}
	// An immutable ConfigMap refuses changes to data and binaryData only.
	dataMatches := maps.Equal(fresh.Data, source.Data) && maps.EqualFunc(fresh.BinaryData, source.BinaryData, bytes.Equal)
	if fresh.Immutable != nil && *fresh.Immutable && !dataMatches {
		return sent, &immutableCopyError{}
	}
	applied, err := m.copies.Apply(ctx, fresh, config(fresh.ResourceVersion), client.ForceOwnership)
	return sent || applied, err
}

// isCopyOf reports whether cm, read from the API server with all its managedFields, is a copy
// made for mirror: it carries the mirror's UID label, and that label is owned by the operator's
// field manager and by no other. A ConfigMap that merely carries the label (a user's clone of a
// copy, created with the label) is not: its creator owns the label too. When it is not, why says
// so for a status message.
func isCopyOf(mirror *mirrorv1alpha1.ConfigMirror, cm *corev1.ConfigMap) (ok bool, why string) {
	if cm.Labels[MirrorUIDLabel] != string(mirror.UID) {
		return false, "it does not carry this mirror's label"
	}
	ownership, err := ssa.ParseOwnership(cm.ManagedFields)
	if err != nil {
		return false, "its managedFields cannot be read: " + err.Error()
	}
	owners := ownership.Owners(fieldpath.MakePathOrDie("metadata", "labels", MirrorUIDLabel))
	others := slices.DeleteFunc(slices.Clone(owners), func(owner string) bool { return owner == Name })
	switch {
	case len(owners) == 0:
		return false, "no field manager owns the label (its managedFields were reset)"
	case len(others) > 0:
		return false, fmt.Sprintf("the label is also owned by %s", strings.Join(others, ", "))
	}
	return true, ""
}

// notACopyError says that a ConfigMap carrying the mirror's label is not a copy made for it.
type notACopyError struct {
	existing *corev1.ConfigMap
	why      string
}

func (e *notACopyError) Error() string {
	return fmt.Sprintf("ConfigMap %s/%s is not a copy made for this mirror: %s", e.existing.Namespace, e.existing.Name, e.why)
}

// immutableCopyError says that the copy needs an update and was made immutable.
type immutableCopyError struct{}

func (*immutableCopyError) Error() string { return "the copy is immutable" }

// conflict reports that namespace holds a ConfigMap of the source's name that is not this
// mirror's copy.
func (m *Mirror) conflict(mirror *mirrorv1alpha1.ConfigMirror, target mirrorv1alpha1.TargetStatus, existing *corev1.ConfigMap) mirrorv1alpha1.TargetStatus {
	if uid := existing.Labels[MirrorUIDLabel]; uid != "" && uid != string(mirror.UID) && existing.Annotations[MirrorAnnotation] == mirror.Namespace+"/"+mirror.Name {
		return notSynced(target, mirrorv1alpha1.ReasonTargetConflict,
			"ConfigMap %s/%s is a copy made for an earlier ConfigMirror of this name (UID %s) and not deleted by it; it is left untouched: delete it to let this mirror make its own copy",
			existing.Namespace, existing.Name, uid)
	}
	return notSynced(target, mirrorv1alpha1.ReasonTargetConflict,
		"ConfigMap %s/%s exists and is not a copy made for this mirror; it is left untouched: delete or rename it, or remove %s from spec.targetNamespaces",
		existing.Namespace, existing.Name, existing.Namespace)
}

// announced are the target reasons worth a Warning event: someone else's ConfigMap in the way,
// and a namespace that does not accept the copy.
var announced = []string{mirrorv1alpha1.ReasonTargetConflict, mirrorv1alpha1.ReasonNamespaceNotConsenting}

// announce emits a Warning event for each target whose conflict or refusal the status, just
// written, records for the first time. The status records it from then on, and a steady-state
// reconcile sends nothing.
func (m *Mirror) announce(mirror *mirrorv1alpha1.ConfigMirror, before, after []mirrorv1alpha1.TargetStatus) {
	if m.recorder == nil {
		return
	}
	for _, t := range after {
		if !slices.Contains(announced, t.Reason) || slices.ContainsFunc(before, func(b mirrorv1alpha1.TargetStatus) bool {
			return b.Namespace == t.Namespace && b.Reason == t.Reason
		}) {
			continue
		}
		// The target namespace as the related object keeps the events of two targets apart: the
		// recorder folds events of one object, reason and action into one series.
		target := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: t.Namespace}}
		m.recorder.Eventf(mirror, target, corev1.EventTypeWarning, t.Reason, "SyncCopy", "%s", t.Message)
	}
}

// deleteUnwantedCopies deletes every copy of mirror, as reader lists them, that spec no longer
// asks for (in a namespace no longer listed, or, unless keepOtherNames, under a source name no
// longer used), or that its namespace no longer accepts (AcceptFromAnnotation, as the cache
// shows the namespace). Each is read again from the API server and deleted only if it is a copy
// made for mirror (isCopyOf), on the condition that its UID and resourceVersion are still those
// read (row 29): a ConfigMap changed since (its label removed to keep it, say) is not deleted; in
// a reconcile the watch event of that change brings the mirror back, a cleanup fails and is
// retried. Nothing in the mirror's own namespace is ever deleted: the operator never writes
// there. It goes through every copy, and returns the deletes that failed.
func (m *Mirror) deleteUnwantedCopies(ctx context.Context, mirror *mirrorv1alpha1.ConfigMirror, reader client.Reader, keepOtherNames bool) error {
	copies := &corev1.ConfigMapList{}
	if err := reader.List(ctx, copies, client.MatchingLabels{MirrorUIDLabel: string(mirror.UID)}); err != nil {
		return fmt.Errorf("listing the copies: %w", err)
	}
	cleanup := reader == m.apiReader
	var errs []error
	for i := range copies.Items {
		listed := &copies.Items[i]
		unwanted, err := m.unwanted(ctx, mirror, listed, keepOtherNames)
		if err != nil {
			errs = append(errs, err)
		}
		if !unwanted {
			continue
		}
		if err := m.deleteCopy(ctx, mirror, listed, cleanup); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// unwanted reports whether listed, a ConfigMap that carries mirror's label, is one spec no
// longer asks for or its namespace no longer accepts. One in the mirror's own namespace never is:
// the operator never writes there. When the namespace cannot be read, it is not unwanted, and
// the error says why.
func (m *Mirror) unwanted(ctx context.Context, mirror *mirrorv1alpha1.ConfigMirror, listed *corev1.ConfigMap, keepOtherNames bool) (bool, error) {
	if listed.Namespace == mirror.Namespace {
		return false, nil
	}
	wanted := slices.Contains(mirror.Spec.TargetNamespaces, listed.Namespace) && (keepOtherNames || listed.Name == mirror.Spec.Source)
	if !wanted {
		return true, nil
	}
	withdrawn, err := m.withdrawn(ctx, mirror, listed.Namespace)
	if err != nil {
		return false, fmt.Errorf("reading the namespace of the copy %s/%s: %w", listed.Namespace, listed.Name, err)
	}
	return withdrawn, nil
}

// deleteCopy reads listed again from the API server and deletes it only if it is a copy made for
// mirror (isCopyOf), on the condition that its UID and resourceVersion are still those read. A
// ConfigMap already gone is done; one that is not a copy is left in place (leaveNotACopy); one
// changed since the read is left too, silently in a reconcile (the watch brings the mirror
// back), and as an error in a cleanup, which is retried.
func (m *Mirror) deleteCopy(ctx context.Context, mirror *mirrorv1alpha1.ConfigMirror, listed *corev1.ConfigMap, cleanup bool) error {
	stale := &corev1.ConfigMap{}
	err := m.apiReader.Get(ctx, client.ObjectKeyFromObject(listed), stale)
	switch {
	case apierrors.IsNotFound(err):
		return nil
	case err != nil:
		return fmt.Errorf("reading the copy %s/%s: %w", listed.Namespace, listed.Name, err)
	}
	if ok, why := isCopyOf(mirror, stale); !ok {
		m.leaveNotACopy(ctx, mirror, stale, why, cleanup)
		return nil
	}
	err = m.client.Delete(ctx, stale, client.Preconditions{UID: &stale.UID, ResourceVersion: &stale.ResourceVersion})
	switch {
	case apierrors.IsNotFound(err), apierrors.IsConflict(err) && !cleanup:
		return nil
	case err != nil:
		return fmt.Errorf("deleting the copy %s/%s: %w", listed.Namespace, listed.Name, err)
	}
	log.FromContext(ctx).Info("Deleted copy", "namespace", stale.Namespace, "name", stale.Name)
	return nil
}

// leaveNotACopy says that cm, which carries mirror's label but is not its copy for the reason
// why, is left in place. It is never deleted; said once per cleanup, and logged in reconciles.
func (m *Mirror) leaveNotACopy(ctx context.Context, mirror *mirrorv1alpha1.ConfigMirror, cm *corev1.ConfigMap, why string, cleanup bool) {
	log.FromContext(ctx).Info("Leaving a ConfigMap that carries the mirror's label but is not its copy", "namespace", cm.Namespace, "name", cm.Name, "why", why)
	if cleanup && m.recorder != nil {
		m.recorder.Eventf(mirror, nil, corev1.EventTypeWarning, mirrorv1alpha1.ReasonCopyNotOwned, "Cleanup",
			"ConfigMap %s/%s carries this mirror's label but %s; it is left in place: delete it by hand if it is not wanted", cm.Namespace, cm.Name, why)
	}
}

// withdrawn reports whether namespace, as the cache shows it, no longer accepts copies from the
// mirror's namespace. A namespace the cache has not seen has withdrawn nothing.
func (m *Mirror) withdrawn(ctx context.Context, mirror *mirrorv1alpha1.ConfigMirror, namespace string) (bool, error) {
	ns := &corev1.Namespace{}
	if err := m.client.Get(ctx, client.ObjectKey{Name: namespace}, ns); err != nil {
		return false, client.IgnoreNotFound(err)
	}
	ok, _ := m.accepts(ns, mirror.Namespace)
	return !ok, nil
}

// report applies status: each target's state and the Ready condition.
func (m *Mirror) report(ctx context.Context, mirror *mirrorv1alpha1.ConfigMirror, targets []mirrorv1alpha1.TargetStatus, ready metav1.ConditionStatus, reason, message string) error {
	status := mirrorac.ConfigMirrorStatus().
		WithObservedGeneration(mirror.Generation).
		WithConditions(ssareconcile.Condition(mirror.Status.Conditions, metav1.Condition{
			Type: mirrorv1alpha1.ConditionReady, Status: ready, Reason: reason, Message: message, ObservedGeneration: mirror.Generation,
		}))
	for _, t := range targets {
		entry := mirrorac.TargetStatus().WithNamespace(t.Namespace).WithSynced(t.Synced).WithReason(t.Reason)
		if t.Message != "" {
			entry.WithMessage(t.Message)
		}
		status.WithTargets(entry)
	}
	return m.status.Apply(ctx, mirror, status)
}

// readiness sums the targets, and the copies that could not be deleted, up in the Ready
// condition.
func readiness(mirror *mirrorv1alpha1.ConfigMirror, targets []mirrorv1alpha1.TargetStatus, deleteErr error) (metav1.ConditionStatus, string, string) {
	var reasons, messages []string
	for _, t := range targets {
		if !t.Synced {
			reasons = append(reasons, t.Reason)
			messages = append(messages, t.Message)
		}
	}
	var summary []string
	if len(messages) > 0 {
		summary = append(summary, fmt.Sprintf("%d of %d targets not synced: %s", len(messages), len(targets), strings.Join(messages, "; ")))
	}
	if deleteErr != nil {
		reasons = append(reasons, mirrorv1alpha1.ReasonDeleteFailed)
		summary = append(summary, "copies spec no longer asks for could not be deleted, retrying: "+deleteErr.Error())
	}
	if len(reasons) == 0 {
		return metav1.ConditionTrue, mirrorv1alpha1.ReasonSynced,
			fmt.Sprintf("%d copies of ConfigMap %s in sync", len(targets), mirror.Spec.Source)
	}
	reason := reasons[0]
	if slices.ContainsFunc(reasons, func(r string) bool { return r != reason }) {
		reason = mirrorv1alpha1.ReasonTargetsNotSynced
	}
	return metav1.ConditionFalse, reason, strings.Join(summary, "; ")
}

func notSynced(target mirrorv1alpha1.TargetStatus, reason, format string, args ...any) mirrorv1alpha1.TargetStatus {
	target.Synced, target.Reason, target.Message = false, reason, fmt.Sprintf(format, args...)
	return target
}

// writeFailed reports a request the API server refused or failed, and returns it to be retried.
func writeFailed(target mirrorv1alpha1.TargetStatus, err error) (mirrorv1alpha1.TargetStatus, error) {
	err = fmt.Errorf("copy in namespace %s: %w", target.Namespace, err)
	return notSynced(target, mirrorv1alpha1.ReasonWriteFailed, "%v; retrying", err), err
}

func copyLabels(mirror *mirrorv1alpha1.ConfigMirror) map[string]string {
	return map[string]string{MirrorUIDLabel: string(mirror.UID)}
}

func copyAnnotations(mirror *mirrorv1alpha1.ConfigMirror) map[string]string {
	return map[string]string{MirrorAnnotation: mirror.Namespace + "/" + mirror.Name}
}
