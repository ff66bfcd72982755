// Package reconcile runs a controller-runtime reconciler around an ssakit finalizer: the finalizer
// is added by its own Server-Side Apply field manager before the user's reconcile runs, and removed
// the same way once the user's cleanup has succeeded on a terminating object. It also applies
// status to the /status subresource with the controller's own field manager, guarded by the
// object's resourceVersion and skipped when it would change nothing, and reports what it does
// through events, the context logger and Prometheus metrics in controller-runtime's registry.
//
// [New] takes a [Cluster]: a controller-runtime manager, or, in a unit test, an ssatest.Cluster
// over controller-runtime's fake client.
//
// The package name repeats controller-runtime's; import one of them under another name:
//
//	import (
//		"sigs.k8s.io/controller-runtime/pkg/reconcile"
//		ssareconcile "github.com/ssakit/ssakit/pkg/reconcile"
//	)
//
// Two ways in: [New] wraps a [Handler] into a reconcile.Reconciler that builder.Complete takes as
// it is; [Step] is the finalizer step alone, for an existing reconciler that keeps its own shape.
package reconcile
