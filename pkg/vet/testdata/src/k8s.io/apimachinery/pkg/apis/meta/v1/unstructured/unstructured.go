// Package unstructured is a stub of k8s.io/apimachinery/pkg/apis/meta/v1/unstructured for the
// analyzers' tests.
package unstructured

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

type Unstructured struct {
	Object map[string]interface{}
}

func (u *Unstructured) GetObjectKind() schema.ObjectKind   { return nil }
func (u *Unstructured) DeepCopyObject() runtime.Object     { return u }
func (u *Unstructured) GetNamespace() string               { return "" }
func (u *Unstructured) GetName() string                    { return "" }
func (u *Unstructured) GetUID() types.UID                  { return "" }
func (u *Unstructured) GetDeletionTimestamp() *metav1.Time { return nil }
func (u *Unstructured) GetFinalizers() []string            { return nil }
func (u *Unstructured) SetFinalizers(finalizers []string)  {}
