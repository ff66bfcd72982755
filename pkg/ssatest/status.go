package ssatest

import (
	"context"
	"encoding/json"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	"github.com/ssakit/ssakit/internal/answer"
	"github.com/ssakit/ssakit/pkg/ssa"
)

// statusApplyManager is the field manager of the managedFields entry that marks an apply to the
// /status subresource on its way from the client Build returns to the tracker. The name is
// ssatest's own. The mark cannot be taken for anything a test sends: the API server, and the
// field manager under the fake, refuse an apply that carries managedFields ("metadata.managedFields
// must be nil").
const statusApplyManager = "ssatest.ssakit.dev/status-apply"

// statusMark is the entry markStatus adds and takeStatusMark removes: an Apply entry of
// statusApplyManager on the subresource "status".
var statusMark = metav1.ManagedFieldsEntry{
	Manager:     statusApplyManager,
	Operation:   metav1.ManagedFieldsOperationApply,
	Subresource: "status",
}

// Status implements client.StatusClient.
func (c *markingClient) Status() client.SubResourceWriter {
	return c.SubResource("status")
}

// SubResource implements client.SubResourceClientConstructor: the fake's client of subresource,
// marking its applies when subresource is "status".
func (c *markingClient) SubResource(subresource string) client.SubResourceClient {
	sub := c.WithWatch.SubResource(subresource)
	if subresource != "status" {
		return sub
	}
	return statusMarkingSubResourceClient{SubResourceClient: sub, scheme: c.Scheme()}
}

// statusMarkingSubResourceClient is the fake's client of the /status subresource, marking applies:
// Apply, and Patch with the deprecated client.Apply patch type.
type statusMarkingSubResourceClient struct {
	client.SubResourceClient
	scheme *runtime.Scheme
}

// Patch implements client.SubResourceWriter. An apply patch (client.Apply, deprecated for
// Apply) is a /status apply like Apply's: it is sent marked, as the subresource body, and the
// fake's answer replaces obj (or the body the caller gave). Any other patch goes to the fake as
// it is.
func (s statusMarkingSubResourceClient) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
	if patch.Type() != types.ApplyPatchType {
		return s.SubResourceClient.Patch(ctx, obj, patch, opts...)
	}
	options := &client.SubResourcePatchOptions{}
	options.ApplyOptions(opts)
	body := obj
	if options.SubResourceBody != nil {
		body = options.SubResourceBody
	}
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(body)
	if err != nil {
		return fmt.Errorf("reading the /status apply patch of %T: %w", body, err)
	}
	marked := &unstructured.Unstructured{Object: content}
	gvk, err := apiutil.GVKForObject(body, s.scheme)
	if err != nil {
		return err
	}
	marked.SetGroupVersionKind(gvk)
	marked.SetManagedFields(append(marked.GetManagedFields(), statusMark))
	options.SubResourceBody = marked
	if err := s.SubResourceClient.Patch(ctx, obj, patch, options); err != nil {
		return err
	}
	takeStatusMark(marked)
	return answer.Into(body, marked)
}

// Apply implements client.SubResourceWriter: it sends the fake the configuration marked, as
// the subresource body, and the fake writes its answer into obj as for any /status apply.
func (s statusMarkingSubResourceClient) Apply(ctx context.Context, obj runtime.ApplyConfiguration, opts ...client.SubResourceApplyOption) error {
	options := (&client.SubResourceApplyOptions{}).ApplyOpts(opts)
	// The fake sends the body in obj's place when one is given (fakeSubResourceClient.Apply),
	// so a body the caller gave is the one to mark.
	body := obj
	if options.SubResourceBody != nil {
		body = options.SubResourceBody
	}
	marked, err := markStatus(body)
	if err != nil {
		return err
	}
	options.SubResourceBody = marked
	if err := s.SubResourceClient.Apply(ctx, obj, options); err != nil {
		return err
	}
	// The fake writes the body into obj: its answer, once the tracker has it, but the marked body
	// itself where the fake writes nothing and returns early (a patch's dry run, an object its
	// tracker deleted). An apply never gets there today; were it to, the mark would show in an
	// unstructured configuration (the generated ones have no managedFields).
	if answer, ok := obj.(metav1.Object); ok {
		takeStatusMark(answer)
	}
	return nil
}

// markStatus returns config, in the unstructured form the fake turns every configuration into,
// with statusMark among its managedFields.
func markStatus(config runtime.ApplyConfiguration) (runtime.ApplyConfiguration, error) {
	u, err := asUnstructured(config)
	if err != nil {
		return nil, err
	}
	u.SetManagedFields(append(u.GetManagedFields(), statusMark))
	return client.ApplyConfigurationFromUnstructured(u), nil
}

// asUnstructured returns config in the unstructured form the fake turns every configuration
// into, in the fake's words when it cannot.
func asUnstructured(config runtime.ApplyConfiguration) (*unstructured.Unstructured, error) {
	data, err := json.Marshal(config)
	if err != nil {
		return nil, fmt.Errorf("failed to marshal apply configuration: %w", err)
	}
	u := &unstructured.Unstructured{}
	if err := json.Unmarshal(data, u); err != nil {
		return nil, fmt.Errorf("failed to unmarshal apply configuration: %w", err)
	}
	return u, nil
}

// takeStatusMark removes statusMark from the managedFields of config, and tells whether it was
// there.
func takeStatusMark(config metav1.Object) bool {
	_, marked := takeMark(config, statusApplyManager, "status")
	return marked
}

// takeMark removes the Apply entry of manager on subresource from the managedFields of config,
// and returns it, if it was there.
func takeMark(config metav1.Object, manager, subresource string) (metav1.ManagedFieldsEntry, bool) {
	var kept []metav1.ManagedFieldsEntry
	var mark metav1.ManagedFieldsEntry
	marked := false
	for _, entry := range config.GetManagedFields() {
		if (ssa.Entry{Manager: entry.Manager, Operation: entry.Operation, Subresource: entry.Subresource}).IsApplyOf(manager, subresource) {
			mark, marked = entry, true
			continue
		}
		kept = append(kept, entry)
	}
	if marked {
		// nil, not empty: the field manager refuses any managedFields that are not nil.
		config.SetManagedFields(kept)
	}
	return mark, marked
}
