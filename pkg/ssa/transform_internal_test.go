package ssa

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The table holds its lists weakly: once no object holds a list, the list is collected and the
// table forgets it, so the table grows with the distinct lists the cache holds, never with
// every list it saw.
func TestInternTable_ForgetsAListNoObjectHolds(t *testing.T) {
	table := &internTable{lists: map[string]internedList{}}
	held := table.intern([]metav1.ManagedFieldsEntry{{Manager: "held", FieldsV1: metav1.NewFieldsV1(`{}`)}})
	for i := range 100 {
		table.intern([]metav1.ManagedFieldsEntry{{Manager: fmt.Sprintf("gone-%d", i), FieldsV1: metav1.NewFieldsV1(`{}`)}})
	}

	deadline := time.Now().Add(10 * time.Second)
	for table.size() > 1 && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}

	if got := table.size(); got != 1 {
		t.Errorf("want the one list still held, the table holds %d", got)
	}
	again := table.intern([]metav1.ManagedFieldsEntry{{Manager: "held", FieldsV1: metav1.NewFieldsV1(`{}`)}})
	if &again[0] != &held[0] {
		t.Error("a list still held was not handed out again")
	}
	runtime.KeepAlive(held)
}
