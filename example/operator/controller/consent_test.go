package controller

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestAccepts(t *testing.T) {
	m := &Mirror{operatorNamespace: "configmirror-system"}
	for _, tc := range []struct {
		name      string
		namespace string
		accept    *string // nil: no annotation
		want      bool
		why       string
	}{
		{name: "no annotation", namespace: "platform", want: false,
			why: "namespace platform does not accept copies from tenant-a; the operator writes nothing there: an admin of platform must name tenant-a in its annotation mirror.ssakit.dev/accept-from (source namespaces, comma-separated; * does not cover the kube-* namespaces or the operator's own)"},
		{name: "empty annotation", namespace: "platform", accept: new(""), want: false,
			why: "namespace platform does not accept copies from tenant-a; the operator writes nothing there: an admin of platform must name tenant-a in its annotation mirror.ssakit.dev/accept-from (source namespaces, comma-separated; * does not cover the kube-* namespaces or the operator's own)"},
		{name: "the source namespace", namespace: "platform", accept: new("tenant-a"), want: true},
		{name: "one of several, with spaces", namespace: "platform", accept: new("tenant-b , tenant-a,"), want: true},
		{name: "another namespace only", namespace: "platform", accept: new("tenant-b"), want: false,
			why: "namespace platform does not accept copies from tenant-a; the operator writes nothing there: an admin of platform must name tenant-a in its annotation mirror.ssakit.dev/accept-from (source namespaces, comma-separated; * does not cover the kube-* namespaces or the operator's own)"},
		{name: "a prefix of the source namespace", namespace: "platform", accept: new("tenant"), want: false,
			why: "namespace platform does not accept copies from tenant-a; the operator writes nothing there: an admin of platform must name tenant-a in its annotation mirror.ssakit.dev/accept-from (source namespaces, comma-separated; * does not cover the kube-* namespaces or the operator's own)"},
		{name: "any", namespace: "platform", accept: new("*"), want: true},
		{name: "any, in kube-system", namespace: "kube-system", accept: new("*"), want: false,
			why: "namespace kube-system does not accept copies from tenant-a; the operator writes nothing there: an admin of kube-system must name tenant-a in its annotation mirror.ssakit.dev/accept-from (source namespaces, comma-separated; * does not cover the kube-* namespaces or the operator's own)"},
		{name: "any, in kube-public", namespace: "kube-public", accept: new("tenant-b,*"), want: false,
			why: "namespace kube-public does not accept copies from tenant-a; the operator writes nothing there: an admin of kube-public must name tenant-a in its annotation mirror.ssakit.dev/accept-from (source namespaces, comma-separated; * does not cover the kube-* namespaces or the operator's own)"},
		{name: "any, in the operator's namespace", namespace: "configmirror-system", accept: new("*"), want: false,
			why: "namespace configmirror-system does not accept copies from tenant-a; the operator writes nothing there: an admin of configmirror-system must name tenant-a in its annotation mirror.ssakit.dev/accept-from (source namespaces, comma-separated; * does not cover the kube-* namespaces or the operator's own)"},
		{name: "named, in kube-system", namespace: "kube-system", accept: new("tenant-a"), want: true},
		{name: "named, in the operator's namespace", namespace: "configmirror-system", accept: new("*,tenant-a"), want: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: tc.namespace}}
			if tc.accept != nil {
				ns.Annotations = map[string]string{AcceptFromAnnotation: *tc.accept}
			}
			ok, why := m.accepts(ns, "tenant-a")
			if ok != tc.want || why != tc.why {
				t.Errorf("accepts = %t, %q; want %t, %q", ok, why, tc.want, tc.why)
			}
		})
	}
}

// An operator run from a kubeconfig has no namespace of its own: * covers every namespace but
// the kube-* ones.
func TestAccepts_AnyOutsideTheClusterCoversAllButKubeNamespaces(t *testing.T) {
	m := &Mirror{}
	for _, tc := range []struct {
		namespace string
		want      bool
	}{{"configmirror-system", true}, {"kube-system", false}} {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: tc.namespace, Annotations: map[string]string{AcceptFromAnnotation: "*"}}}
		if ok, _ := m.accepts(ns, "tenant-a"); ok != tc.want {
			t.Errorf("accepts(%s with *) = %t, want %t", tc.namespace, ok, tc.want)
		}
	}
}
