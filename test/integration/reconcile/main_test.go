// Package reconcile runs pkg/reconcile inside real controller-runtime Managers against the test
// control plane: the finalizer lifecycle, failures and restarts, two controllers on one object,
// status applies, the steady state and the metrics endpoint.
package reconcile

import (
	"testing"

	"github.com/ssakit/ssakit/internal/testcluster"
)

var cluster *testcluster.Cluster

func TestMain(m *testing.M) { testcluster.Main(m, &cluster) }
