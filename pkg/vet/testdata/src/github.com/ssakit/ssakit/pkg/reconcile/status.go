// Package reconcile is a stub of github.com/ssakit/ssakit/pkg/reconcile for the analyzers' tests.
package reconcile

import (
	"context"

	"k8s.io/apimachinery/pkg/util/managedfields"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

type StatusApplier struct{}

type StatusApplierOptions struct {
	TypeConverters []managedfields.TypeConverter
	LegacyManagers []string
}

func NewStatusApplier(c client.Client, controller string, opts StatusApplierOptions) *StatusApplier {
	return &StatusApplier{}
}

func (a *StatusApplier) Apply(ctx context.Context, obj client.Object, status any) error { return nil }
