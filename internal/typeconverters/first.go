// Package typeconverters combines managedfields.TypeConverters, for the packages of ssakit that
// take several (the applier, the status applier, the fake kit).
package typeconverters

import (
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"sigs.k8s.io/structured-merge-diff/v6/typed"
)

// First returns a managedfields.TypeConverter that tries each of converters in order and uses the
// first that knows the object's kind, as controller-runtime's fake client combines them.
func First(converters ...managedfields.TypeConverter) managedfields.TypeConverter {
	return first(converters)
}

type first []managedfields.TypeConverter

// ObjectToTyped implements managedfields.TypeConverter.
func (c first) ObjectToTyped(obj runtime.Object, opts ...typed.ValidationOptions) (*typed.TypedValue, error) {
	var errs []error
	for _, converter := range c {
		tv, err := converter.ObjectToTyped(obj, opts...)
		if err == nil {
			return tv, nil
		}
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("no type converter knows %s: %w", obj.GetObjectKind().GroupVersionKind(), errors.Join(errs...))
}

// TypedToObject implements managedfields.TypeConverter.
func (c first) TypedToObject(tv *typed.TypedValue) (runtime.Object, error) {
	var errs []error
	for _, converter := range c {
		obj, err := converter.TypedToObject(tv)
		if err == nil {
			return obj, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}
