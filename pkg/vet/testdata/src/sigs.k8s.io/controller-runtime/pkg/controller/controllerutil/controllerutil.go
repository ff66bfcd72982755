// Package controllerutil is a stub of sigs.k8s.io/controller-runtime/pkg/controller/controllerutil
// for the analyzers' tests.
package controllerutil

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/client"
)

func AddFinalizer(o client.Object, finalizer string) (finalizersUpdated bool) { return true }

func RemoveFinalizer(o client.Object, finalizer string) (finalizersUpdated bool) { return true }

func ContainsFinalizer(o client.Object, finalizer string) bool { return false }

type MutateFn func() error

type OperationResult string

func CreateOrUpdate(ctx context.Context, c client.Client, obj client.Object, f MutateFn) (OperationResult, error) {
	return "", f()
}

func CreateOrPatch(ctx context.Context, c client.Client, obj client.Object, f MutateFn) (OperationResult, error) {
	return "", f()
}
