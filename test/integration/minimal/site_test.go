package minimal

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	minimalv1alpha1 "github.com/ssakit/ssakit/example/minimal/api/v1alpha1"
	minimalac "github.com/ssakit/ssakit/example/minimal/api/v1alpha1/applyconfiguration/api/v1alpha1"
	"github.com/ssakit/ssakit/example/minimal/controller"
)

const (
	eventually = 30 * time.Second
	poll       = 50 * time.Millisecond
)

// readiness returns the Site's Ready condition as "<status> <reason>" once the status describes
// the current generation.
func readiness(ctx context.Context, key client.ObjectKey) func() string {
	return func() string {
		site := &minimalv1alpha1.Site{}
		if err := user.Get(ctx, key, site); err != nil {
			return err.Error()
		}
		if site.Status.ObservedGeneration != site.Generation {
			return "status not observed yet"
		}
		if ready := meta.FindStatusCondition(site.Status.Conditions, minimalv1alpha1.ConditionReady); ready != nil {
			return string(ready.Status) + " " + ready.Reason
		}
		return "no Ready condition"
	}
}

func TestSite_EndToEnd(t *testing.T) {
	g := NewWithT(t)
	ns := cluster.Namespace(t)
	hostname := ns + ".example.com"
	key := client.ObjectKey{Namespace: ns, Name: "hello"}

	g.Expect(user.Apply(t.Context(), minimalac.Site(key.Name, key.Namespace).WithSpec(minimalac.SiteSpec().
		WithHostname(hostname).WithAddress("192.0.2.10").WithPage("<h1>Hello</h1>")), client.FieldOwner("kubectl"))).To(Succeed())

	g.Eventually(readiness(t.Context(), key)).WithTimeout(eventually).WithPolling(poll).Should(Equal("True Serving"))
	site := &minimalv1alpha1.Site{}
	g.Expect(user.Get(t.Context(), key, site)).To(Succeed())
	g.Expect(site.Finalizers).To(ConsistOf(controller.Finalizer))
	page := &corev1.ConfigMap{}
	g.Expect(user.Get(t.Context(), key, page)).To(Succeed())
	g.Expect(page.Data).To(Equal(map[string]string{"index.html": "<h1>Hello</h1>"}))
	g.Expect(metav1.IsControlledBy(page, site)).To(BeTrue(), "the Site controls its page: %v", page.OwnerReferences)
	address, found := records.Resolve(hostname)
	g.Expect(found).To(BeTrue(), "the DNS record exists")
	g.Expect(address).To(Equal("192.0.2.10"))

	g.Expect(user.Delete(t.Context(), site)).To(Succeed())

	// The finalizer holds the Site while its DNS record goes.
	g.Consistently(func() error { return user.Get(t.Context(), key, &minimalv1alpha1.Site{}) }).
		WithTimeout(deleteDelay/2).WithPolling(poll).Should(Succeed(), "the Site is held while its DNS record goes")
	g.Eventually(func() error { return user.Get(t.Context(), key, &minimalv1alpha1.Site{}) }).
		WithTimeout(eventually).WithPolling(poll).Should(Satisfy(apierrors.IsNotFound), "the Site is gone")
	_, found = records.Resolve(hostname)
	g.Expect(found).To(BeFalse(), "the DNS record is gone")
	// envtest runs no garbage collector: the page's owner reference, checked above, is what gets
	// it deleted with the Site on a real cluster.
}
