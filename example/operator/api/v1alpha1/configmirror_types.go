package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ConditionReady is the condition that says whether every copy is in sync with the source.
const ConditionReady = "Ready"

// Reasons of a target's state, and of the Ready condition. Ready takes ReasonSynced when every
// target is synced, ReasonSourceNotFound when the source is missing, the targets' reason when all
// unsynced targets share one, and ReasonTargetsNotSynced otherwise; its message lists every
// unsynced target.
const (
	// ReasonSynced: the copy matches the source.
	ReasonSynced = "Synced"
	// ReasonSourceNotFound: spec.source names no ConfigMap in the mirror's namespace.
	ReasonSourceNotFound = "SourceNotFound"
	// ReasonNamespaceNotFound: the target namespace does not exist.
	ReasonNamespaceNotFound = "NamespaceNotFound"
	// ReasonNamespaceTerminating: the target namespace is being deleted; its copy goes with it.
	ReasonNamespaceTerminating = "NamespaceTerminating"
	// ReasonSourceNamespace: the target is the mirror's own namespace, where the source lives. A
	// copy there would be the source itself, so the operator never writes it.
	ReasonSourceNamespace = "SourceNamespace"
	// ReasonNamespaceNotConsenting: the target namespace has not agreed to receive copies from
	// the mirror's namespace. A namespace agrees with the annotation mirror.ssakit.dev/accept-from
	// on it, which lists the source namespaces it accepts (comma-separated), or * for any; the
	// kube-* namespaces and the operator's own accept only source namespaces named there. Only
	// whoever may edit the Namespace object can set it. The operator writes nothing there, and
	// deletes the copy it made there before the namespace withdrew its consent.
	ReasonNamespaceNotConsenting = "NamespaceNotConsenting"
	// ReasonTargetConflict: the target namespace already has a ConfigMap of the source's name
	// that is not a copy made for this mirror. The operator leaves it untouched.
	ReasonTargetConflict = "TargetConflict"
	// ReasonCopyNotOwned: the ConfigMap at the copy's name carries the mirror's label, but the
	// operator's field manager is not the label's only owner (someone applied the label too, or
	// managedFields were reset), so the operator no longer takes it for its copy: it neither
	// writes nor deletes it.
	ReasonCopyNotOwned = "CopyNotOwned"
	// ReasonCopyDiffers: the copy has keys the source does not, written by someone else; the
	// operator leaves them.
	ReasonCopyDiffers = "CopyDiffers"
	// ReasonCopyImmutable: the copy was made immutable (immutable: true) and no longer matches
	// the source. Delete it, and the operator creates it again.
	ReasonCopyImmutable = "CopyImmutable"
	// ReasonDeleteFailed: a copy spec no longer asks for could not be deleted; the message has
	// the API server's answer.
	ReasonDeleteFailed = "DeleteFailed"
	// ReasonWriteFailed: the API server refused to create or update the copy (a quota, an
	// admission webhook, a terminating namespace); the message has its answer.
	ReasonWriteFailed = "WriteFailed"
	// ReasonTargetsNotSynced: unsynced targets with different reasons.
	ReasonTargetsNotSynced = "TargetsNotSynced"
)

// ConfigMirrorSpec is what the user asks for.
type ConfigMirrorSpec struct {
	// Source names the ConfigMap to copy, in the ConfigMirror's own namespace.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Source string `json:"source"`

	// TargetNamespaces are the namespaces to copy the source into. The mirror's own namespace
	// is refused (reason SourceNamespace): CRD validation cannot see metadata.namespace, so the
	// controller checks it. A target namespace receives a copy only if it accepts copies from
	// the mirror's namespace (reason NamespaceNotConsenting), and, where the admission policy of
	// config/admission is installed, only if whoever writes the spec may create ConfigMaps there.
	// +listType=set
	// +kubebuilder:validation:items:MaxLength=63
	// +kubebuilder:validation:items:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +optional
	TargetNamespaces []string `json:"targetNamespaces,omitempty"`
}

// ConfigMirrorStatus is what the operator observed.
type ConfigMirrorStatus struct {
	// ObservedGeneration is the generation of the spec this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Targets holds the state of each target namespace, in the order of spec.targetNamespaces.
	// +listType=map
	// +listMapKey=namespace
	// +optional
	Targets []TargetStatus `json:"targets,omitempty"`

	// Conditions hold Ready.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// TargetStatus is the state of one target namespace.
type TargetStatus struct {
	// Namespace is the target namespace.
	Namespace string `json:"namespace"`
	// Synced says whether the namespace has a copy that matches the source.
	Synced bool `json:"synced"`
	// Reason says why in one word: Synced, NamespaceNotFound, NamespaceTerminating,
	// SourceNamespace, NamespaceNotConsenting, TargetConflict, CopyNotOwned, CopyDiffers,
	// CopyImmutable or WriteFailed.
	Reason string `json:"reason"`
	// Message says what is wrong and what to do about it.
	// +optional
	Message string `json:"message,omitempty"`
}

// ConfigMirror copies a ConfigMap into other namespaces and keeps the copies in sync. Owner
// references cannot cross namespaces, so its finalizer deletes the copies when it is deleted.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Namespaced,shortName=cmirror
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Source",type=string,JSONPath=`.spec.source`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
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
