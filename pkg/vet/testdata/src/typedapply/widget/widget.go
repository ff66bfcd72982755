// Package widget is a custom resource's API types, as kubebuilder lays them out, for the
// typedapply tests.
package widget

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Quantity encodes itself, as resource.Quantity does: "0" when zero.
type Quantity struct{ value int64 }

func (q Quantity) MarshalJSON() ([]byte, error) { return []byte(`"0"`), nil }

type WidgetSpec struct {
	Replicas int32    `json:"replicas"`
	Paused   bool     `json:"paused"`
	Image    string   `json:"image,omitempty"`
	Storage  Quantity `json:"storage,omitempty"`
	Mode     string   `json:"mode"`
	Ports    []int32  `json:"ports"`
	Selector *string  `json:"selector"`
	Internal string   `json:"-"`
	Created  metav1.Time
}

type WidgetStatus struct {
	Phase      string             `json:"phase"`
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// Widget sends spec.replicas, spec.paused, spec.storage, spec.mode and status.phase when zero.
type Widget struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   WidgetSpec   `json:"spec,omitempty"`
	Status WidgetStatus `json:"status,omitempty"`
}

func (w *Widget) DeepCopyObject() runtime.Object { return w }

// IntOrString encodes itself, as intstr.IntOrString does: 0 when zero.
type IntOrString struct{ value int32 }

func (i IntOrString) MarshalJSON() ([]byte, error) { return []byte(`0`), nil }

type GadgetPort struct {
	Name       string      `json:"name"`
	Port       int32       `json:"port"`
	TargetPort IntOrString `json:"targetPort,omitempty"`
	Protocol   string      `json:"protocol,omitempty"`
}

type GadgetSpec struct {
	Size  int32        `json:"size"`
	Ports []GadgetPort `json:"ports,omitempty"`
}

type GadgetStatus struct {
	Ready *bool `json:"ready,omitempty"`
}

// Gadget sends spec.size when unset, and each port's targetPort: nothing in its status.
type Gadget struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   GadgetSpec   `json:"spec,omitempty"`
	Status GadgetStatus `json:"status,omitempty"`
}

func (g *Gadget) DeepCopyObject() runtime.Object { return g }

type SprocketSpec struct {
	Replicas *int32 `json:"replicas,omitempty"`
	Paused   bool   `json:"paused,omitempty"`
}

type SprocketStatus struct {
	Phase string `json:"phase"`
}

// Sprocket follows the API conventions for its spec, where every optional field is a pointer or
// omitempty; only its status sends a field when unset.
type Sprocket struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   SprocketSpec   `json:"spec,omitempty"`
	Status SprocketStatus `json:"status,omitempty"`
}

func (s *Sprocket) DeepCopyObject() runtime.Object { return s }

// SprocketStatusApplyConfiguration is what controller-gen generates for the status: pointers only.
type SprocketStatusApplyConfiguration struct {
	Phase *string `json:"phase,omitempty"`
}
