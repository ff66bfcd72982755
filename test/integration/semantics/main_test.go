// Package semantics pins, one test per row, the API server behaviours listed in
// docs/ssa-semantics.md that ssakit relies on. Each test is named after its row, so a future
// Kubernetes release that changes a row fails the test that states it.
package semantics

import (
	"testing"

	"github.com/ssakit/ssakit/internal/testcluster"
)

var cluster *testcluster.Cluster

func TestMain(m *testing.M) { testcluster.Main(m, &cluster) }
