// Package managedfields is a stub of k8s.io/apimachinery/pkg/util/managedfields for the
// analyzers' tests.
package managedfields

type TypeConverter interface{}
