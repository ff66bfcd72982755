// Package client is a stub of sigs.k8s.io/controller-runtime/pkg/client for the analyzers' tests:
// the names and signatures the analyzers recognize, as controller-runtime v0.25 declares them.
package client

import (
	"context"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/cache/cacheapi"
)

type Object = cacheapi.Object

type ObjectKey = types.NamespacedName

type Patch interface {
	Type() types.PatchType
	Data(obj Object) ([]byte, error)
}

type (
	GetOption               interface{ ApplyToGet() }
	CreateOption            interface{ ApplyToCreate() }
	UpdateOption            interface{ ApplyToUpdate() }
	PatchOption             interface{ ApplyToPatch() }
	ApplyOption             interface{ ApplyToApply() }
	DeleteOption            interface{ ApplyToDelete() }
	SubResourceUpdateOption interface{ ApplyToSubResourceUpdate() }
	SubResourcePatchOption  interface{ ApplyToSubResourcePatch() }
	SubResourceApplyOption  interface{ ApplyToSubResourceApply() }
	MergeFromOption         interface{ ApplyToMergeFrom() }
)

type FieldOwner string

func (FieldOwner) ApplyToCreate()            {}
func (FieldOwner) ApplyToUpdate()            {}
func (FieldOwner) ApplyToPatch()             {}
func (FieldOwner) ApplyToApply()             {}
func (FieldOwner) ApplyToSubResourcePatch()  {}
func (FieldOwner) ApplyToSubResourceUpdate() {}
func (FieldOwner) ApplyToSubResourceApply()  {}

type forceOwnership struct{}

func (forceOwnership) ApplyToPatch()            {}
func (forceOwnership) ApplyToApply()            {}
func (forceOwnership) ApplyToSubResourcePatch() {}

var ForceOwnership = forceOwnership{}

type MergeFromWithOptimisticLock struct{}

func (MergeFromWithOptimisticLock) ApplyToMergeFrom() {}

type Reader interface {
	Get(ctx context.Context, key ObjectKey, obj Object, opts ...GetOption) error
}

type Writer interface {
	Apply(ctx context.Context, obj runtime.ApplyConfiguration, opts ...ApplyOption) error
	Create(ctx context.Context, obj Object, opts ...CreateOption) error
	Delete(ctx context.Context, obj Object, opts ...DeleteOption) error
	Update(ctx context.Context, obj Object, opts ...UpdateOption) error
	Patch(ctx context.Context, obj Object, patch Patch, opts ...PatchOption) error
}

type SubResourceWriter interface {
	Update(ctx context.Context, obj Object, opts ...SubResourceUpdateOption) error
	Patch(ctx context.Context, obj Object, patch Patch, opts ...SubResourcePatchOption) error
	Apply(ctx context.Context, obj runtime.ApplyConfiguration, opts ...SubResourceApplyOption) error
}

type StatusWriter = SubResourceWriter

type Client interface {
	Reader
	Writer
	Status() SubResourceWriter
	SubResource(subResource string) SubResourceWriter
	Scheme() *runtime.Scheme
}

type patch struct{ patchType types.PatchType }

func (p *patch) Type() types.PatchType           { return p.patchType }
func (p *patch) Data(obj Object) ([]byte, error) { return nil, nil }

func RawPatch(patchType types.PatchType, data []byte) Patch { return &patch{patchType} }

func MergeFrom(obj Object) Patch { return &patch{types.MergePatchType} }

func MergeFromWithOptions(obj Object, opts ...MergeFromOption) Patch {
	return &patch{types.MergePatchType}
}

func StrategicMergeFrom(obj Object, opts ...MergeFromOption) Patch {
	return &patch{types.StrategicMergePatchType}
}

var (
	// Deprecated: Use client.Client.Apply() and client.Client.SubResource("subrsource").Apply() instead.
	Apply Patch = &patch{types.ApplyPatchType}
	Merge Patch = &patch{types.MergePatchType}
)

type unstructuredApplyConfiguration struct {
	*unstructured.Unstructured
}

func (u *unstructuredApplyConfiguration) IsApplyConfiguration() {}

func ApplyConfigurationFromUnstructured(u *unstructured.Unstructured) runtime.ApplyConfiguration {
	return &unstructuredApplyConfiguration{Unstructured: u}
}

func IgnoreNotFound(err error) error { return err }
