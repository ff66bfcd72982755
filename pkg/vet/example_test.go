package vet_test

import (
	"fmt"
	"strings"

	"github.com/ssakit/ssakit/pkg/vet"
)

func ExampleAnalyzers() {
	for _, a := range vet.Analyzers {
		summary, _, _ := strings.Cut(a.Doc, "\n")
		fmt.Printf("%s: %s\n", a.Name, summary)
	}
	// Output:
	// finalizerupdate: report finalizers changed in memory and written with Update or a merge patch
	// finalizername: report finalizer names the API server refuses or warns on
	// typedapply: report typed objects applied with their zero values
}
