package ssa

import (
	"context"
	"errors"
	"fmt"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/util/csaupgrade"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ssakit/ssakit/internal/answer"
)

// UpgradeManagers moves everything the legacy managers' Update entries own on obj into manager's
// Apply entry, with client-go's csaupgrade.UpgradeManagedFieldsPatch: one JSON patch of
// metadata.managedFields guarded by obj's resourceVersion (row 31). It reports whether a patch was
// sent, and replaces obj with the server's answer when one was. obj must come from the API server
// with its managedFields whole: a cache that strips or trims them would hide what is moved.
//
// The hazard (docs/ssa-semantics.md row 26): manager then owns every field those writers wrote,
// and its next apply that leaves one out deletes it, whoever else relies on it. Use it only for a
// manager whose applies declare everything the legacy writers wrote: a controller that moves its
// children from Update to apply with the same content, say. Never for a finalizer's manager,
// whose applies list the finalizer alone: FinalizerOptions.TakeOverLegacy moves the finalizer's item and nothing
// else. A write since obj was read is an *ObjectError wrapping ErrStale: read obj again and retry.
func UpgradeManagers(ctx context.Context, c client.Client, obj client.Object, manager string, legacy ...string) (bool, error) {
	ref, err := refOf(obj, c.Scheme())
	if err != nil {
		return false, fmt.Errorf("upgrading managers to %q: %w", manager, err)
	}
	if len(obj.GetManagedFields()) == 0 || obj.GetResourceVersion() == "" {
		return false, fmt.Errorf("upgrading managers of %s to %q: the object has no managedFields or resourceVersion; pass an object read from the API server, not from a cache that strips them", ref, manager)
	}
	if err := sameAPIVersion(obj, ref, manager, legacy); err != nil {
		return false, err
	}
	patch, err := csaupgrade.UpgradeManagedFieldsPatch(obj, sets.New(legacy...), manager)
	if err != nil || patch == nil {
		return false, err
	}
	answered := &unstructured.Unstructured{}
	if err := sendManagedFieldsPatch(ctx, c, ref, answered, patch, manager, "no manager was upgraded"); err != nil {
		if errors.Is(err, ErrStale) || errors.Is(err, ErrGone) {
			return false, err
		}
		return false, fmt.Errorf("upgrading managers %v of %s to %q: %w", legacy, ref, manager, err)
	}
	if err := answer.Into(obj, answered); err != nil {
		return true, fmt.Errorf("the managers of %s were upgraded, but the answer could not be read into %T (which was left as it was): %w", ref, obj, err)
	}
	return true, nil
}

// sameAPIVersion refuses an upgrade whose entries were written through different apiVersions:
// csaupgrade merges only a legacy entry at the apiVersion of manager's Apply entry, and drops the
// others, whose fields would then be owned by nobody.
func sameAPIVersion(obj client.Object, ref ObjectRef, manager string, legacy []string) error {
	versions := map[string][]string{}
	for _, e := range obj.GetManagedFields() {
		isLegacy := slices.Contains(legacy, e.Manager) && e.Operation == metav1.ManagedFieldsOperationUpdate && e.Subresource == ""
		if isLegacy || identity(e).IsApplyOf(manager, "") {
			versions[e.APIVersion] = append(versions[e.APIVersion], e.Manager+" ("+string(e.Operation)+")")
		}
	}
	if len(versions) <= 1 {
		return nil
	}
	return fmt.Errorf("upgrading managers of %s to %q: their entries were written through different apiVersions %v, and csaupgrade would drop the ones it cannot merge, "+
		"leaving their fields owned by nobody; write the object once through one apiVersion as each of them, or upgrade them one version at a time", ref, manager, versions)
}
