// Package applier is the contract of ssa.Applier against a real API server: which applies it
// sends, counted at the HTTP transport, and that what it skips would have changed nothing. Tests
// cite the docs/ssa-semantics.md row they rely on.
package applier

import (
	"testing"

	"github.com/ssakit/ssakit/internal/testcluster"
)

var cluster *testcluster.Cluster

func TestMain(m *testing.M) { testcluster.Main(m, &cluster) }
