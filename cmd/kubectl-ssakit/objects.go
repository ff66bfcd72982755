package main

import (
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/resource"
)

// selection is which objects a command acts on: TYPE [NAME...] in the namespace of the flags or
// the kubeconfig, in every namespace with -A, or those matching -l.
type selection struct {
	allNamespaces bool
	selector      string
}

func (s *selection) addFlags(cmd *cobra.Command) {
	cmd.Flags().BoolVarP(&s.allNamespaces, "all-namespaces", "A", false, "Act on the objects of every namespace.")
	cmd.Flags().StringVarP(&s.selector, "selector", "l", "", "Only objects whose labels match this selector (e.g. -l app=web).")
}

// objects reads the selected objects from the API server, whole: with their managedFields, which
// kubectl get hides. Lists are read in pages of 500. An object that cannot be read (a name that
// does not exist, say) does not stop the others: the error says which were left out, next to the
// objects that were read, and the command reports it after doing its work on those.
func (s *selection) objects(flags *genericclioptions.ConfigFlags, args []string) ([]*unstructured.Unstructured, error) {
	namespace, _, err := flags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return nil, err
	}
	infos, err := resource.NewBuilder(flags).
		Unstructured().
		NamespaceParam(namespace).DefaultNamespace().AllNamespaces(s.allNamespaces).
		LabelSelectorParam(s.selector).
		ResourceTypeOrNameArgs(true, args...).
		RequestChunksOf(500).
		ContinueOnError().
		Flatten().
		Do().Infos()
	if len(infos) == 0 {
		return nil, err
	}
	readErr := err
	objects := make([]*unstructured.Unstructured, 0, len(infos))
	for _, info := range infos {
		obj, ok := info.Object.(*unstructured.Unstructured)
		if !ok {
			return nil, fmt.Errorf("%s %s: read as %T, not as unstructured content", info.Mapping.Resource.Resource, info.Name, info.Object)
		}
		objects = append(objects, obj)
	}
	if readErr != nil {
		readErr = fmt.Errorf("some objects could not be read and were left out: %w", readErr)
	}
	return objects, readErr
}
