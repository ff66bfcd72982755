// Package reconcile is a stub of github.com/ssakit/ssakit/pkg/reconcile for the analyzers' tests.
package reconcile

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/client"
)

type StatusApplier struct{}

func NewStatusApplier(c client.Client, controller string) *StatusApplier { return &StatusApplier{} }

func (a *StatusApplier) Apply(ctx context.Context, obj client.Object, status any) error { return nil }
