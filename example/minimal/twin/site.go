// Package twin is the Site controller of package controller written the plain kubebuilder way,
// without ssakit: controllerutil.AddFinalizer and RemoveFinalizer with Update, Status().Update,
// and controllerutil.CreateOrUpdate with SetControllerReference. It does what package controller
// does, down to leaving alone what it did not create.
//
// It is not wired anywhere and has no tests: it is kept so that the line count that compares the
// two (example/minimal/README.md) can be reproduced, and it compiles with the rest of the module
// so that the comparison stays honest as both change.
package twin

import (
	"context"
	"errors"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	minimalv1alpha1 "github.com/ssakit/ssakit/example/minimal/api/v1alpha1"
	"github.com/ssakit/ssakit/example/minimal/dns"
)

const (
	// Name is the controller's name, and the field manager of its writes.
	Name = "site"
	// Finalizer holds a Site until its DNS record is gone.
	Finalizer = "minimal.ssakit.dev/dns-record"
)

// errNameTaken says that a ConfigMap of the Site's name exists that the Site does not control.
var errNameTaken = errors.New("a ConfigMap of the Site's name exists that was not created for it; it is left as it is: delete or rename it")

// SiteReconciler reconciles Sites.
type SiteReconciler struct {
	client.Client
	DNS dns.Provider
}

// SetupWithManager registers the Site controller with mgr.
func (r *SiteReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&minimalv1alpha1.Site{}).
		Owns(&corev1.ConfigMap{}).
		Named(Name).
		Complete(r)
}

// Reconcile adds the finalizer to a live Site, makes its DNS record and ConfigMap and reports
// Ready; on a terminating Site it deletes the record, waits until it is gone, and removes the
// finalizer.
func (r *SiteReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	site := &minimalv1alpha1.Site{}
	if err := r.Get(ctx, req.NamespacedName, site); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !site.DeletionTimestamp.IsZero() {
		if !controllerutil.ContainsFinalizer(site, Finalizer) {
			return ctrl.Result{}, nil
		}
		wait, err := r.DNS.Delete(ctx, site.Spec.Hostname, string(site.UID))
		if err != nil || wait > 0 {
			return ctrl.Result{RequeueAfter: wait}, err
		}
		controllerutil.RemoveFinalizer(site, Finalizer)
		return ctrl.Result{}, client.IgnoreNotFound(r.Update(ctx, site, client.FieldOwner(Name)))
	}
	if controllerutil.AddFinalizer(site, Finalizer) {
		if err := r.Update(ctx, site, client.FieldOwner(Name)); err != nil {
			return ctrl.Result{}, err
		}
	}
	err := r.DNS.Upsert(ctx, site.Spec.Hostname, site.Spec.Address, string(site.UID))
	if err == nil {
		err = r.page(ctx, site)
	}
	if errors.Is(err, dns.ErrTaken) || errors.Is(err, errNameTaken) {
		// No event comes when the name is freed: look again in a while.
		return ctrl.Result{RequeueAfter: time.Minute}, r.report(ctx, site, metav1.ConditionFalse, minimalv1alpha1.ReasonNameTaken, err.Error())
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, r.report(ctx, site, metav1.ConditionTrue, minimalv1alpha1.ReasonServing, site.Spec.Hostname+" points at "+site.Spec.Address)
}

// page creates or updates the Site's ConfigMap. CreateOrUpdate reads it from the cache, and
// creates it when the cache has none: a create fails where someone took the name a moment ago,
// so nothing is adopted. A ConfigMap the Site does not control is errNameTaken, and not written.
func (r *SiteReconciler) page(ctx context.Context, site *minimalv1alpha1.Site) error {
	page := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: site.Namespace, Name: site.Name}}
	_, err := controllerutil.CreateOrUpdate(ctx, r.Client, page, func() error {
		if !page.CreationTimestamp.IsZero() && !metav1.IsControlledBy(page, site) {
			return errNameTaken
		}
		// Keys someone else added are theirs: set only index.html.
		if page.Data == nil {
			page.Data = map[string]string{}
		}
		page.Data["index.html"] = site.Spec.Page
		return controllerutil.SetControllerReference(site, page, r.Scheme())
	})
	return err
}

// report writes the Site's status: the Ready condition and observedGeneration.
func (r *SiteReconciler) report(ctx context.Context, site *minimalv1alpha1.Site, status metav1.ConditionStatus, reason, message string) error {
	meta.SetStatusCondition(&site.Status.Conditions, metav1.Condition{Type: minimalv1alpha1.ConditionReady, Status: status, Reason: reason, Message: message})
	site.Status.ObservedGeneration = site.Generation
	return r.Status().Update(ctx, site, client.FieldOwner(Name))
}
