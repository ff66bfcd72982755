package ssatest

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// echoingStatusClient answers a /status apply with the body it was sent, as the fake does when
// it returns before its tracker (a patch's dry run), and keeps that body.
type echoingStatusClient struct {
	client.SubResourceClient
	bodies []map[string]any
}

func (e *echoingStatusClient) Apply(_ context.Context, obj runtime.ApplyConfiguration, opts ...client.SubResourceApplyOption) error {
	data, err := json.Marshal((&client.SubResourceApplyOptions{}).ApplyOpts(opts).SubResourceBody)
	if err != nil {
		return err
	}
	body := map[string]any{}
	if err := json.Unmarshal(data, &body); err != nil {
		return err
	}
	e.bodies = append(e.bodies, body)
	return json.Unmarshal(data, obj)
}

func TestStatusApply_LeavesNoMarkInAConfigurationAnsweredWithTheMarkedBody(t *testing.T) {
	echo := &echoingStatusClient{}
	config := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Service",
		"metadata": map[string]any{"namespace": "demo", "name": "web"},
		"status":   map[string]any{"loadBalancer": map[string]any{}},
	}}
	sent := config.DeepCopy()

	err := statusMarkingSubResourceClient{SubResourceClient: echo}.Apply(t.Context(), client.ApplyConfigurationFromUnstructured(config))

	if err != nil {
		t.Fatal(err)
	}
	// The body carried the mark, and obj was answered with it: the case this test is about.
	if len(echo.bodies) != 1 {
		t.Fatalf("the fake was sent %d applies, want 1", len(echo.bodies))
	}
	marked := &unstructured.Unstructured{Object: echo.bodies[0]}
	if d := cmp.Diff([]metav1.ManagedFieldsEntry{statusMark}, marked.GetManagedFields()); d != "" {
		t.Errorf("managedFields of the body sent (-want +got):\n%s", d)
	}
	if d := cmp.Diff(sent.Object, config.Object); d != "" {
		t.Errorf("configuration after the answer (-want +got):\n%s", d)
	}
}
