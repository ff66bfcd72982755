// Package ssa is a stub of github.com/ssakit/ssakit/pkg/ssa for the analyzers' tests.
package ssa

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/client"
)

type Finalizer struct{}

func (f *Finalizer) Add(ctx context.Context, obj client.Object) error    { return nil }
func (f *Finalizer) Remove(ctx context.Context, obj client.Object) error { return nil }

type FinalizerOptions struct {
	FieldOwner      client.FieldOwner
	AllowLegacyName bool
	TakeOverLegacy  bool
	LegacyNames     []string
}

type FinalizerOption interface {
	ApplyToFinalizer(o *FinalizerOptions)
}

func (o *FinalizerOptions) ApplyToFinalizer(target *FinalizerOptions) {}

func WithFieldOwner(owner client.FieldOwner) FinalizerOption {
	return &FinalizerOptions{FieldOwner: owner}
}

func AllowLegacyName() FinalizerOption { return &FinalizerOptions{AllowLegacyName: true} }

func TakeOverLegacy(managers ...string) FinalizerOption {
	return &FinalizerOptions{TakeOverLegacy: true}
}

func RenamedFrom(names ...string) FinalizerOption { return &FinalizerOptions{LegacyNames: names} }

func NewFinalizer(c client.Client, controller, name string, opts ...FinalizerOption) (*Finalizer, error) {
	return &Finalizer{}, nil
}
