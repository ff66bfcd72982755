// Package types is a stub of k8s.io/apimachinery/pkg/types for the analyzers' tests.
package types

type UID string

type NamespacedName struct {
	Namespace string
	Name      string
}

type PatchType string

const (
	JSONPatchType           PatchType = "application/json-patch+json"
	MergePatchType          PatchType = "application/merge-patch+json"
	StrategicMergePatchType PatchType = "application/strategic-merge-patch+json"
	ApplyPatchType          PatchType = "application/apply-patch+yaml"
)
