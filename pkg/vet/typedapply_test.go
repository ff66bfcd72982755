package vet_test

import (
	"testing"

	"golang.org/x/tools/go/analysis/analysistest"

	"github.com/ssakit/ssakit/pkg/vet"
)

func TestTypedApply(t *testing.T) {
	tests := []struct {
		name string
		pkg  string
	}{
		{name: "reports typed objects applied, naming fields they send even when unset", pkg: "typedapply/reported"},
		{name: "does not report unstructured, metadata-only or interface-typed objects, nor other writes", pkg: "typedapply/notreported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			analysistest.Run(t, analysistest.TestData(), vet.TypedApply, tt.pkg)
		})
	}
}
