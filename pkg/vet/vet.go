package vet

import "golang.org/x/tools/go/analysis"

// Analyzers are ssakit-vet's analyzers, in the order cmd/ssakit-vet registers them.
var Analyzers = []*analysis.Analyzer{FinalizerUpdate, FinalizerName, TypedApply}
