package ssatest_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/ssakit/ssakit/pkg/ssa"
	"github.com/ssakit/ssakit/pkg/ssatest"
)

// names returns the names of the ConfigMaps in list.
func names(list *corev1.ConfigMapList) []string {
	var got []string
	for _, cm := range list.Items {
		got = append(got, cm.Name)
	}
	return got
}

func TestLaggingClient_GetServesTheObjectAsItWasWhenItWasMade(t *testing.T) {
	g := NewWithT(t)
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).Build()
	g.Expect(c.Apply(t.Context(), corev1ac.ConfigMap("settings", "demo").WithData(map[string]string{"mode": "fast"}), client.FieldOwner("demo"))).To(Succeed())
	before := get(t, c, configMap(), &corev1.ConfigMap{})
	cache := ssatest.NewLaggingClient(c)

	g.Expect(c.Apply(t.Context(), corev1ac.ConfigMap("settings", "demo").WithData(map[string]string{"mode": "slow"}), client.FieldOwner("demo"))).To(Succeed())

	if d := cmp.Diff(before, get(t, cache, configMap(), &corev1.ConfigMap{})); d != "" {
		t.Errorf("the lagging client's copy (-as it was +got):\n%s", d)
	}
	typed := get(t, c, configMap(), &corev1.ConfigMap{})
	g.Expect(typed.Data).To(Equal(map[string]string{"mode": "slow"}), "the store")
	// Any form of the object: unstructured too.
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("v1")
	u.SetKind("ConfigMap")
	g.Expect(cache.Get(t.Context(), client.ObjectKeyFromObject(before), u)).To(Succeed())
	g.Expect(u.GetResourceVersion()).To(Equal(before.ResourceVersion))
}

func TestLaggingClient_DoesNotSeeWhatWasCreatedOrDeletedSince(t *testing.T) {
	g := NewWithT(t)
	gone := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "gone"}}
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).WithObjects(gone).Build()
	cache := ssatest.NewLaggingClient(c)
	g.Expect(c.Create(t.Context(), configMap())).To(Succeed())
	g.Expect(c.Delete(t.Context(), gone)).To(Succeed())

	err := cache.Get(t.Context(), client.ObjectKeyFromObject(configMap()), &corev1.ConfigMap{})

	g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "err = %v, want the new ConfigMap not found", err)
	g.Expect(cache.Get(t.Context(), client.ObjectKeyFromObject(gone), &corev1.ConfigMap{})).To(Succeed(), "the deleted ConfigMap")
	list := &corev1.ConfigMapList{}
	g.Expect(cache.List(t.Context(), list)).To(Succeed())
	g.Expect(names(list)).To(Equal([]string{"gone"}))
}

// The case a lagging cache makes: a write guarded by the resourceVersion of a copy that lags the
// controller's own write is refused, as the API server refuses it.
func TestLaggingClient_AWriteGuardedByItsCopyIsStale(t *testing.T) {
	g := NewWithT(t)
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).WithObjects(webService()).Build()
	cache := ssatest.NewLaggingClient(c)
	g.Expect(cache.Status().Apply(t.Context(), loadBalancerStatus(), client.FieldOwner("status-owner"))).To(Succeed())
	stale := get(t, cache, webService(), &corev1.Service{})

	err := cache.Status().Apply(t.Context(), loadBalancerStatus().WithResourceVersion(stale.ResourceVersion), client.FieldOwner("status-owner"))

	g.Expect(ssa.FromApplyError(ssa.ObjectRef{}, err)).To(MatchError(ssa.ErrStale))
}

func TestLaggingClient_CatchUpServesTheStoreAsItIsNow(t *testing.T) {
	g := NewWithT(t)
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).Build()
	cache := ssatest.NewLaggingClient(c)
	g.Expect(c.Create(t.Context(), configMap())).To(Succeed())

	cache.CatchUp()

	if d := cmp.Diff(get(t, c, configMap(), &corev1.ConfigMap{}), get(t, cache, configMap(), &corev1.ConfigMap{})); d != "" {
		t.Errorf("the lagging client's copy (-store +got):\n%s", d)
	}
}

func TestLaggingClient_ListsBySelectorsAndIndexesUnderInterceptorFuncs(t *testing.T) {
	g := NewWithT(t)
	byMode := func(obj client.Object) []string { return []string{obj.(*corev1.ConfigMap).Data["mode"]} }
	labelled := func(name, mode string) *corev1.ConfigMap {
		return &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: name, Labels: map[string]string{"app": "demo"}},
			Data:       map[string]string{"mode": mode},
		}
	}
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).
		WithObjects(labelled("a", "fast"), labelled("b", "slow"), configMap()).
		WithIndex(&corev1.ConfigMap{}, "data.mode", byMode).
		WithInterceptorFuncs(interceptor.Funcs{}).
		Build()
	cache := ssatest.NewLaggingClient(c)
	g.Expect(c.Create(t.Context(), labelled("c", "fast"))).To(Succeed())

	var got [][]string
	for _, opts := range [][]client.ListOption{
		{client.MatchingLabels{"app": "demo"}},
		{client.MatchingFields{"data.mode": "fast"}},
		{client.InNamespace("other")},
	} {
		list := &corev1.ConfigMapList{}
		g.Expect(cache.List(t.Context(), list, opts...)).To(Succeed())
		got = append(got, names(list))
	}

	if d := cmp.Diff([][]string{{"a", "b"}, {"a", "settings"}, nil}, got); d != "" {
		t.Errorf("ConfigMaps listed by label, by index, in another namespace (-want +got):\n%s", d)
	}
}

func TestNewLaggingClient_PanicsOnAClientTheKitDidNotBuild(t *testing.T) {
	g := NewWithT(t)

	g.Expect(func() { ssatest.NewLaggingClient(fake.NewClientBuilder().Build()) }).To(PanicWith(ContainSubstring("not a client that ssatest.ClientBuilder.Build returned")))
}

func TestCluster_ReadsTheStoreThroughTheAPIReaderOfALaggingClient(t *testing.T) {
	g := NewWithT(t)
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).Build()
	cache := ssatest.NewLaggingClient(c)
	cluster := ssatest.Cluster{Client: cache}
	g.Expect(c.Create(t.Context(), configMap())).To(Succeed())

	g.Expect(cluster.GetClient()).To(BeIdenticalTo(cache))
	err := cluster.GetClient().Get(t.Context(), client.ObjectKeyFromObject(configMap()), &corev1.ConfigMap{})
	g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "err = %v, want the cache not to have it", err)
	g.Expect(cluster.GetAPIReader().Get(t.Context(), client.ObjectKeyFromObject(configMap()), &corev1.ConfigMap{})).To(Succeed())
}
