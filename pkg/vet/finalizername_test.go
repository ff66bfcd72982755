package vet_test

import (
	"testing"

	"golang.org/x/tools/go/analysis/analysistest"

	"github.com/ssakit/ssakit/pkg/vet"
)

func TestFinalizerName(t *testing.T) {
	tests := []struct {
		name string
		pkg  string
	}{
		{name: "reports constant names ssa.CheckFinalizerName does not class as qualified, by how the name is used", pkg: "finalizername/reported"},
		{name: "does not report qualified names, unqualified names NewFinalizer is told to allow, or names it cannot know", pkg: "finalizername/notreported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			analysistest.Run(t, analysistest.TestData(), vet.FinalizerName, tt.pkg)
		})
	}
}
