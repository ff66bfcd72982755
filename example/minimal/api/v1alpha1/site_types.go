package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ConditionReady says whether the Site is served: its DNS record and its ConfigMap are in place.
const ConditionReady = "Ready"

// Reasons of the Ready condition.
const (
	// ReasonServing: the DNS record points at spec.address and the ConfigMap holds the page.
	ReasonServing = "Serving"
	// ReasonNameTaken: a ConfigMap of the Site's name exists that the Site does not control, or
	// spec.hostname has a DNS record of another owner. The controller leaves it as it is, and
	// looks again every minute: delete or rename it, and the Site takes the name.
	ReasonNameTaken = "NameTaken"
)

// SiteSpec is what the user asks for.
type SiteSpec struct {
	// Hostname is the DNS name of the site. It cannot be changed: the record made for it is
	// deleted when the Site is.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="hostname is immutable"
	Hostname string `json:"hostname"`

	// Address is the IP address the DNS record points at.
	// +kubebuilder:validation:MinLength=1
	Address string `json:"address"`

	// Page is the content of the site's index.html, kept in a ConfigMap of the Site's name.
	// +optional
	Page string `json:"page,omitempty"`
}

// SiteStatus is what the controller observed.
type SiteStatus struct {
	// ObservedGeneration is the generation of the spec this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions hold Ready.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// Site is a web site: a DNS record for spec.hostname, in an external DNS provider, and a
// ConfigMap of the Site's name that holds its page and is owned by the Site. Its finalizer deletes
// the record, which takes a while, before the Site goes.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Namespaced
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Hostname",type=string,JSONPath=`.spec.hostname`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Site struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// +required
	Spec   SiteSpec   `json:"spec,omitzero"`
	Status SiteStatus `json:"status,omitzero"`
}

// SiteList is a list of Sites.
//
// +kubebuilder:object:root=true
type SiteList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []Site `json:"items"`
}
