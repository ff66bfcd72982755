package vet_test

import (
	"testing"

	"golang.org/x/tools/go/analysis/analysistest"

	"github.com/ssakit/ssakit/pkg/vet"
)

func TestFinalizerUpdate(t *testing.T) {
	tests := []struct {
		name string
		pkg  string
	}{
		{name: "reports controllerutil finalizers written with Update or a merge patch", pkg: "finalizerupdate/reported"},
		{name: "does not report other writes, writes that cannot follow, nor writes in another function", pkg: "finalizerupdate/notreported"},
		{name: "reports SetFinalizers, assignments, helpers, raw merge patches and typed clientsets", pkg: "finalizerupdate/patterns"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			analysistest.Run(t, analysistest.TestData(), vet.FinalizerUpdate, tt.pkg)
		})
	}
}
