// Package controller is a Guestbook controller as kubebuilder scaffolds it and its book teaches
// finalizers: AddFinalizer and Update, cleanup, RemoveFinalizer and Update, then a status update.
// It is the same, byte for byte, in pkg/vet/testdata/src/kubebuilder, where analysistest checks
// the want comments against stubs, and in cmd/ssakit-vet/testdata/kubebuilder, where it compiles
// against the real controller-runtime and the end-to-end test runs the ssakit-vet binary on it.
package controller

import (
	"context"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
)

// guestbookFinalizer is named as the kubebuilder book once named its finalizers: dotted, with no
// path.
const guestbookFinalizer = "storage.finalizers.tutorial.kubebuilder.io"

// GuestbookReconciler reconciles a Guestbook object.
type GuestbookReconciler struct {
	client.Client
	Scheme *runtime.Scheme
}

// +kubebuilder:rbac:groups=webapp.example.com,resources=guestbooks,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=webapp.example.com,resources=guestbooks/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=webapp.example.com,resources=guestbooks/finalizers,verbs=update

// Reconcile moves the cluster state toward the Guestbook's spec.
func (r *GuestbookReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	log := logf.FromContext(ctx)

	guestbook := &Guestbook{}
	if err := r.Get(ctx, req.NamespacedName, guestbook); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}

	if guestbook.DeletionTimestamp.IsZero() {
		if !controllerutil.ContainsFinalizer(guestbook, guestbookFinalizer) {
			controllerutil.AddFinalizer(guestbook, guestbookFinalizer) // want `controllerutil.AddFinalizer on guestbook, written with r.Update \(line 46\)` `finalizer name "storage.finalizers.tutorial.kubebuilder.io" has no path`
			if err := r.Update(ctx, guestbook); err != nil {
				return ctrl.Result{}, err
			}
		}
	} else {
		if controllerutil.ContainsFinalizer(guestbook, guestbookFinalizer) {
			if err := r.deleteExternalResources(ctx, guestbook); err != nil {
				return ctrl.Result{}, err
			}
			controllerutil.RemoveFinalizer(guestbook, guestbookFinalizer) // want `controllerutil.RemoveFinalizer on guestbook, written with r.Update \(line 56\)`
			if err := r.Update(ctx, guestbook); err != nil {
				return ctrl.Result{}, err
			}
		}
		return ctrl.Result{}, nil
	}

	meta.SetStatusCondition(&guestbook.Status.Conditions, metav1.Condition{
		Type:    "Available",
		Status:  metav1.ConditionTrue,
		Reason:  "Reconciled",
		Message: "the guestbook is up",
	})
	if err := r.Status().Update(ctx, guestbook); err != nil {
		log.Error(err, "Failed to update Guestbook status")
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, nil
}

// deleteExternalResources deletes what the Guestbook made outside the cluster.
func (r *GuestbookReconciler) deleteExternalResources(ctx context.Context, guestbook *Guestbook) error {
	logf.FromContext(ctx).Info("Deleting external resources", "guestbook", guestbook.Name)
	return nil
}

// SetupWithManager sets up the controller with the Manager.
func (r *GuestbookReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&Guestbook{}).
		Named("guestbook").
		Complete(r)
}
