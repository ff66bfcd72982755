// Package v1 is a stub of k8s.io/api/core/v1 for the analyzers' tests.
package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

type ConfigMap struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Immutable *bool             `json:"immutable,omitempty"`
	Data      map[string]string `json:"data,omitempty"`
}

func (c *ConfigMap) DeepCopyObject() runtime.Object { return c }

type Pod struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec PodSpec `json:"spec,omitempty"`
}

func (p *Pod) DeepCopyObject() runtime.Object { return p }

type PodSpec struct {
	Containers []Container `json:"containers"`
}

type Container struct {
	Name  string `json:"name"`
	Image string `json:"image,omitempty"`
}
