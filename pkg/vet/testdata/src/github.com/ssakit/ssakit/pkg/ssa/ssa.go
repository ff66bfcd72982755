// Package ssa is a stub of github.com/ssakit/ssakit/pkg/ssa for the analyzers' tests: the v1
// declarations they touch, with the real signatures.
package ssa

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/client"
)

type Finalizer struct{}

func (f *Finalizer) Add(ctx context.Context, obj client.Object) (sent bool, err error) {
	return false, nil
}

func (f *Finalizer) Remove(ctx context.Context, obj client.Object) (sent bool, err error) {
	return false, nil
}

type TakeOver struct {
	Finalizers []string
	From       []string
}

type FinalizerOptions struct {
	FieldOwner           client.FieldOwner
	APIReader            client.Reader
	AllowUnqualifiedName bool
	TakeOverLegacy       bool
	LegacyManagers       []string
	FormerNames          []string
	OnTakeOver           func(ctx context.Context, obj client.Object, t TakeOver)
}

func NewFinalizer(c client.Client, controller, name string, opts FinalizerOptions) (*Finalizer, error) {
	return &Finalizer{}, nil
}
