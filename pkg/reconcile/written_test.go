package reconcile

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func copyAt(rv string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{UID: "u1", ResourceVersion: rv}}
}

// A copy older than the applier's last write is refused once; the next one is sent, so that
// resourceVersions that went backwards (an etcd restored from a snapshot) are judged by the API
// server, not refused here for as long as the process runs.
func TestLastWrites_RefusesAnOlderCopyOncePerWrite(t *testing.T) {
	var w lastWrites
	w.record(copyAt("9000"))

	var got []bool
	for range 2 {
		older, _ := w.olderThanLastWrite(copyAt("8500"))
		got = append(got, older)
	}

	if d := cmp.Diff([]bool{true, false}, got); d != "" {
		t.Errorf("copies at 8500 after a write answered at 9000 refused (-want +got):\n%s", d)
	}
}

// A copy at or after the last write is never refused, and leaves the write remembered.
func TestLastWrites_KeepsTheWriteForACopyAtOrAfterIt(t *testing.T) {
	var w lastWrites
	w.record(copyAt("9000"))

	var got []bool
	for _, rv := range []string{"9000", "9100", "8999"} {
		older, _ := w.olderThanLastWrite(copyAt(rv))
		got = append(got, older)
	}

	if d := cmp.Diff([]bool{false, false, true}, got); d != "" {
		t.Errorf("copies at 9000, 9100, 8999 refused (-want +got):\n%s", d)
	}
}
