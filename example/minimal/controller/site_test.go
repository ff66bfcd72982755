package controller_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	minimalv1alpha1 "github.com/ssakit/ssakit/example/minimal/api/v1alpha1"
	minimalapplyconfiguration "github.com/ssakit/ssakit/example/minimal/api/v1alpha1/applyconfiguration"
	"github.com/ssakit/ssakit/example/minimal/controller"
	"github.com/ssakit/ssakit/example/minimal/dns"
	"github.com/ssakit/ssakit/pkg/ssatest"
)

// deleteDelay is how long the test DNS provider takes to delete a record.
const deleteDelay = 30 * time.Second

// fixture is a Site reconciler on a fake client, with a DNS provider on a clock the test moves.
type fixture struct {
	client client.Client
	dns    *dns.Memory
	now    time.Time
	r      reconcile.Reconciler
}

// newFixture returns the reconciler over a fake client that holds objs. The fake client is set
// up by ssatest with the schema generated with the apply configurations, and Site's status
// subresource, as the CRD declares it.
func newFixture(t *testing.T, objs ...client.Object) *fixture {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := minimalv1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	f := &fixture{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	f.client = ssatest.NewClientBuilder(scheme, minimalapplyconfiguration.NewTypeConverter(scheme)).
		WithStatusSubresource(&minimalv1alpha1.Site{}).
		WithObjects(objs...).
		Build()
	f.dns = dns.NewMemory(deleteDelay)
	f.dns.Now = func() time.Time { return f.now }
	f.readThrough(t, f.client)
	return f
}

// readThrough has the reconciler read through cache, as a manager's client reads its informer
// cache, and write through it to the fake client.
func (f *fixture) readThrough(t *testing.T, cache client.Client) {
	t.Helper()
	r, err := controller.NewReconciler(ssatest.Cluster{Client: cache}, f.dns)
	if err != nil {
		t.Fatal(err)
	}
	f.r = r
}

// reconcile reconciles the Site "hello" once.
func (f *fixture) reconcile(t *testing.T) reconcile.Result {
	t.Helper()
	result, err := f.r.Reconcile(t.Context(), reconcile.Request{NamespacedName: client.ObjectKeyFromObject(site())})
	if err != nil {
		t.Fatalf("reconcile: %v", err)
	}
	return result
}

// get reads obj back from the fake client.
func (f *fixture) get(t *testing.T, obj client.Object) client.Object {
	t.Helper()
	if err := f.client.Get(t.Context(), client.ObjectKeyFromObject(obj), obj); err != nil {
		t.Fatalf("reading %T %s: %v", obj, obj.GetName(), err)
	}
	return obj
}

// site returns the Site "hello" as the API server would store it. The fake client never sets
// metadata.generation; the server starts it at 1, and the status reports it as observedGeneration.
func site() *minimalv1alpha1.Site {
	return &minimalv1alpha1.Site{
		ObjectMeta: metav1.ObjectMeta{Namespace: "web", Name: "hello", Generation: 1},
		Spec:       minimalv1alpha1.SiteSpec{Hostname: "hello.example.com", Address: "192.0.2.10", Page: "<h1>Hello</h1>"},
	}
}

func page() *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "web", Name: "hello"}}
}

// ready returns the status and reason of the Site's Ready condition.
func ready(t *testing.T, s *minimalv1alpha1.Site) string {
	t.Helper()
	cond := meta.FindStatusCondition(s.Status.Conditions, minimalv1alpha1.ConditionReady)
	if cond == nil {
		return "no Ready condition"
	}
	return string(cond.Status) + " " + cond.Reason
}

