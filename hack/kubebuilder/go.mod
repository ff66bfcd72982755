// Module hack/kubebuilder pins the kubebuilder CLI that test/integration/gettingstarted scaffolds
// docs/getting-started.md's operator with, apart from the root module so that kubebuilder's
// dependencies stay out of it. `make kubebuilder` builds it into bin/kubebuilder-VERSION:
//
//	go build -o ../../bin/kubebuilder-v4.16.0 sigs.k8s.io/kubebuilder/v4
//
// The binary reports the version from its build info, as one built by `go install
// sigs.k8s.io/kubebuilder/v4@v4.16.0` does, and writes it into the scaffold's PROJECT file.
//
// To move to another release: go get -tool sigs.k8s.io/kubebuilder/v4@vX.Y.Z && go mod tidy, and
// change KUBEBUILDER_VERSION in the Makefile, KubebuilderVersion in
// test/integration/gettingstarted, and the guide.

module github.com/ssakit/ssakit/hack/kubebuilder

go 1.26.0

tool sigs.k8s.io/kubebuilder/v4

require (
	github.com/fxamacker/cbor/v2 v2.9.1 // indirect
	github.com/go-logr/logr v1.4.3 // indirect
	github.com/gobuffalo/flect v1.0.3 // indirect
	github.com/inconshreveable/mousetrap v1.1.0 // indirect
	github.com/json-iterator/go v1.1.12 // indirect
	github.com/modern-go/concurrent v0.0.0-20180306012644-bacd9c7ef1dd // indirect
	github.com/modern-go/reflect2 v1.0.3-0.20250322232337-35a7c28c31ee // indirect
	github.com/spf13/afero v1.15.0 // indirect
	github.com/spf13/cobra v1.10.2 // indirect
	github.com/spf13/pflag v1.0.10 // indirect
	github.com/x448/float16 v0.8.4 // indirect
	go.yaml.in/yaml/v2 v2.4.4 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/mod v0.41.0 // indirect
	golang.org/x/net v0.58.0 // indirect
	golang.org/x/sync v0.22.0 // indirect
	golang.org/x/text v0.41.0 // indirect
	golang.org/x/tools v0.49.0 // indirect
	gopkg.in/inf.v0 v0.9.1 // indirect
	k8s.io/apimachinery v0.37.0 // indirect
	k8s.io/klog/v2 v2.140.0 // indirect
	k8s.io/kube-openapi v0.0.0-20260721132016-d427ff9ee9ad // indirect
	k8s.io/utils v0.0.0-20260626114624-be93311217bd // indirect
	sigs.k8s.io/json v0.0.0-20250730193827-2d320260d730 // indirect
	sigs.k8s.io/kubebuilder/v4 v4.16.0 // indirect
	sigs.k8s.io/randfill v1.0.0 // indirect
	sigs.k8s.io/structured-merge-diff/v6 v6.4.2 // indirect
	sigs.k8s.io/yaml v1.6.0 // indirect
)
