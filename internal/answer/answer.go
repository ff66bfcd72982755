// Package answer writes the API server's answer to a request into the caller's object.
package answer

import (
	"fmt"
	"reflect"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Into replaces obj's whole content with answer, an object as the API server returned it,
// whatever obj's Go type: typed, unstructured or metav1.PartialObjectMetadata (which keeps the
// answer's metadata). It is all or nothing: when answer cannot be converted, obj is unchanged, so
// a caller never holds a mix of the answer and what it had before. It uses apimachinery's
// runtime.DefaultUnstructuredConverter.
func Into(obj client.Object, answer *unstructured.Unstructured) error {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		u.Object = answer.Object
		return nil
	}
	target := reflect.ValueOf(obj)
	if target.Kind() != reflect.Pointer || target.IsNil() {
		return fmt.Errorf("%T is not a non-nil pointer", obj)
	}
	// Converting into a new value, not into obj, keeps obj whole when the conversion fails
	// halfway, and leaves no field of obj that the answer does not have.
	fresh := reflect.New(target.Elem().Type())
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(answer.Object, fresh.Interface()); err != nil {
		return err
	}
	target.Elem().Set(fresh.Elem())
	return nil
}
