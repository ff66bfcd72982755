# ssakit: every target a developer or CI runs. `make help` lists them.

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec
.DEFAULT_GOAL := help

# The control-plane release the tests run against. Keep DEFAULT_KUBE_VERSION equal to
# internal/testcluster.DefaultKubeVersion; KUBE_VERSIONS are the releases test-matrix runs.
DEFAULT_KUBE_VERSION := 1.37.2
KUBE_VERSION ?= $(DEFAULT_KUBE_VERSION)
KUBE_VERSIONS := 1.37.2 1.36.3 1.35.4 1.34.4
export KUBE_VERSION

BIN := $(CURDIR)/bin
CONTROLPLANE := $(BIN)/controlplane/$(KUBE_VERSION)

GOLANGCI_LINT_VERSION := v2.15.0
GOLANGCI_LINT := $(BIN)/golangci-lint-$(GOLANGCI_LINT_VERSION)

CONTROLLER_GEN_VERSION := v0.23.0
CONTROLLER_GEN := $(BIN)/controller-gen-$(CONTROLLER_GEN_VERSION)

# The helm CLI test/integration/helm drives, built from the pinned module hack/helm (kept out of
# the root go.mod). Keep HELM_VERSION equal to the helm.sh/helm/v4 version in hack/helm/go.mod.
HELM_VERSION := v4.3.2
HELM := $(BIN)/helm-$(HELM_VERSION)

# The kubebuilder CLI test/integration/gettingstarted scaffolds docs/getting-started.md's operator
# with, built from the pinned module hack/kubebuilder (kept out of the root go.mod). Keep
# KUBEBUILDER_VERSION equal to the sigs.k8s.io/kubebuilder/v4 version in hack/kubebuilder/go.mod.
KUBEBUILDER_VERSION := v4.16.0
KUBEBUILDER := $(BIN)/kubebuilder-$(KUBEBUILDER_VERSION)
# kubectl for test/integration/plugin (its completion, the release commands it prints), built from
# the default control plane's pinned module, so no machine's own kubectl is needed.
KUBECTL := $(BIN)/kubectl-v$(DEFAULT_KUBE_VERSION)

OPERATOR := example/operator
MINIMAL := example/minimal
GENERATED := $(OPERATOR)/api/v1alpha1/zz_generated.deepcopy.go $(OPERATOR)/api/v1alpha1/applyconfiguration \
	$(OPERATOR)/config/crd $(OPERATOR)/config/rbac/role.yaml \
	$(MINIMAL)/api/v1alpha1/zz_generated.deepcopy.go $(MINIMAL)/api/v1alpha1/applyconfiguration $(MINIMAL)/config/crd

GO_TEST_FLAGS ?= -count=1

.PHONY: help
help: ## List the targets.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## Compile every package of the module.
	go build ./...
	go vet ./...

.PHONY: demo
demo: controlplane ## Run the ConfigMirror operator end to end on a local control plane and print who owns what.
	go run ./$(OPERATOR)/cmd/demo

.PHONY: run
run: ## Run the ConfigMirror operator against the cluster of the current kubeconfig (install config/ first).
	go run ./$(OPERATOR)/cmd/operator

.PHONY: plugin
plugin: ## Build the kubectl plugin into bin/kubectl-ssakit, and its completion into bin/kubectl_complete-ssakit (put bin/ on PATH, then: kubectl ssakit --help).
	go build -o $(BIN)/kubectl-ssakit ./cmd/kubectl-ssakit
	printf '#!/bin/sh\n# kubectl runs this to complete kubectl ssakit (kubectl 1.26 or later).\nexec kubectl-ssakit __complete "$$@"\n' > $(BIN)/kubectl_complete-ssakit
	chmod +x $(BIN)/kubectl_complete-ssakit

