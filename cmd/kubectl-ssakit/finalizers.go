package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/ssakit/ssakit/pkg/ssa"
)

// finalizerJSON is one finalizer on one object in -o json.
type finalizerJSON struct {
	Object objectJSON `json:"object"`
	// Field is the list the finalizer is in: metadata.finalizers, or a Namespace's
	// spec.finalizers, which the namespace controller empties once the namespace's objects are
	// gone.
	Field     string      `json:"field"`
	Finalizer string      `json:"finalizer"`
	Owners    []entryJSON `json:"owners"`
	// Name is the name's class, ssa.CheckFinalizerName's: "qualified", "unqualified" (the server
	// accepts it on custom resources with a warning, and refuses it on built-in types), "invalid"
	// (refused on every kind) or "reserved" (Kubernetes' own: kubernetes, orphan,
	// foregroundDeletion).
	Name ssa.NameClass `json:"name"`
	// NameProblem says what is wrong with the name, when something is: the server's warning for
	// an unqualified name, the broken rules for an invalid or reserved one.
	NameProblem string `json:"nameProblem,omitempty"`
	// TerminatingFor is how long the object has been terminating, in seconds; absent when it is
	// not terminating.
	TerminatingFor *int64 `json:"terminatingSeconds,omitempty"`
	// Stuck is true when the object has been terminating for longer than --stuck-after.
	Stuck bool `json:"stuck"`
	// Waiting is what a stuck Namespace waits for, from its status conditions.
	Waiting []string `json:"waiting,omitempty"`
	// Release is the command that releases a stuck finalizer by hand, skipping its cleanup.
	Release string `json:"release,omitempty"`
}

// The lists finalizers are found in.
const (
	metadataFinalizers = "metadata.finalizers"
	specFinalizers     = "spec.finalizers"
)

// finalizersOf lists obj's finalizers, a Namespace's spec.finalizers too, as of now.
func finalizersOf(obj *unstructured.Unstructured, now time.Time, stuckAfter time.Duration) ([]finalizerJSON, error) {
	ownership, err := ssa.ParseOwnership(obj.GetManagedFields())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", objectOf(obj), err)
	}
	var found []finalizerJSON
	add := func(field string, index int, name string, path fieldpath.Path) {
		f := finalizerJSON{Object: objectOf(obj), Field: field, Finalizer: name}
		f.Name, f.NameProblem = classify(name)
		var owners []ssa.Entry
		for _, e := range ownership.Entries {
			if e.Fields.Has(path) {
				owners = append(owners, e)
			}
		}
		f.Owners = entriesOf(owners)
		if deleted := obj.GetDeletionTimestamp(); deleted != nil {
			terminating := terminatingFor(now, deleted.Time, obj.GetDeletionGracePeriodSeconds())
			seconds := int64(terminating / time.Second)
			f.TerminatingFor = &seconds
			f.Stuck = terminating > stuckAfter
		}
		if f.Stuck {
			f.Release = releaseCommand(obj, f.Object, field, index, name)
		}
		found = append(found, f)
	}
	for i, name := range obj.GetFinalizers() {
		add(metadataFinalizers, i, name, ssa.FinalizerPath(name))
	}
	if obj.GroupVersionKind().GroupKind() == (schema.GroupKind{Kind: "Namespace"}) {
		// spec.finalizers is atomic: its owners own the whole list.
		names, _, _ := unstructured.NestedStringSlice(obj.Object, "spec", "finalizers")
		for i, name := range names {
			add(specFinalizers, i, name, fieldpath.MakePathOrDie("spec", "finalizers"))
			found[len(found)-1].Waiting = namespaceWaits(obj)
		}
	}
	return found, nil
}

// namespaceWaits returns the messages of a terminating Namespace's true conditions: what the
// namespace controller could not delete yet, and why.
func namespaceWaits(obj *unstructured.Unstructured) []string {
	conditions, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	var waits []string
	for _, c := range conditions {
		condition, ok := c.(map[string]any)
		if !ok || condition["status"] != "True" {
			continue
		}
		if message, ok := condition["message"].(string); ok && message != "" {
			waits = append(waits, message)
		}
	}
	return waits
}

