// Package controller is the Site controller of the minimal example, built on ssakit's
// reconcile.New with one finalizer. For a live Site it makes the DNS record of spec.hostname and
// applies a ConfigMap of the Site's name, controlled by the Site through an owner reference (the
// garbage collector deletes it with the Site), then reports Ready in status. Its cleanup deletes
// the DNS record and waits until the provider says it is gone.
//
// It never adopts, overwrites or deletes what it did not create: a ConfigMap of the Site's name
// that the Site does not control, or a DNS record of another owner, is reported in status
// (ReasonNameTaken) and left as it is.
package controller

import (
	"context"
	"errors"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/managedfields"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	minimalv1alpha1 "github.com/ssakit/ssakit/example/minimal/api/v1alpha1"
	minimalapplyconfiguration "github.com/ssakit/ssakit/example/minimal/api/v1alpha1/applyconfiguration"
	minimalac "github.com/ssakit/ssakit/example/minimal/api/v1alpha1/applyconfiguration/api/v1alpha1"
	"github.com/ssakit/ssakit/example/minimal/dns"
	ssareconcile "github.com/ssakit/ssakit/pkg/reconcile"
	"github.com/ssakit/ssakit/pkg/ssa"
)

const (
	// Name is the controller's name, and the field manager of the ConfigMaps and the status.
	Name = "site"
	// Finalizer holds a Site until its DNS record is gone.
	Finalizer = "minimal.ssakit.dev/dns-record"
)

// Sites reconciles Sites: the Handler given to reconcile.New.
type Sites struct {
	client client.Client
	dns    dns.Provider
	pages  *ssa.Applier
	status *ssareconcile.StatusApplier
}

// NewReconciler returns the Site reconciler on c: a manager, or an ssatest.Cluster in a unit test.
func NewReconciler(c ssareconcile.Cluster, provider dns.Provider) (*ssareconcile.Reconciler[*minimalv1alpha1.Site], error) {
	// The schema generated with the apply configurations lets the status applier prove a status
	// unchanged without sending it.
	types := []managedfields.TypeConverter{minimalapplyconfiguration.NewTypeConverter(c.GetClient().Scheme())}
	return ssareconcile.New[*minimalv1alpha1.Site](c, &Sites{
		client: c.GetClient(),
		dns:    provider,
		pages:  ssa.NewApplier(c.GetClient(), Name, ssa.ApplierOptions{}),
		status: ssareconcile.NewStatusApplier(c.GetClient(), Name, ssareconcile.StatusApplierOptions{TypeConverters: types}),
	}, ssareconcile.Options{Controller: Name, Finalizer: Finalizer})
}

// SetupWithManager registers the Site controller with mgr.
func SetupWithManager(mgr ctrl.Manager, provider dns.Provider) error {
	r, err := NewReconciler(mgr, provider)
	if err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&minimalv1alpha1.Site{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, r.FinalizerPredicate()))).
		Owns(&corev1.ConfigMap{}).
		Named(Name).
		Complete(r)
}

// Reconcile makes the Site's DNS record and ConfigMap, and reports Ready. It runs only once the
// Site carries the finalizer, so the cleanup covers the record.
func (s *Sites) Reconcile(ctx context.Context, site *minimalv1alpha1.Site) (ctrl.Result, error) {
	err := s.dns.Upsert(ctx, site.Spec.Hostname, site.Spec.Address, string(site.UID))
	if err == nil {
		err = s.page(ctx, site)
	}
	if errors.Is(err, dns.ErrTaken) || errors.Is(err, ssa.ErrNotControlled) {
		// No event comes when the name is freed: look again in a while.
		return ctrl.Result{RequeueAfter: time.Minute}, s.report(ctx, site, metav1.ConditionFalse, minimalv1alpha1.ReasonNameTaken, err.Error())
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, s.report(ctx, site, metav1.ConditionTrue, minimalv1alpha1.ReasonServing, site.Spec.Hostname+" points at "+site.Spec.Address)
}

// Cleanup deletes the Site's DNS record and waits, looking again when the provider says, until it
// is gone. The ConfigMap needs nothing: the garbage collector deletes it with the Site.
func (s *Sites) Cleanup(ctx context.Context, site *minimalv1alpha1.Site) (ctrl.Result, error) {
	wait, err := s.dns.Delete(ctx, site.Spec.Hostname, string(site.UID))
	return ctrl.Result{RequeueAfter: wait}, err
}

// page applies the Site's ConfigMap, index.html, controlled by the Site: ApplyChild creates it
// first when the cache shows none, and writes nothing to a ConfigMap of that name that the Site
// does not control (ssa.ErrNotControlled). The ConfigMap is the Site's: its content is taken back
// from whoever changed it.
func (s *Sites) page(ctx context.Context, site *minimalv1alpha1.Site) error {
	config := corev1ac.ConfigMap(site.Name, site.Namespace).WithData(map[string]string{"index.html": site.Spec.Page})
	_, err := s.pages.ApplyChild(ctx, site, config, client.ForceOwnership)
	return err
}

// report applies the Site's status: the Ready condition, and observedGeneration, which the status
// applier sets to the Site's generation.
func (s *Sites) report(ctx context.Context, site *minimalv1alpha1.Site, status metav1.ConditionStatus, reason, message string) error {
	ready := ssareconcile.Condition(site.Status.Conditions, metav1.Condition{Type: minimalv1alpha1.ConditionReady, Status: status, Reason: reason, Message: message})
	return s.status.Apply(ctx, site, minimalac.SiteStatus().WithConditions(ready))
}
