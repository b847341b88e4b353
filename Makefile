# Baton's developer entry points. `make run` and `make test` are the two a
# newcomer needs; everything else is what they are built from.
SHELL := /usr/bin/env bash
BIN   := $(CURDIR)/bin
GO    ?= go
# What `baton --version` prints and baton_build_info exports.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
export KUBEBUILDER_ASSETS := $(BIN)
export PATH := $(BIN):$(PATH)

.PHONY: all tools build generate test unit envtest e2e chart-check bench run fmt vet clean cluster cluster-down test-cluster-smoke test-cluster conformance gateway-conformance

all: build

tools: ## etcd, kube-apiserver, kubectl, helm, controller-gen into bin/ (skips what exists)
	hack/build-tools.sh

build: ## the controller binary and the e2e/demo backend
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN)/baton ./cmd/controller
	$(GO) build -o $(BIN)/baton-e2e-backend ./hack/e2e/backend

.PHONY: image image-check
image: ## the controller image as bin/baton-image.tar, without a container daemon (README.md, "Image")
	cd hack/image && $(GO) run . -src $(CURDIR) -out $(BIN)/baton-image.tar

image-check: ## the image's structure, reproducibility and (as root) its file capability
	cd hack/image && $(GO) test -count=1 ./...

generate: tools ## deepcopy and CRD manifests from pkg/api
	$(BIN)/controller-gen object paths=./pkg/api/... crd paths=./pkg/api/... output:crd:artifacts:config=config/crd
	cp config/crd/*.yaml charts/baton/crds/

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	hack/check-imports.sh

unit: ## tests that need nothing but Go
	$(GO) test -race -count=1 -shuffle=on ./pkg/...

envtest: tools ## reconciler tests against a real kube-apiserver + etcd
	$(GO) test -count=1 -tags envtest ./pkg/api/... ./pkg/reconcile/... ./charts/baton/ci/

e2e: tools build ## real backends in network namespaces, the chart, the controller binary
	$(GO) test -count=1 -timeout 30m ./hack/e2e/...

chart-check: tools
	$(GO) test -count=1 ./charts/baton/ci/
	$(BIN)/helm lint charts/baton
	$(BIN)/helm template baton charts/baton >/dev/null
	$(BIN)/helm template baton charts/baton --set mode=DaemonSet >/dev/null

test: vet unit envtest e2e chart-check image-check ## everything, from a fresh clone

bench: tools build ## micro-benchmarks, then wrk and h2load against Baton, nginx and HAProxy
	hack/bench.sh

run: tools build ## throwaway control plane + Baton + demo backends
	$(GO) run ./hack/run -root $(CURDIR)

cluster: ## a real single-node cluster (root); KUBECONFIG=bin/cluster/kubeconfig
	hack/cluster/build.sh
	$(GO) run ./hack/cluster/cmd/cluster -root $(CURDIR) up

cluster-down: ## stop the node and remove everything `make cluster` created
	$(GO) run ./hack/cluster/cmd/cluster -root $(CURDIR) down

test-cluster-smoke: ## start the node, run a pod from a local image, tear it all down
	hack/cluster/build.sh
	$(GO) test -tags cluster -count=1 -v -timeout 20m ./hack/cluster/ -run TestSmoke

test-cluster: ## the chart on a real node: install, route, backend deletion and upgrade under load, uninstall
	hack/cluster/build.sh
	$(MAKE) image
	$(GO) test -tags cluster -count=1 -v -timeout 30m ./hack/cluster/ -run TestHelm

conformance: ## the official Gateway API conformance suite against Baton on the node (root; opt-in, not part of `make test`)
	hack/conformance/run.sh

gateway-conformance: conformance

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf $(BIN)/baton
