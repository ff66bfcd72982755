// Package v1alpha1 is the mirror.ssakit.dev/v1alpha1 API of the example operator: ConfigMirror.
//
// +kubebuilder:object:generate=true
// +kubebuilder:ac:generate=true
// +groupName=mirror.ssakit.dev
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the API group and version of ConfigMirror.
	GroupVersion = schema.GroupVersion{Group: "mirror.ssakit.dev", Version: "v1alpha1"}

	// SchemeGroupVersion is GroupVersion under the name generated code expects.
	SchemeGroupVersion = GroupVersion

	// SchemeBuilder registers the types of this package with a scheme. It is apimachinery's, so
	// the API package depends on nothing heavier.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the types of this package to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &ConfigMirror{}, &ConfigMirrorList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
