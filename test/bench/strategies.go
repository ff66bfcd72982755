package main

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/ssakit/ssakit/internal/testcluster"
	ssareconcile "github.com/ssakit/ssakit/pkg/reconcile"
	"github.com/ssakit/ssakit/pkg/ssa"
)

// The finalizer strategies the bench compares, by the names its tables use.
const (
	strategySSAKit     = "ssakit"
	strategyUpdate     = "Update"
	strategyMerge      = "MergeFrom"
	strategyMergeOptim = "MergeFrom+lock"
)

var strategyNames = []string{strategySSAKit, strategyUpdate, strategyMerge, strategyMergeOptim}

// maxRetries bounds the conflict retries of the strategies that re-read on a 409, as
// retry.RetryOnConflict's default backoff does (5 steps) but higher, so that contention shows as
// retries rather than as failures.
const maxRetries = 50

// finalizerWriter adds and removes one finalizer the way one strategy does. obj is the copy the
// writer holds, possibly stale; each call replaces it with the server's answer when it writes.
// retries counts the extra attempts a conflict cost.
type finalizerWriter interface {
	add(ctx context.Context, obj *testcluster.Widget) (retries int, err error)
	remove(ctx context.Context, obj *testcluster.Widget) (retries int, err error)
	// reconcile is the finalizer part of one reconcile of obj, as a controller written with the
	// strategy does it: add while obj lives, clean up and remove once it is terminating.
	reconcile(ctx context.Context, obj *testcluster.Widget) error
}

// newWriter returns strategy's writer of finalizer through c. controller names the ssakit field
// managers; apiReader is what the ssakit reconcile step reads live metadata with.
func newWriter(strategy string, c client.Client, apiReader client.Reader, controller, finalizer string) (finalizerWriter, error) {
	switch strategy {
	case strategySSAKit:
		return newSSAKitWriter(c, apiReader, controller, finalizer, false)
	case strategyUpdate, strategyMerge, strategyMergeOptim:
		return &controllerutilWriter{client: c, finalizer: finalizer, strategy: strategy}, nil
	}
	return nil, fmt.Errorf("unknown strategy %q", strategy)
}

// newSSAKitWriter returns ssakit's writer; leaderElection is the step's StepOptions.LeaderElection,
// for a process that has just been elected.
func newSSAKitWriter(c client.Client, apiReader client.Reader, controller, finalizer string, leaderElection bool) (finalizerWriter, error) {
	step, err := ssareconcile.NewStep(c, controller, finalizer, ssareconcile.StepOptions{
		FinalizerOptions: ssa.FinalizerOptions{APIReader: apiReader},
		LeaderElection:   leaderElection,
	})
	if err != nil {
		return nil, err
	}
	return &ssakitWriter{finalizer: step.Finalizer(), step: step}, nil
}

// ssakitWriter is ssa.Finalizer's Add and Remove, and reconcile.Step for a reconcile.
type ssakitWriter struct {
	finalizer *ssa.Finalizer
	step      *ssareconcile.Step
}

func (w *ssakitWriter) add(ctx context.Context, obj *testcluster.Widget) (int, error) {
	_, err := w.finalizer.Add(ctx, obj)
	return 0, err
}

func (w *ssakitWriter) remove(ctx context.Context, obj *testcluster.Widget) (int, error) {
	_, err := w.finalizer.Remove(ctx, obj)
	return 0, err
}

func (w *ssakitWriter) reconcile(ctx context.Context, obj *testcluster.Widget) error {
	_, _, err := w.step.Handle(ctx, obj, noCleanup)
	return err
}

func noCleanup(context.Context) (reconcile.Result, error) { return reconcile.Result{}, nil }

// controllerutilWriter is the kubebuilder way: controllerutil.AddFinalizer or RemoveFinalizer on
// the object held, then Update, a JSON merge patch (client.MergeFrom), or one with the
// resourceVersion (client.MergeFromWithOptimisticLock). Update and the locked patch re-read the
// object and try again on a 409, as retry.RetryOnConflict with a Get does.
type controllerutilWriter struct {
	client    client.Client
	finalizer string
	strategy  string
}

func (w *controllerutilWriter) add(ctx context.Context, obj *testcluster.Widget) (int, error) {
	return w.write(ctx, obj, func(o *testcluster.Widget) bool { return controllerutil.AddFinalizer(o, w.finalizer) })
}

func (w *controllerutilWriter) remove(ctx context.Context, obj *testcluster.Widget) (int, error) {
	return w.write(ctx, obj, func(o *testcluster.Widget) bool { return controllerutil.RemoveFinalizer(o, w.finalizer) })
}

func (w *controllerutilWriter) reconcile(ctx context.Context, obj *testcluster.Widget) error {
	if obj.DeletionTimestamp.IsZero() {
		_, err := w.add(ctx, obj)
		return err
	}
	if !controllerutil.ContainsFinalizer(obj, w.finalizer) {
		return nil
	}
	// The cleanup would run here.
	_, err := w.remove(ctx, obj)
	return err
}

// write changes obj with edit and sends it, unless edit says there is nothing to change.
func (w *controllerutilWriter) write(ctx context.Context, obj *testcluster.Widget, edit func(*testcluster.Widget) bool) (retries int, err error) {
	for ; ; retries++ {
		base := obj.DeepCopyObject().(*testcluster.Widget)
		if !edit(obj) {
			return retries, nil
		}
		switch w.strategy {
		case strategyUpdate:
			err = w.client.Update(ctx, obj)
		case strategyMerge:
			err = w.client.Patch(ctx, obj, client.MergeFrom(base))
		case strategyMergeOptim:
			err = w.client.Patch(ctx, obj, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}))
		}
		if !apierrors.IsConflict(err) {
			return retries, err
		}
		if retries == maxRetries {
			return retries, fmt.Errorf("%s of %s: still conflicting after %d retries: %w", w.strategy, obj.Name, maxRetries, err)
		}
		key := client.ObjectKeyFromObject(obj)
		*obj = testcluster.Widget{} // a Get decodes into obj: start from nothing
		if err := w.client.Get(ctx, key, obj); err != nil {
			return retries, err
		}
	}
}
