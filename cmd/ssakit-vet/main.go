// Command ssakit-vet finds the code a controller needs to change to use ssakit: finalizers written
// with Update or a merge patch, finalizer names the API server refuses or warns on, and typed
// objects applied with their zero values (package github.com/ssakit/ssakit/pkg/vet).
//
// It runs standalone, on package patterns:
//
//	ssakit-vet ./...
//
// and as a vet tool, through the go command's build graph:
//
//	go vet -vettool=$(which ssakit-vet) ./...
//
// x/tools' multichecker serves both: go vet calls the tool with a .cfg file per package, which the
// multichecker hands to its unitchecker. `ssakit-vet help` lists the analyzers and their flags;
// -finalizerupdate, -finalizername and -typedapply select some of them. Standalone, it exits 3 when
// it reports anything; go vet exits 1.
package main

import (
	"golang.org/x/tools/go/analysis/multichecker"

	"github.com/ssakit/ssakit/pkg/vet"
)

func main() {
	multichecker.Main(vet.Analyzers...)
}
