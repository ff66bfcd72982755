package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ConditionReady is the condition that says whether every copy is in sync with the source.
const ConditionReady = "Ready"

// ConfigMirrorSpec is what the user asks for.
type ConfigMirrorSpec struct {
	// Source names the ConfigMap to copy, in the ConfigMirror's own namespace.
	// +kubebuilder:validation:MinLength=1
	Source string `json:"source"`

	// TargetNamespaces are the namespaces to copy the source into.
	// +listType=set
	// +optional
	TargetNamespaces []string `json:"targetNamespaces,omitempty"`
}

// ConfigMirrorStatus is what the operator observed.
type ConfigMirrorStatus struct {
	// ObservedGeneration is the generation of the spec this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// SyncedNamespaces are the target namespaces whose copy matches the source.
	// +listType=set
	// +optional
	SyncedNamespaces []string `json:"syncedNamespaces,omitempty"`

	// Conditions hold Ready.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// ConfigMirror copies a ConfigMap into other namespaces and keeps the copies in sync. Owner
// references cannot cross namespaces, so its finalizer deletes the copies when it is deleted.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Namespaced,shortName=cmirror
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Source",type=string,JSONPath=`.spec.source`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ConfigMirror struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitzero"`

	Spec   ConfigMirrorSpec   `json:"spec,omitzero"`
	Status ConfigMirrorStatus `json:"status,omitzero"`
}

// ConfigMirrorList is a list of ConfigMirrors.
//
// +kubebuilder:object:root=true
type ConfigMirrorList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []ConfigMirror `json:"items"`
}
