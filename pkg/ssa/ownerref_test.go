package ssa_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	rbacv1ac "k8s.io/client-go/applyconfigurations/rbac/v1"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/ssakit/ssakit/pkg/ssa"
)

// web is the owner of the tests: a Deployment as read from the API server.
func web() *appsv1.Deployment {
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "web", UID: "d-web"}}
}

// webSettings is the configuration of web's child.
func webSettings() *corev1ac.ConfigMapApplyConfiguration {
	return corev1ac.ConfigMap("web-settings", "team-a").WithData(map[string]string{"color": "blue"})
}

// liveWebSettings is web's child as a controller's cache holds it, with refs.
func liveWebSettings(refs ...metav1.OwnerReference) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "web-settings", UID: "c-settings", OwnerReferences: refs}}
}

func controllerRef(apiVersion, kind, name, uid string) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: apiVersion, Kind: kind, Name: name, UID: types.UID(uid), Controller: new(true), BlockOwnerDeletion: new(true)}
}

// wantRef is the reference controllerutil.SetControllerReference builds for owner.
func wantRef(apiVersion, kind, name, uid string) metav1ac.OwnerReferenceApplyConfiguration {
	return *metav1ac.OwnerReference().WithAPIVersion(apiVersion).WithKind(kind).WithName(name).WithUID(types.UID(uid)).
		WithController(true).WithBlockOwnerDeletion(true)
}

func TestSetControllerReference_BuildsTheReferenceControllerutilBuilds(t *testing.T) {
	webRef := []metav1ac.OwnerReferenceApplyConfiguration{wantRef("apps/v1", "Deployment", "web", "d-web")}
	for _, tc := range []struct {
		name  string
		owner client.Object
		live  client.Object
		want  []metav1ac.OwnerReferenceApplyConfiguration
	}{
		{name: "no live copy yet", owner: web(), want: webRef},
		{name: "a nil pointer for the live copy", owner: web(), live: (*corev1.ConfigMap)(nil), want: webRef},
		{name: "live already controlled by the owner: idempotent", owner: web(),
			live: liveWebSettings(controllerRef("apps/v1", "Deployment", "web", "d-web")), want: webRef},
		{name: "live controlled by the owner, referred to at another version", owner: web(),
			live: liveWebSettings(controllerRef("apps/v1beta2", "Deployment", "web", "d-web")), want: webRef},
		// controllerutil compares API group, kind and name (its referSameObject), not UIDs: the
		// owner deleted and created again under its name controls its child again.
		{name: "live controlled by an earlier object of the owner's kind and name", owner: web(),
			live: liveWebSettings(controllerRef("apps/v1", "Deployment", "web", "d-web-before")), want: webRef},
		{name: "live owned, not controlled, by another object", owner: web(),
			live: liveWebSettings(metav1.OwnerReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "api", UID: "d-api"}), want: webRef},
		{name: "a cluster-scoped owner of a namespaced child", owner: &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a", UID: "n-team-a"}},
			want: []metav1ac.OwnerReferenceApplyConfiguration{wantRef("v1", "Namespace", "team-a", "n-team-a")}},
		{name: "an unstructured owner of a custom kind", owner: unstructuredOwner("example.com/v1", "Widget", "team-a", "w", "u-w"),
			want: []metav1ac.OwnerReferenceApplyConfiguration{wantRef("example.com/v1", "Widget", "w", "u-w")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			config := webSettings()

			got, err := ssa.SetControllerReference(tc.owner, config, tc.live, clientgoscheme.Scheme)

			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(got).To(BeIdenticalTo(config), "the configuration returned, to chain")
			if d := cmp.Diff(tc.want, got.OwnerReferences); d != "" {
				t.Errorf("owner references (-want +got):\n%s", d)
			}
			g.Expect(got.Data).To(Equal(map[string]string{"color": "blue"}), "the rest of the configuration")
		})
	}
}

func TestSetControllerReference_ClusterScopedChild(t *testing.T) {
	t.Run("a cluster-scoped owner", func(t *testing.T) {
		owner := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a", UID: "n-team-a"}}

		got, err := ssa.SetControllerReference(owner, rbacv1ac.ClusterRole("team-a-reader"), nil, clientgoscheme.Scheme)

		NewWithT(t).Expect(err).NotTo(HaveOccurred())
		if d := cmp.Diff([]metav1ac.OwnerReferenceApplyConfiguration{wantRef("v1", "Namespace", "team-a", "n-team-a")}, got.OwnerReferences); d != "" {
			t.Errorf("owner references (-want +got):\n%s", d)
		}
	})
	t.Run("a namespaced owner is refused", func(t *testing.T) {
		g := NewWithT(t)
		config := rbacv1ac.ClusterRole("team-a-reader")

		got, err := ssa.SetControllerReference(web(), config, nil, clientgoscheme.Scheme)

		g.Expect(err).To(MatchError(And(ContainSubstring("ClusterRole team-a-reader is cluster-scoped"), ContainSubstring("Deployment team-a/web"),
			ContainSubstring("namespaced"), ContainSubstring("garbage collector"))))
		g.Expect(got).To(BeIdenticalTo(config))
		g.Expect(config.OwnerReferences).To(BeEmpty(), "a refused reference is not added")
	})
}

