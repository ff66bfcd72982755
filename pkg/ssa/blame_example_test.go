package ssa_test

import (
	"fmt"

	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/ssakit/ssakit/pkg/ssa"
)

func ExampleFormatPath() {
	label := fieldpath.MakePathOrDie("metadata", "labels", "kubernetes.io/metadata.name")
	// kubectl get namespace prod -o jsonpath='{.metadata.labels.kubernetes\.io/metadata\.name}'
	fmt.Println(ssa.FormatPath(label))
	// structured-merge-diff's own rendering reads as three nested fields.
	fmt.Println(label.String())
	gpu := fieldpath.MakePathOrDie("spec", "containers", fieldpath.KeyByFields("name", "web"), "resources", "limits", "nvidia.com/gpu")
	fmt.Println(ssa.FormatPath(gpu))
	fmt.Println(ssa.FormatPath(ssa.FinalizerPath("example.com/cleanup")))
	// Output:
	// .metadata.labels.kubernetes\.io/metadata\.name
	// .metadata.labels.kubernetes.io/metadata.name
	// .spec.containers[name="web"].resources.limits.nvidia\.com/gpu
	// .metadata.finalizers[="example.com/cleanup"]
}
