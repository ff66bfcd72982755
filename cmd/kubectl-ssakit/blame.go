package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/ssakit/ssakit/pkg/ssa"
)

// blameJSON is one object's blame in -o json.
type blameJSON struct {
	Object objectJSON       `json:"object"`
	Fields []ownedFieldJSON `json:"fields"`
}

type ownedFieldJSON struct {
	// Path is the field as ssa.FormatPath renders it, in text too: a key's dots escaped as
	// kubectl's JSONPath takes them (.metadata.labels.kubernetes\.io/metadata\.name).
	Path string `json:"path"`
	// Value is the field's value when it is a scalar.
	Value  json.RawMessage `json:"value,omitempty"`
	Owners []entryJSON     `json:"owners"`
}

func newBlameCommand(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	var format output
	cmd := &cobra.Command{
		Use:   "blame (TYPE NAME... | TYPE/NAME...)",
		Short: "Show every field of an object with the managers that own it",
		Long: `Show every field the object's managedFields name, with its value when it is a scalar, and
every manager that owns it: the manager's name, the operation (Apply or Update) and the
subresource it wrote through.

A path is written as kubectl's JSONPath takes it, with a backslash before each dot of a key
(.metadata.labels.kubernetes\.io/metadata\.name), so a path of fields pastes into
kubectl get -o jsonpath='{PATH}'; list items are named by their keys ([name="web"]) or, in
a set, by their value ([="example.com/cleanup"]).`,
		Example: `  kubectl ssakit blame configmap app-config
  kubectl ssakit blame configmap/app-config deployment.apps/web
  kubectl ssakit blame widgets.example.com my-widget -n prod -o json`,
		Args: withUsage(namedObjects),
		RunE: func(_ *cobra.Command, args []string) error {
			objects, readErr := (&selection{}).objects(flags, args)
			if objects == nil {
				return readErr
			}
			if err := blame(streams, objects, format); err != nil {
				return err
			}
			return readErr
		},
	}
	cmd.Flags().VarP(&format, "output", "o", "Output format: json or yaml (a kubectl List), or none for text.")
	return cmd
}

// blame prints the blame of each object.
func blame(streams genericiooptions.IOStreams, objects []*unstructured.Unstructured, format output) error {
	var blamed []blameJSON
	for _, obj := range objects {
		if len(obj.GetManagedFields()) == 0 {
			return fmt.Errorf("%s has no managedFields: nothing records who owns its fields (they were reset, or the server does not track them)", objectOf(obj))
		}
		if format.structured() {
			fields, err := ssa.OwnedFields(obj)
			if err != nil {
				return err
			}
			out := blameJSON{Object: objectOf(obj), Fields: make([]ownedFieldJSON, len(fields))}
			for i, f := range fields {
				out.Fields[i] = ownedFieldJSON{Path: ssa.FormatPath(f.Path), Owners: entriesOf(f.Owners)}
				if f.Value != "" {
					out.Fields[i].Value = json.RawMessage(f.Value)
				}
			}
			blamed = append(blamed, out)
			continue
		}
		text, err := ssa.Blame(obj)
		if err != nil {
			return err
		}
		if len(objects) > 1 {
			// Several objects: each blame under its object's name, as tail(1) heads its files.
			fmt.Fprintf(streams.Out, "==> %s <==\n", objectOf(obj))
		}
		fmt.Fprint(streams.Out, text)
	}
	if format.structured() {
		return writeList(streams.Out, format, blamed)
	}
	return nil
}
