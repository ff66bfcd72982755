// Package proof is the ownership proof: sequences of actions by a user, another controller and
// ssakit on a few objects of a real API server, with every ssakit call made on an object of the
// actor's choosing (fresh, read several steps earlier, or from a cache that strips managedFields
// or keeps only some entries), a running controller's reconciles among them, and the invariants of
// the mission checked against the live objects after every step. The sequences are guided
// (guided_test.go): scripted scenarios that lead into the deletion-phase states, where a cleanup
// is decided from a stale view, are mixed into random steps, and the summary counts each state
// reached. A violation is reported with its seed and a shrunk sequence that still breaks. The
// same proof runs over two kube-apiservers on one etcd, caches on one and writes on the other
// (twoservers_test.go).
//
// PROOF_SEQUENCES (default 200) and PROOF_STEPS (default 20) size a run; PROOF_SEED sets the seed
// of the first sequence (default: the time), so that a reported seed replays with
// PROOF_SEQUENCES=1 PROOF_SEED=<seed>. `make proof` runs ten times the default.
//
// Beside the sequences: concurrent writers of every strategy on shared objects (race_test.go); a
// running controller's lifecycles through a kube-apiserver restart, on a control plane of the
// test's own (faults_test.go); and the example operator's real workload, driven by a user, with
// the invariants that apply to it checked while it works (operator_test.go, whose random steps
// PROOF_SEED also seeds); and the faults a production controller meets, with the ledger of
// ledger_test.go and the fault-injecting transport of wire_test.go: a leader stopped mid-cleanup
// under Lease election (handoff_test.go), a write whose answer is lost (lostanswer_test.go), and
// status applies while another writer changes labels every 100 ms (churn_test.go).
package proof

import (
	"testing"

	"github.com/ssakit/ssakit/internal/testcluster"
)

var cluster *testcluster.Cluster

// TestMain installs the example operator's CRD too, for the operator's workload.
func TestMain(m *testing.M) { testcluster.Main(m, &cluster, "../../../example/operator/config/crd") }
