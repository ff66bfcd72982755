package proof

import "testing"

// TestProof_OwnershipInvariantsHoldWithTheCacheOnOneAPIServerAndRequestsOnAnother plays the
// guided sequences of TestProof_OwnershipInvariantsHoldOnRandomSequences, with every invariant,
// over two kube-apiservers on one etcd, as behind a load balancer: the running controller's
// replicas watch one server (their caches) and send their writes and live reads to the other, and
// the reverse. Each server's watch cache is fed by its own watch of etcd, so the two lag
// differently; the user and the other controller use the first server. Each way plays half of
// PROOF_SEQUENCES, so that the two together are one run of CI's size.
func TestProof_OwnershipInvariantsHoldWithTheCacheOnOneAPIServerAndRequestsOnAnother(t *testing.T) {
	second, err := cluster.StartSecondAPIServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := second.Stop(); err != nil {
			t.Errorf("stopping the second kube-apiserver: %v", err)
		}
	})
	sequences := max(envInt(t, "PROOF_SEQUENCES", 200)/2, 1)
	for _, way := range []struct {
		name string
		on   servers
	}{
		{"CacheOnTheFirstRequestsOnTheSecond", servers{cache: cluster.Config, requests: second.Config}},
		{"CacheOnTheSecondRequestsOnTheFirst", servers{cache: second.Config, requests: cluster.Config}},
	} {
		t.Run(way.name, func(t *testing.T) { prove(t, startLifecycleOn(t, way.on), sequences) })
	}
}
