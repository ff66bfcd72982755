// Package meta is a stub of k8s.io/apimachinery/pkg/api/meta for the analyzers' tests.
package meta

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

func SetStatusCondition(conditions *[]metav1.Condition, newCondition metav1.Condition) (changed bool) {
	return false
}
