package reconcile

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// revisionsByKind answers a List with the resourceVersion it holds for the list's kind.
type revisionsByKind struct {
	client.Reader
	rv    map[string]string
	lists []string
}

func (r *revisionsByKind) List(_ context.Context, list client.ObjectList, _ ...client.ListOption) error {
	kind := list.GetObjectKind().GroupVersionKind().Kind
	r.lists = append(r.lists, kind)
	list.(*metav1.PartialObjectMetadataList).SetResourceVersion(r.rv[kind])
	return nil
}

// The revision read after the election proves nothing about another kind's copies, whose
// resourceVersions need not compare with it (an aggregated API server, another etcd): each kind
// has its own.
func TestElectedRevision_ReadsOneRevisionPerKind(t *testing.T) {
	reader := &revisionsByKind{rv: map[string]string{"ConfigMapList": "1200", "SecretList": "5000000"}}
	e := &electedRevision{reader: reader, scheme: scheme.Scheme}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "x", ResourceVersion: "1300"}}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "y", ResourceVersion: "4999990"}}

	got := []bool{e.covers(t.Context(), cm), e.covers(t.Context(), secret), e.covers(t.Context(), cm)}

	if d := cmp.Diff([]bool{true, false, true}, got); d != "" {
		t.Errorf("copies covered: the ConfigMap at 1300, the Secret at 4999990, the ConfigMap again (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"ConfigMapList", "SecretList"}, reader.lists); d != "" {
		t.Errorf("lists read (-want +got):\n%s", d)
	}
}