// releaseCommand is the shell command that removes the finalizer name at index of field from o
// (obj, as read), and nothing else. For metadata.finalizers, a JSON patch that tests the item before
// it removes it, so it fails rather than removes another finalizer when the list has changed. A
// Namespace's spec.finalizers are written through its finalize subresource, which kubectl patch
// cannot reach: a replace of the finalizers kept, guarded by obj's resourceVersion, so it fails
// rather than drops a finalizer added since; it needs kubectl alone.
func releaseCommand(obj *unstructured.Unstructured, o objectJSON, field string, index int, name string) string {
	quotedName, _ := json.Marshal(name)
	if field == specFinalizers {
		names, _, _ := unstructured.NestedStringSlice(obj.Object, "spec", "finalizers")
		kept := slices.DeleteFunc(slices.Clone(names), func(n string) bool { return n == name })
		body, _ := json.Marshal(map[string]any{
			"apiVersion": "v1", "kind": "Namespace",
			"metadata": map[string]any{"name": o.Name, "resourceVersion": obj.GetResourceVersion()},
			"spec":     map[string]any{"finalizers": append([]string{}, kept...)},
		})
		return fmt.Sprintf("echo %s | kubectl replace --raw /api/v1/namespaces/%s/finalize -f -", shellQuote(string(body)), o.Name)
	}
	path := fmt.Sprintf("/metadata/finalizers/%d", index)
	patch := fmt.Sprintf(`[{"op":"test","path":%q,"value":%s},{"op":"remove","path":%q}]`, path, quotedName, path)
	namespace := ""
	if o.Namespace != "" {
		namespace = " -n " + o.Namespace
	}
	return fmt.Sprintf("kubectl patch %s%s --type=json -p %s", o.kubectlName(), namespace, shellQuote(patch))
}

// shellQuote quotes s for sh, in single quotes.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func newFinalizersCommand(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	var (
		format     output
		selected   selection
		stuckAfter time.Duration
	)
	cmd := &cobra.Command{
		Use:   "finalizers (TYPE [NAME...] | TYPE/NAME...)",
		Short: "List each finalizer on each object: its owners, its name's class, whether it is stuck",
		Long: `List each finalizer on each object with the field managers that own it (an Update owner is a
controller that added it with Update or a merge patch: a candidate for kubectl ssakit
migrate), its name's class as ssa.CheckFinalizerName gives it, and how long the object has
been terminating: a finalizer on an object terminating for longer than --stuck-after is
reported stuck. The classes: qualified; unqualified, without a "/" path (a warning on custom
resources, refused on built-in types); invalid (refused on every kind); reserved, one of
Kubernetes' own (kubernetes, orphan, foregroundDeletion).

A Namespace's spec.finalizers (kubernetes, which the namespace controller removes once the
namespace is empty) are listed too, with what the namespace waits for. For each stuck
finalizer, stderr says who should release it, how to tell that nothing will, and the exact
command that releases it by hand (JSON: "release"), which skips the cleanup it stands for.`,
		Example: `  kubectl ssakit finalizers widgets.example.com -A
  kubectl ssakit finalizers configmaps -n prod --stuck-after 1h -o json
  kubectl ssakit finalizers namespaces`,
		Args: withUsage(someObjects),
		RunE: func(_ *cobra.Command, args []string) error {
			objects, readErr := selected.objects(flags, args)
			if objects == nil && readErr != nil {
				return readErr
			}
			found := []finalizerJSON{}
			for _, obj := range objects {
				f, err := finalizersOf(obj, time.Now(), stuckAfter)
				if err != nil {
					return err
				}
				found = append(found, f...)
			}
			var err error
			if format.structured() {
				err = writeList(streams.Out, format, found)
			} else {
				err = printFinalizers(streams, found, len(objects))
			}
			if err != nil {
				return err
			}
			return readErr
		},
	}
	selected.addFlags(cmd)
	cmd.Flags().DurationVar(&stuckAfter, "stuck-after", 5*time.Minute, "Report a finalizer stuck when its object has been terminating for longer than this.")
	cmd.Flags().VarP(&format, "output", "o", "Output format: json or yaml (a kubectl List), or none for text.")
	return cmd
}

// classify returns the class of a finalizer name and, unless it is qualified, what is wrong with
// it: the server's warning for an unqualified name, the broken rules for an invalid or reserved
// one.
func classify(name string) (ssa.NameClass, string) {
	check := ssa.CheckFinalizerName(name)
	switch {
	case check.Warning != "":
		return check.Class, check.Warning
	case check.Err != nil:
		if invalid, ok := errors.AsType[*ssa.InvalidNameError](check.Err); ok {
			return check.Class, strings.Join(invalid.Reasons, "; ")
		}
		return check.Class, check.Err.Error()
	}
	return check.Class, ""
}

