package main

import (
	"errors"
	"fmt"
	"strings"

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

// withUsage makes an Args validator's error end with the command's usage line and where to read
// more, as kubectl's do; the root command silences the whole usage text.
func withUsage(validate cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := validate(cmd, args); err != nil {
			return fmt.Errorf("%w\nUsage:\n  %s\nSee '%s -h' for help and examples", err, cmd.UseLine(), cmd.CommandPath())
		}
		return nil
	}
}

// namedObjects accepts TYPE NAME..., TYPE/NAME... or TYPE[,TYPE...] with names after: at least
// one object named.
func namedObjects(_ *cobra.Command, args []string) error {
	switch {
	case len(args) == 0:
		return errors.New("name the objects as TYPE NAME... or TYPE/NAME...: kubectl api-resources lists the types")
	case len(args) == 1 && !strings.Contains(args[0], "/"):
		return fmt.Errorf("%q is a type: name its objects after it (TYPE NAME...) or as TYPE/NAME", args[0])
	}
	return nil
}

// someObjects accepts TYPE [NAME...] and TYPE/NAME...: a type at least.
func someObjects(_ *cobra.Command, args []string) error {
	if len(args) == 0 {
		return errors.New("name a type, and objects if you like, as TYPE [NAME...] or TYPE/NAME...: kubectl api-resources lists the types")
	}
	return nil
}
