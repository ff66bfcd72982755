package controller

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// GuestbookSpec defines the desired state of Guestbook.
type GuestbookSpec struct {
	// Size is the number of guestbook replicas.
	Size int32 `json:"size"`
}

// GuestbookStatus defines the observed state of Guestbook.
type GuestbookStatus struct {
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status

// Guestbook is the Schema for the guestbooks API.
type Guestbook struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   GuestbookSpec   `json:"spec,omitempty"`
	Status GuestbookStatus `json:"status,omitempty"`
}

// DeepCopyObject is what controller-gen writes in zz_generated.deepcopy.go, shortened: the
// analyzers never look at it.
func (in *Guestbook) DeepCopyObject() runtime.Object {
	out := *in
	return &out
}
