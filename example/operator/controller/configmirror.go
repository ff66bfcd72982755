// Package controller is the ConfigMirror controller: a pkg/reconcile Handler that copies a source
// ConfigMap into target namespaces, and whose cleanup deletes the copies.
package controller

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

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

	// OwnerNamespaceLabel ties a copy to the namespace of its ConfigMirror.
	OwnerNamespaceLabel = "mirror.ssakit.dev/owner-namespace"
	// OwnerNameLabel ties a copy to the name of its ConfigMirror.
	OwnerNameLabel = "mirror.ssakit.dev/owner-name"

	// sourceIndex indexes ConfigMirrors by spec.source, to find those a source change concerns.
	sourceIndex = "spec.source"
	// retryMissingNamespace is how soon a mirror waiting for a target namespace looks again.
	retryMissingNamespace = 15 * time.Second
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
	client client.Client
	status *ssareconcile.StatusApplier
}

// NewReconciler returns the ConfigMirror reconciler on c: a manager, or an ssatest.Cluster over a
// fake client in a unit test. recorder may be nil (no events); with a manager, nil means the
// manager's recorder.
func NewReconciler(c ssareconcile.Cluster, recorder events.EventRecorder) (*Mirror, *ssareconcile.Reconciler[*mirrorv1alpha1.ConfigMirror], error) {
	// The generated schema lets the status applier prove a status unchanged without a request.
	types := mirrorapplyconfiguration.NewTypeConverter(c.GetClient().Scheme())
	m := &Mirror{client: c.GetClient(), status: ssareconcile.NewStatusApplier(c.GetClient(), Name, ssareconcile.WithTypeConverter(types))}
	r, err := ssareconcile.New[*mirrorv1alpha1.ConfigMirror](c, m, ssareconcile.Options{Controller: Name, Finalizer: Finalizer, Recorder: recorder})
	if err != nil {
		return nil, nil, err
	}
	return m, r, nil
}

// SetupWithManager registers the ConfigMirror controller with mgr.
func SetupWithManager(mgr ctrl.Manager) error {
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &mirrorv1alpha1.ConfigMirror{}, sourceIndex,
		func(o client.Object) []string { return []string{o.(*mirrorv1alpha1.ConfigMirror).Spec.Source} }); err != nil {
		return fmt.Errorf("indexing ConfigMirrors by source: %w", err)
	}
	m, r, err := NewReconciler(mgr, nil)
	if err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&mirrorv1alpha1.ConfigMirror{}).
		Named(Name).
		Watches(&corev1.ConfigMap{}, handler.EnqueueRequestsFromMapFunc(m.mirrorsOf)).
		Complete(r)
}

// mirrorsOf maps a ConfigMap to the ConfigMirrors it matters to: the owner of a copy, and every
// mirror whose source it is.
func (m *Mirror) mirrorsOf(ctx context.Context, cm client.Object) []reconcile.Request {
	var requests []reconcile.Request
	if ns, name := cm.GetLabels()[OwnerNamespaceLabel], cm.GetLabels()[OwnerNameLabel]; ns != "" && name != "" {
		requests = append(requests, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: ns, Name: name}})
	}
	mirrors := &mirrorv1alpha1.ConfigMirrorList{}
	if err := m.client.List(ctx, mirrors, client.InNamespace(cm.GetNamespace()), client.MatchingFields{sourceIndex: cm.GetName()}); err != nil {
		log.FromContext(ctx).Error(err, "Listing the ConfigMirrors of a source ConfigMap failed", "configMap", client.ObjectKeyFromObject(cm))
		return requests
	}
	for _, mirror := range mirrors.Items {
		requests = append(requests, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&mirror)})
	}
	return requests
}