.PHONY: vet-tool
vet-tool: ## Build the analyzer into bin/ssakit-vet (then: go vet -vettool=$(CURDIR)/bin/ssakit-vet ./...).
	go build -o $(BIN)/ssakit-vet ./cmd/ssakit-vet

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Regenerate the examples' deepcopy, apply configurations and CRDs, and the operator's ClusterRole.
	cd $(OPERATOR) && rm -rf api/v1alpha1/applyconfiguration && \
		$(CONTROLLER_GEN) object applyconfiguration paths=./api/... && \
		$(CONTROLLER_GEN) crd paths=./api/... output:crd:dir=config/crd \
			rbac:roleName=configmirror-operator paths=./controller/... output:rbac:dir=config/rbac
	cd $(MINIMAL) && rm -rf api/v1alpha1/applyconfiguration && \
		$(CONTROLLER_GEN) object applyconfiguration paths=./api/... && \
		$(CONTROLLER_GEN) crd paths=./api/... output:crd:dir=config/crd

.PHONY: verify
verify: generate ## Fail when generated files differ from what is checked in.
	@if [ -n "$$(git status --porcelain -- $(GENERATED))" ]; then \
		git status --short -- $(GENERATED); git --no-pager diff -- $(GENERATED) | head -50; \
		echo "verify: generated files are out of date: run 'make generate' and commit the result"; exit 1; \
	fi

$(CONTROLLER_GEN):
	@mkdir -p $(BIN)/.controller-gen
	GOBIN=$(BIN)/.controller-gen go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_GEN_VERSION)
	mv $(BIN)/.controller-gen/controller-gen $@

.PHONY: helm
helm: $(HELM) ## Build the helm CLI (HELM_VERSION, from hack/helm) into bin/ for test/integration/helm (nothing to do when present).

$(HELM):
	@echo "building helm $(HELM_VERSION) from its Go module (a few minutes the first time)"
	cd hack/helm && go build -o $@ -ldflags "-X helm.sh/helm/v4/internal/version.version=$(HELM_VERSION)" helm.sh/helm/v4/cmd/helm

.PHONY: kubectl
kubectl: $(KUBECTL) ## Build kubectl (DEFAULT_KUBE_VERSION, from hack/controlplane) into bin/ for test/integration/plugin (nothing to do when present).

$(KUBECTL):
	cd hack/controlplane/v$(DEFAULT_KUBE_VERSION) && go build -o $(KUBECTL) k8s.io/kubernetes/cmd/kubectl

.PHONY: kubebuilder
kubebuilder: $(KUBEBUILDER) ## Build the kubebuilder CLI (KUBEBUILDER_VERSION, from hack/kubebuilder) into bin/ for the getting-started guide's test.

# The module's build info gives the binary its version, as `go install ...@version` does.
$(KUBEBUILDER):
	@echo "building kubebuilder $(KUBEBUILDER_VERSION) from its Go module (under a minute the first time)"
	cd hack/kubebuilder && go build -o $@ sigs.k8s.io/kubebuilder/v4

.PHONY: test
test: controlplane test-fieldsv1string helm kubebuilder kubectl ## Run the unit and integration tests against a real kube-apiserver and etcd (KUBE_VERSION).
	go test $(GO_TEST_FLAGS) ./...

# The packages whose tests need no control plane.
UNIT_PACKAGES = $$(go list ./... | grep -v -e /test/ -e /internal/testcluster)

.PHONY: test-fieldsv1string
test-fieldsv1string: ## Build every package and test, and run the unit tests, with -tags=fieldsv1string (FieldsV1 without Raw: docs/ssa-semantics.md row 33).
	go vet -tags=fieldsv1string ./...
	go test -count=1 -tags=fieldsv1string $(UNIT_PACKAGES)

.PHONY: proof
proof: controlplane ## The ownership proof at ten times CI's size: 2,000 random sequences of 20 steps (PROOF_SEED replays one).
	PROOF_SEQUENCES=$${PROOF_SEQUENCES:-2000} go test $(GO_TEST_FLAGS) -timeout 60m -run TestProof -v ./test/integration/proof | grep -E '^(proof:|---|ok|FAIL|PASS)|violation|^\s+[0-9]+\.|replay|shrunk'

