// Package controllerruntime is a stub of sigs.k8s.io/controller-runtime for the analyzers' tests.
package controllerruntime

import (
	"context"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

type Request struct {
	types.NamespacedName
}

type Result struct{}

type Manager interface {
	GetClient() client.Client
}

type Reconciler interface {
	Reconcile(ctx context.Context, req Request) (Result, error)
}

type Builder struct{}

func NewControllerManagedBy(m Manager) *Builder { return &Builder{} }

func (b *Builder) For(object client.Object) *Builder { return b }

func (b *Builder) Named(name string) *Builder { return b }

func (b *Builder) Complete(r Reconciler) error { return nil }