// Reconcile copies the source into every target namespace, deletes copies in namespaces no
// longer listed, and reports the result in status.
func (m *Mirror) Reconcile(ctx context.Context, mirror *mirrorv1alpha1.ConfigMirror) (reconcile.Result, error) {
	source := &corev1.ConfigMap{}
	err := m.client.Get(ctx, client.ObjectKey{Namespace: mirror.Namespace, Name: mirror.Spec.Source}, source)
	if apierrors.IsNotFound(err) {
		// The source watch brings the mirror back when the ConfigMap appears.
		return reconcile.Result{}, m.report(ctx, mirror, nil, metav1.ConditionFalse, "SourceNotFound",
			fmt.Sprintf("ConfigMap %s/%s does not exist; create it or fix spec.source", mirror.Namespace, mirror.Spec.Source))
	}
	if err != nil {
		return reconcile.Result{}, err
	}

	var synced, missing []string
	for _, ns := range mirror.Spec.TargetNamespaces {
		err := m.client.Get(ctx, client.ObjectKey{Name: ns}, &corev1.Namespace{})
		if apierrors.IsNotFound(err) {
			missing = append(missing, ns)
			continue
		}
		if err != nil {
			return reconcile.Result{}, err
		}
		if err := m.applyCopy(ctx, mirror, source, ns); err != nil {
			return reconcile.Result{}, err
		}
		synced = append(synced, ns)
	}
	if err := m.deleteCopies(ctx, mirror, mirror.Spec.TargetNamespaces); err != nil {
		return reconcile.Result{}, err
	}

	if len(missing) > 0 {
		return reconcile.Result{RequeueAfter: retryMissingNamespace}, m.report(ctx, mirror, synced, metav1.ConditionFalse, "TargetNamespaceMissing",
			"target namespaces do not exist: "+strings.Join(missing, ", ")+"; create them or remove them from spec.targetNamespaces")
	}
	return reconcile.Result{}, m.report(ctx, mirror, synced, metav1.ConditionTrue, "Synced",
		fmt.Sprintf("%d copies of ConfigMap %s in sync", len(synced), mirror.Spec.Source))
}

// Cleanup deletes every copy of the mirror. It is idempotent: copies already gone are skipped.
func (m *Mirror) Cleanup(ctx context.Context, mirror *mirrorv1alpha1.ConfigMirror) error {
	return m.deleteCopies(ctx, mirror, nil)
}

// applyCopy applies the copy of source in namespace with the controller's manager. The operator
// is the copy's only intended writer, so it takes the fields back if someone else changed them.
func (m *Mirror) applyCopy(ctx context.Context, mirror *mirrorv1alpha1.ConfigMirror, source *corev1.ConfigMap, namespace string) error {
	copyConfig := corev1ac.ConfigMap(source.Name, namespace).
		WithLabels(map[string]string{OwnerNamespaceLabel: mirror.Namespace, OwnerNameLabel: mirror.Name}).
		WithData(source.Data).
		WithBinaryData(source.BinaryData)
	if err := m.client.Apply(ctx, copyConfig, client.FieldOwner(Name), client.ForceOwnership); err != nil {
		return fmt.Errorf("applying the copy in namespace %s: %w", namespace, err)
	}
	return nil
}

// deleteCopies deletes the mirror's copies in every namespace not in keep.
func (m *Mirror) deleteCopies(ctx context.Context, mirror *mirrorv1alpha1.ConfigMirror, keep []string) error {
	copies := &corev1.ConfigMapList{}
	if err := m.client.List(ctx, copies, client.MatchingLabels{OwnerNamespaceLabel: mirror.Namespace, OwnerNameLabel: mirror.Name}); err != nil {
		return err
	}
	for i := range copies.Items {
		stale := &copies.Items[i]
		if slices.Contains(keep, stale.Namespace) {
			continue
		}
		if err := m.client.Delete(ctx, stale, client.Preconditions{UID: &stale.UID}); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("deleting the copy in namespace %s: %w", stale.Namespace, err)
		}
		log.FromContext(ctx).Info("Deleted copy", "namespace", stale.Namespace)
	}
	return nil
}

// report applies status: the synced namespaces and the Ready condition.
func (m *Mirror) report(ctx context.Context, mirror *mirrorv1alpha1.ConfigMirror, synced []string, ready metav1.ConditionStatus, reason, message string) error {
	status := mirrorac.ConfigMirrorStatus().
		WithObservedGeneration(mirror.Generation).
		WithSyncedNamespaces(synced...).
		WithConditions(ssareconcile.Condition(mirror.Status.Conditions, metav1.Condition{
			Type: mirrorv1alpha1.ConditionReady, Status: ready, Reason: reason, Message: message, ObservedGeneration: mirror.Generation,
		}))
	return m.status.Apply(ctx, mirror, status)
}
