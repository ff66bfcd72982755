package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/ssakit/ssakit/pkg/ssa"
)

// output is the -o flag: "" for text, "json" or "yaml".
type output string

func (o *output) String() string { return string(*o) }
func (o *output) Type() string   { return "format" }
func (o *output) Set(s string) error {
	if s != "" && s != "json" && s != "yaml" {
		return fmt.Errorf("unknown output format %q: use -o json or -o yaml, or no -o for text", s)
	}
	*o = output(s)
	return nil
}

// structured reports whether the output is JSON or YAML.
func (o output) structured() bool { return o == "json" || o == "yaml" }

// list is a kubectl List of items, as kubectl get -o json|yaml prints several objects.
type list[T any] struct {
	APIVersion string         `json:"apiVersion"`
	Kind       string         `json:"kind"`
	Metadata   map[string]any `json:"metadata"`
	Items      []T            `json:"items"`
}

// writeList writes items as a kubectl List, in JSON indented as kubectl writes it, or in YAML.
func writeList[T any](w io.Writer, format output, items []T) error {
	if items == nil {
		items = []T{}
	}
	l := list[T]{APIVersion: "v1", Kind: "List", Metadata: map[string]any{"resourceVersion": ""}, Items: items}
	if format == "yaml" {
		out, err := yaml.Marshal(l)
		if err != nil {
			return err
		}
		_, err = w.Write(out)
		return err
	}
	encoder := json.NewEncoder(w)
	encoder.SetIndent("", "    ")
	return encoder.Encode(l)
}

// objectJSON names an object in JSON output.
type objectJSON struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
	UID        string `json:"uid"`
}

// String names the object in a form kubectl takes back: kind.group/name -n namespace, without
// -n for a cluster-scoped object and without the group for the core group.
func (o objectJSON) String() string {
	if o.Namespace == "" {
		return o.kubectlName()
	}
	return o.kubectlName() + " -n " + o.Namespace
}

// kubectlName names the object as kubectl takes it back: kind.group/name (kind/name in the core
// group), lower-case, without its namespace, which goes in -n.
func (o objectJSON) kubectlName() string {
	kind := strings.ToLower(o.Kind)
	if group, _, found := strings.Cut(o.APIVersion, "/"); found {
		kind += "." + group
	}
	return kind + "/" + o.Name
}

func objectOf(obj *unstructured.Unstructured) objectJSON {
	return objectJSON{APIVersion: obj.GetAPIVersion(), Kind: obj.GetKind(), Namespace: obj.GetNamespace(), Name: obj.GetName(), UID: string(obj.GetUID())}
}

// entryJSON is one managedFields entry, without its fields.
type entryJSON struct {
	Manager     string     `json:"manager"`
	Operation   string     `json:"operation"`
	Subresource string     `json:"subresource,omitempty"`
	APIVersion  string     `json:"apiVersion,omitempty"`
	Time        *time.Time `json:"time,omitempty"`
}

// String renders the entry as ssa.Entry does: `manager (Operation)` or `manager (Operation,
// subresource)`.
func (e entryJSON) String() string {
	return ssa.Entry{Manager: e.Manager, Operation: metav1.ManagedFieldsOperationType(e.Operation), Subresource: e.Subresource}.String()
}

func entriesOf(entries []ssa.Entry) []entryJSON {
	out := make([]entryJSON, len(entries))
	for i, e := range entries {
		out[i] = entryJSON{Manager: e.Manager, Operation: string(e.Operation), Subresource: e.Subresource, APIVersion: e.APIVersion}
		if e.Time != nil {
			out[i].Time = &e.Time.Time
		}
	}
	return out
}