// terminatingFor is how long an object has been terminating. The server sets deletionTimestamp to
// the end of the grace period (a Pod's, say), which can be in the future: the deletion started
// that many seconds before it.
func terminatingFor(now, deletionTimestamp time.Time, gracePeriodSeconds *int64) time.Duration {
	started := deletionTimestamp
	if gracePeriodSeconds != nil {
		started = started.Add(-time.Duration(*gracePeriodSeconds) * time.Second)
	}
	return max(now.Sub(started), 0)
}

func printFinalizers(streams genericiooptions.IOStreams, found []finalizerJSON, objects int) error {
	if len(found) == 0 {
		fmt.Fprintf(streams.ErrOut, "no finalizer on %d object(s)\n", objects)
		return nil
	}
	w := printers.GetNewTabWriter(streams.Out)
	fmt.Fprintln(w, "NAMESPACE\tOBJECT\tFINALIZER\tOWNERS\tNAME\tTERMINATING")
	unqualified, stuck := 0, 0
	carrying := map[objectJSON]bool{}
	for _, f := range found {
		carrying[f.Object] = true
		owners := make([]string, len(f.Owners))
		for i, e := range f.Owners {
			owners[i] = e.String()
		}
		if len(owners) == 0 {
			owners = []string{"<none recorded>"}
		}
		terminating := ""
		if f.TerminatingFor != nil {
			terminating = duration.HumanDuration(time.Duration(*f.TerminatingFor) * time.Second)
			if f.Stuck {
				terminating += " (stuck)"
				stuck++
			}
		}
		if f.Name != ssa.NameQualified && f.Field == metadataFinalizers {
			unqualified++
		}
		finalizer := f.Finalizer
		if f.Field == specFinalizers {
			finalizer += " (spec.finalizers)"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", f.Object.Namespace, f.Object.kubectlName(), finalizer, strings.Join(owners, ", "), f.Name, terminating)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	for _, f := range found {
		if f.Release != "" {
			adviseRelease(streams.ErrOut, f)
		}
	}
	fmt.Fprintf(streams.ErrOut, "%d finalizer(s) on %d of %d object(s): %d without a domain-qualified name, %d stuck\n", len(found), len(carrying), objects, unqualified, stuck)
	return nil
}

// adviseRelease says who should release a stuck finalizer, how to tell that nothing will, and
// the command that releases it by hand.
func adviseRelease(w io.Writer, f finalizerJSON) {
	held := duration.HumanDuration(time.Duration(*f.TerminatingFor) * time.Second)
	switch {
	case f.Field == specFinalizers:
		fmt.Fprintf(w, "%s has been terminating for %s: the namespace controller (kube-controller-manager) removes %q from spec.finalizers once every object in the namespace is deleted.\n", f.Object, held, f.Finalizer)
		if len(f.Waiting) == 0 {
			fmt.Fprintln(w, "  It has no condition saying what it waits for: is kube-controller-manager running?")
		}
		for _, waiting := range f.Waiting {
			fmt.Fprintf(w, "  Waiting: %s\n", waiting)
		}
		fmt.Fprintln(w, "  Releasing it by hand skips that cleanup: whatever is left in the namespace stays in storage, and shows up again in a new namespace of the same name. To release it:")
	case f.Name == ssa.NameReserved:
		fmt.Fprintf(w, "%s has been terminating for %s, held by %q, which Kubernetes' garbage collector (kube-controller-manager) removes once the object's dependents are handled.\n", f.Object, held, f.Finalizer)
		fmt.Fprintln(w, "  Releasing it by hand skips that: its dependents are neither deleted first nor orphaned. To release it:")
	default:
		fmt.Fprintf(w, "%s has been terminating for %s, held by %q (%s).\n", f.Object, held, f.Finalizer, ownersText(f.Owners))
		fmt.Fprintf(w, "  Only a running controller that declares %q (as its finalizer, or in ssa.FinalizerOptions.FormerNames) releases it, within seconds of its cleanup; no migration can, as the server refuses new finalizers on a terminating object. If no controller's code names it, or its controller's logs show no attempt, nothing will.\n", f.Finalizer)
		fmt.Fprintln(w, "  Releasing it by hand skips the cleanup it stands for. To release it:")
	}
	fmt.Fprintf(w, "  %s\n", f.Release)
}

// ownersText lists owners, or says none is recorded.
func ownersText(owners []entryJSON) string {
	if len(owners) == 0 {
		return "no owner recorded in managedFields"
	}
	names := make([]string, len(owners))
	for i, e := range owners {
		names[i] = e.String()
	}
	return "added by " + strings.Join(names, ", ")
}
