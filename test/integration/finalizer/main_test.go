// Package finalizer is the contract of ssa.Finalizer against a real API server: what each call
// sends, what it leaves untouched, and how it fails. Tests cite the docs/ssa-semantics.md row they rely on.
package finalizer

import (
	"testing"

	"github.com/ssakit/ssakit/internal/testcluster"
)

var cluster *testcluster.Cluster

func TestMain(m *testing.M) { testcluster.Main(m, &cluster) }