func TestSetControllerReference_Refuses(t *testing.T) {
	otherController := controllerRef("apps/v1", "Deployment", "api", "d-api")
	for _, tc := range []struct {
		name   string
		owner  client.Object
		live   client.Object
		scheme *runtime.Scheme
		want   []string // in the error
	}{
		{name: "an owner in another namespace", owner: &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "team-b", Name: "web", UID: "d-web"}},
			want: []string{"ConfigMap team-a/web-settings", "Deployment team-b/web", "namespace", "garbage collector"}},
		{name: "an owner without a UID", owner: &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "web"}},
			want: []string{"Deployment team-a/web has no UID", "read from the API server"}},
		{name: "an owner of a kind the scheme does not know", owner: web(), scheme: runtime.NewScheme(),
			want: []string{"*v1.Deployment", "scheme"}},
		{name: "a nil owner", owner: nil, want: []string{"ConfigMap team-a/web-settings", "owner is nil"}},
		{name: "a nil pointer owner", owner: (*appsv1.Deployment)(nil), want: []string{"owner is nil"}},
		{name: "a live copy of another object", owner: web(),
			live: &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "api-settings"}},
			want: []string{"ConfigMap team-a/api-settings", "ConfigMap team-a/web-settings"}},
		{name: "a live copy of another kind", owner: web(),
			live: &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "web-settings"}},
			want: []string{"Secret team-a/web-settings", "ConfigMap team-a/web-settings"}},
		{name: "live controlled by another object", owner: web(), live: liveWebSettings(otherController),
			want: []string{"ConfigMap team-a/web-settings is already controlled by Deployment api, not by Deployment web"}},
		{name: "live controlled by an object of another kind and the owner's name", owner: web(),
			live: liveWebSettings(controllerRef("apps/v1", "StatefulSet", "web", "s-web")),
			want: []string{"already controlled by StatefulSet web, not by Deployment web"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			config := webSettings()
			scheme := tc.scheme
			if scheme == nil {
				scheme = clientgoscheme.Scheme
			}

			got, err := ssa.SetControllerReference(tc.owner, config, tc.live, scheme)

			g.Expect(err).To(HaveOccurred())
			for _, s := range tc.want {
				g.Expect(err.Error()).To(ContainSubstring(s))
			}
			g.Expect(got).To(BeIdenticalTo(config), "the configuration, as it was")
			g.Expect(config.OwnerReferences).To(BeEmpty(), "a refused reference is not added")
		})
	}
}

func TestSetControllerReference_RefusesWithControllerutilsAlreadyOwnedError(t *testing.T) {
	g := NewWithT(t)
	other := controllerRef("apps/v1", "Deployment", "api", "d-api")
	live := liveWebSettings(metav1.OwnerReference{APIVersion: "v1", Kind: "Namespace", Name: "team-a", UID: "n-team-a"}, other)

	_, err := ssa.SetControllerReference(web(), webSettings(), live, clientgoscheme.Scheme)

	var owned *controllerutil.AlreadyOwnedError
	g.Expect(errors.As(err, &owned)).To(BeTrue(), "errors.As(err, *controllerutil.AlreadyOwnedError): %v", err)
	g.Expect(owned.Object).To(BeIdenticalTo(live), "AlreadyOwnedError.Object")
	if d := cmp.Diff(other, owned.Owner); d != "" {
		t.Errorf("AlreadyOwnedError.Owner, the other controller (-want +got):\n%s", d)
	}
	g.Expect(err.Error()).To(ContainSubstring("another name"), "what to do")
}

func TestSetControllerReference_RefusesWithoutAScheme(t *testing.T) {
	_, err := ssa.SetControllerReference(web(), webSettings(), nil, nil)

	NewWithT(t).Expect(err).To(MatchError(ContainSubstring("scheme is nil")))
}

func unstructuredOwner(apiVersion, kind, namespace, name, uid string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	u.SetNamespace(namespace)
	u.SetName(name)
	u.SetUID(types.UID(uid))
	return u
}