func TestReconcile_NewSiteGetsTheFinalizerAPageItControlsAndReady(t *testing.T) {
	g := NewWithT(t)
	f := newFixture(t, site())

	g.Expect(f.reconcile(t)).To(Equal(reconcile.Result{}))

	got := f.get(t, site()).(*minimalv1alpha1.Site)
	g.Expect(got.Finalizers).To(ConsistOf(controller.Finalizer))
	g.Expect(ready(t, got)).To(Equal("True Serving"))
	g.Expect(got.Status.ObservedGeneration).To(Equal(int64(1)))
	cm := f.get(t, page()).(*corev1.ConfigMap)
	if d := cmp.Diff(map[string]string{"index.html": "<h1>Hello</h1>"}, cm.Data); d != "" {
		t.Errorf("the page's data (-want +got):\n%s", d)
	}
	yes := true
	want := []metav1.OwnerReference{{APIVersion: "minimal.ssakit.dev/v1alpha1", Kind: "Site", Name: "hello", UID: got.UID, Controller: &yes, BlockOwnerDeletion: &yes}}
	if d := cmp.Diff(want, cm.OwnerReferences); d != "" {
		t.Errorf("the page's owner references (-want +got):\n%s", d)
	}
	address, ok := f.dns.Resolve("hello.example.com")
	g.Expect(ok).To(BeTrue(), "the DNS record exists")
	g.Expect(address).To(Equal("192.0.2.10"))
}

func TestReconcile_SecondReconcileOfAnUnchangedSiteWritesNothing(t *testing.T) {
	g := NewWithT(t)
	f := newFixture(t, site())
	f.reconcile(t)
	siteBefore, pageBefore := f.get(t, site()).GetResourceVersion(), f.get(t, page()).GetResourceVersion()

	f.reconcile(t)

	// The fake writes every apply it gets, even one that changes nothing: the resourceVersions
	// show that neither the finalizer, the page nor the status was sent again.
	g.Expect(f.get(t, site()).GetResourceVersion()).To(Equal(siteBefore))
	g.Expect(f.get(t, page()).GetResourceVersion()).To(Equal(pageBefore))
}

func TestReconcile_PageEditedBySomeoneElseIsPutBackAndKeysTheyAddedStay(t *testing.T) {
	g := NewWithT(t)
	f := newFixture(t, site())
	f.reconcile(t)
	edited := f.get(t, page()).(*corev1.ConfigMap)
	edited.Data = map[string]string{"index.html": "defaced", "robots.txt": "User-agent: *"}
	g.Expect(f.client.Update(t.Context(), edited, client.FieldOwner("kubectl-edit"))).To(Succeed())

	f.reconcile(t)

	got := f.get(t, page()).(*corev1.ConfigMap)
	if d := cmp.Diff(map[string]string{"index.html": "<h1>Hello</h1>", "robots.txt": "User-agent: *"}, got.Data); d != "" {
		t.Errorf("the page's data (-want +got):\n%s", d)
	}
}

func TestReconcile_ConfigMapOfTheSitesNameNotCreatedForItIsLeftAlone(t *testing.T) {
	isController := true
	tests := map[string]struct {
		owners []metav1.OwnerReference
		why    string
	}{
		"no owner":           {nil, "was not created for Site hello"},
		"another controller": {[]metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "web", UID: "0a0a0a0a-0000-0000-0000-000000000001", Controller: &isController}}, "already controlled by Deployment web"},
	}
	for name, tc := range tests {
		owners := tc.owners
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			theirs := page()
			theirs.OwnerReferences = owners
			theirs.Data = map[string]string{"index.html": "theirs"}
			f := newFixture(t, site(), theirs)
			before := f.get(t, page()).(*corev1.ConfigMap)

			result := f.reconcile(t)

			g.Expect(result.RequeueAfter).To(BeNumerically(">", 0), "the Site looks again later, as no event comes when the name is freed")
			after := f.get(t, page()).(*corev1.ConfigMap)
			g.Expect(after.ResourceVersion).To(Equal(before.ResourceVersion), "the ConfigMap was written")
			if d := cmp.Diff(owners, after.OwnerReferences); d != "" {
				t.Errorf("owner references (-want +got):\n%s", d)
			}
			got := f.get(t, site()).(*minimalv1alpha1.Site)
			g.Expect(ready(t, got)).To(Equal("False NameTaken"))
			g.Expect(meta.FindStatusCondition(got.Status.Conditions, minimalv1alpha1.ConditionReady).Message).
				To(ContainSubstring(tc.why))
		})
	}
}

