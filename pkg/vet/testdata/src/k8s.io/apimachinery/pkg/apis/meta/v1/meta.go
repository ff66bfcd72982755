// Package v1 is a stub of k8s.io/apimachinery/pkg/apis/meta/v1 for the analyzers' tests.
package v1

import (
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

const (
	FinalizerOrphanDependents = "orphan"
	FinalizerDeleteDependents = "foregroundDeletion"
)

type Object interface {
	GetNamespace() string
	GetName() string
	GetUID() types.UID
	GetDeletionTimestamp() *Time
	GetFinalizers() []string
	SetFinalizers(finalizers []string)
}

type Time struct{ nanos int64 }

func (t *Time) IsZero() bool { return t == nil || t.nanos == 0 }

func (t Time) MarshalJSON() ([]byte, error) { return []byte("null"), nil }

type TypeMeta struct {
	Kind       string `json:"kind,omitempty"`
	APIVersion string `json:"apiVersion,omitempty"`
}

func (t *TypeMeta) GetObjectKind() schema.ObjectKind { return nil }

type ObjectMeta struct {
	Name              string            `json:"name,omitempty"`
	Namespace         string            `json:"namespace,omitempty"`
	UID               types.UID         `json:"uid,omitempty"`
	ResourceVersion   string            `json:"resourceVersion,omitempty"`
	Generation        int64             `json:"generation,omitempty"`
	CreationTimestamp Time              `json:"creationTimestamp,omitempty,omitzero"`
	DeletionTimestamp *Time             `json:"deletionTimestamp,omitempty"`
	Labels            map[string]string `json:"labels,omitempty"`
	Finalizers        []string          `json:"finalizers,omitempty"`
}

func (m *ObjectMeta) GetNamespace() string        { return m.Namespace }
func (m *ObjectMeta) GetName() string             { return m.Name }
func (m *ObjectMeta) GetUID() types.UID           { return m.UID }
func (m *ObjectMeta) GetDeletionTimestamp() *Time { return m.DeletionTimestamp }
func (m *ObjectMeta) GetFinalizers() []string     { return m.Finalizers }
func (m *ObjectMeta) SetFinalizers(f []string)    { m.Finalizers = f }

type PartialObjectMetadata struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`
}

func (o *PartialObjectMetadata) DeepCopyObject() runtime.Object { return o }

type ConditionStatus string

const ConditionTrue ConditionStatus = "True"

type Condition struct {
	Type               string          `json:"type"`
	Status             ConditionStatus `json:"status"`
	ObservedGeneration int64           `json:"observedGeneration,omitempty"`
	LastTransitionTime Time            `json:"lastTransitionTime"`
	Reason             string          `json:"reason"`
	Message            string          `json:"message"`
}

type UpdateOptions struct {
	FieldManager string
}
