# ssakit: every target a developer or CI runs. `make help` lists them.

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec
.DEFAULT_GOAL := help

# The control-plane release the tests run against. Keep DEFAULT_KUBE_VERSION equal to
# internal/testcluster.DefaultKubeVersion; KUBE_VERSIONS are the releases test-matrix runs.
DEFAULT_KUBE_VERSION := 1.36.3
KUBE_VERSION ?= $(DEFAULT_KUBE_VERSION)
KUBE_VERSIONS := 1.36.3 1.35.4 1.34.4
export KUBE_VERSION

BIN := $(CURDIR)/bin
CONTROLPLANE := $(BIN)/controlplane/$(KUBE_VERSION)

GOLANGCI_LINT_VERSION := v2.15.0
GOLANGCI_LINT := $(BIN)/golangci-lint-$(GOLANGCI_LINT_VERSION)

GO_TEST_FLAGS ?= -count=1

.PHONY: help
help: ## List the targets.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## Compile every package of the module.
	go build ./...
	go vet ./...

.PHONY: test
test: controlplane ## Run the unit and integration tests against a real kube-apiserver and etcd (KUBE_VERSION).
	go test $(GO_TEST_FLAGS) ./...

.PHONY: test-matrix
test-matrix: ## Run the integration tests on every release in KUBE_VERSIONS.
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

.PHONY: lint
lint: $(GOLANGCI_LINT) ## Run golangci-lint (pinned, installed into bin/).
	$(GOLANGCI_LINT) run ./...

$(GOLANGCI_LINT):
	@mkdir -p $(BIN)/.golangci-lint
	GOBIN=$(BIN)/.golangci-lint go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	mv $(BIN)/.golangci-lint/golangci-lint $@

.PHONY: clean
clean: ## Remove bin/ (control-plane binaries and tools); the Go build cache is kept.
	rm -rf $(BIN)
