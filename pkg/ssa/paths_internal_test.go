package ssa

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Error messages name fields the way structured-merge-diff prints them, sorted.
func TestPaths_RendersReadablePathsInOrder(t *testing.T) {
	raw, err := os.ReadFile("testdata/managedfields.json")
	if err != nil {
		t.Fatal(err)
	}
	var entries []metav1.ManagedFieldsEntry
	if err := json.Unmarshal(raw, &entries); err != nil {
		t.Fatal(err)
	}
	ownership, err := ParseOwnership(entries)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`.metadata.labels.app`,
		`.spec.ports[port=80,protocol="TCP"]`,
		`.spec.ports[port=80,protocol="TCP"].name`,
		`.spec.ports[port=80,protocol="TCP"].port`,
		`.spec.ports[port=80,protocol="TCP"].protocol`,
		`.spec.selector`,
	}
	if d := cmp.Diff(want, paths(ownership.FieldsOf("kubectl"))); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}
