// Package runtime is a stub of k8s.io/apimachinery/pkg/runtime for the analyzers' tests.
package runtime

import "k8s.io/apimachinery/pkg/runtime/schema"

type Object interface {
	GetObjectKind() schema.ObjectKind
	DeepCopyObject() Object
}

type ApplyConfiguration interface {
	IsApplyConfiguration()
}

type Scheme struct{}

type UnstructuredConverter interface {
	ToUnstructured(obj interface{}) (map[string]interface{}, error)
	FromUnstructured(u map[string]interface{}, obj interface{}) error
}

type unstructuredConverter struct{}

func (c *unstructuredConverter) ToUnstructured(obj interface{}) (map[string]interface{}, error) {
	return nil, nil
}

func (c *unstructuredConverter) FromUnstructured(u map[string]interface{}, obj interface{}) error {
	return nil
}

var DefaultUnstructuredConverter = &unstructuredConverter{}