func TestReconcile_ConfigMapTheCacheHasNotSeenYetIsNotAdopted(t *testing.T) {
	g := NewWithT(t)
	f := newFixture(t, site())
	// A cache that lags: someone creates the ConfigMap after the cache last caught up, and the
	// controller's reads do not show it yet.
	f.readThrough(t, ssatest.NewLaggingClient(f.client))
	theirs := page()
	theirs.Data = map[string]string{"index.html": "theirs"}
	g.Expect(f.client.Create(t.Context(), theirs, client.FieldOwner("someone"))).To(Succeed())

	result, err := f.r.Reconcile(t.Context(), reconcile.Request{NamespacedName: client.ObjectKeyFromObject(site())})

	// The controller creates a ConfigMap it does not see, and a create fails where the name is
	// taken (ssa.ErrStale): the reconcile is retried soon, quietly, from a cache that has caught
	// up by then.
	got := f.get(t, page()).(*corev1.ConfigMap)
	g.Expect(got.OwnerReferences).To(BeEmpty(), "the ConfigMap was adopted")
	g.Expect(got.Data).To(Equal(map[string]string{"index.html": "theirs"}))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(result.RequeueAfter).To(BeNumerically(">", 0), "the reconcile is not retried")
	g.Expect(ready(t, f.get(t, site()).(*minimalv1alpha1.Site))).To(Equal("no Ready condition"), "the reconcile saw the ConfigMap: the cache did not lag")
}

func TestReconcile_HostnameWithAnotherOwnersRecordIsLeftAlone(t *testing.T) {
	g := NewWithT(t)
	f := newFixture(t, site())
	g.Expect(f.dns.Upsert(t.Context(), "hello.example.com", "198.51.100.7", "someone-else")).To(Succeed())

	f.reconcile(t)

	address, _ := f.dns.Resolve("hello.example.com")
	g.Expect(address).To(Equal("198.51.100.7"))
	g.Expect(ready(t, f.get(t, site()).(*minimalv1alpha1.Site))).To(Equal("False NameTaken"))
	err := f.client.Get(t.Context(), client.ObjectKeyFromObject(page()), &corev1.ConfigMap{})
	g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "a page for a Site without its record: %v", err)
}

func TestCleanup_WaitsUntilTheDNSRecordIsGoneThenReleasesTheSite(t *testing.T) {
	g := NewWithT(t)
	f := newFixture(t, site())
	f.reconcile(t)
	g.Expect(f.client.Delete(t.Context(), site())).To(Succeed()) // the finalizer holds it: terminating

	result := f.reconcile(t)

	g.Expect(result).To(Equal(reconcile.Result{RequeueAfter: deleteDelay}), "the cleanup waits as long as the provider says")
	g.Expect(f.get(t, site()).GetFinalizers()).To(ConsistOf(controller.Finalizer), "the Site is held while its record goes")
	_, ok := f.dns.Resolve("hello.example.com")
	g.Expect(ok).To(BeTrue(), "the record resolves until its deletion completes")

	f.now = f.now.Add(deleteDelay / 2)
	g.Expect(f.reconcile(t)).To(Equal(reconcile.Result{RequeueAfter: deleteDelay / 2}), "a look before the record is gone waits again")

	f.now = f.now.Add(deleteDelay / 2)
	g.Expect(f.reconcile(t)).To(Equal(reconcile.Result{}))

	_, ok = f.dns.Resolve("hello.example.com")
	g.Expect(ok).To(BeFalse(), "the record is gone")
	err := f.client.Get(t.Context(), client.ObjectKeyFromObject(site()), &minimalv1alpha1.Site{})
	g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "the Site is still there: %v", err)
}