.PHONY: mutants
mutants: controlplane ## Apply each plausible defect of pkg/ssa and pkg/reconcile listed in test/mutants/mutants.txt and run the suites that must kill it (MUTANTS=id1,id2 runs some).
	MUTANTS="$(MUTANTS)" go run ./test/mutants

.PHONY: test-matrix
test-matrix: helm kubebuilder kubectl ## Run the integration tests on every release in KUBE_VERSIONS.
	@failed=""; \
	for v in $(KUBE_VERSIONS); do \
		echo "=== control plane $$v"; \
		$(MAKE) --no-print-directory controlplane KUBE_VERSION=$$v && \
		KUBE_VERSION=$$v go test $(GO_TEST_FLAGS) ./test/integration/... || failed="$$failed $$v"; \
	done; \
	if [ -n "$$failed" ]; then echo "test-matrix: failed on:$$failed"; exit 1; fi; \
	echo "test-matrix: passed on $(KUBE_VERSIONS)"

.PHONY: controlplane
controlplane: ## Build kube-apiserver and etcd for KUBE_VERSION into bin/controlplane/ (nothing to do when present or when KUBEBUILDER_ASSETS is set).
ifneq ($(KUBEBUILDER_ASSETS),)
	@echo "KUBEBUILDER_ASSETS=$(KUBEBUILDER_ASSETS): using those binaries, building none"
else ifeq ($(wildcard hack/controlplane/v$(KUBE_VERSION)/go.mod),)
	@echo "no pinned module for KUBE_VERSION=$(KUBE_VERSION) (have: $(KUBE_VERSIONS)); run hack/controlplane/pin.sh $(KUBE_VERSION) to add one"; exit 1
else
	@$(MAKE) --no-print-directory -s $(CONTROLPLANE)/kube-apiserver $(CONTROLPLANE)/etcd
endif

# Both binaries come from one `go build` of the release's pinned module (hack/controlplane/vX.Y.Z).
# The version variables make kube-apiserver report, and emulate, the release it was built from.
$(BIN)/controlplane/%/kube-apiserver $(BIN)/controlplane/%/etcd: hack/controlplane/v%/go.mod hack/controlplane/v%/go.sum hack/controlplane/v%/etcd/main.go
	@echo "building kube-apiserver v$* and etcd from their Go modules (about 5 minutes the first time)"
	cd hack/controlplane/v$* && go build -o $(BIN)/controlplane/$*/ \
		-ldflags "-X k8s.io/component-base/version.gitVersion=v$* -X k8s.io/component-base/version.gitMajor=$(word 1,$(subst ., ,$*)) -X k8s.io/component-base/version.gitMinor=$(word 2,$(subst ., ,$*))" \
		k8s.io/kubernetes/cmd/kube-apiserver ./etcd
	touch $(BIN)/controlplane/$*/kube-apiserver $(BIN)/controlplane/$*/etcd

# BENCH_FLAGS are passed to the bench: '-scale 0.1 -repeat 1' for a quick look (100 and 1,000
# objects), '-sizes 1000' for one size, '-only steady,e2e' for some measurements; see
# test/bench/main.go.
BENCH_FLAGS ?=

.PHONY: bench
bench: controlplane ## Measure ssakit against Update, merge patches, dry-run and TTL-cache skipping on one control plane, at 1,000 and 10,000 objects; writes docs/bench.md.
	go run ./test/bench $(BENCH_FLAGS)

.PHONY: lint
lint: $(GOLANGCI_LINT) verify ## Run golangci-lint (pinned, installed into bin/) and verify generated files.
	$(GOLANGCI_LINT) run ./...

$(GOLANGCI_LINT):
	@mkdir -p $(BIN)/.golangci-lint
	GOBIN=$(BIN)/.golangci-lint go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	mv $(BIN)/.golangci-lint/golangci-lint $@

.PHONY: clean
clean: ## Remove bin/ (control-plane binaries and tools); the Go build cache is kept.
	rm -rf $(BIN)
