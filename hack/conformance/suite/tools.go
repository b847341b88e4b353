//go:build tools

// Package suite pins the Gateway API conformance suite that `make
// conformance` runs (README.md, "Gateway API conformance"). Nothing here is
// compiled: the import keeps the module and its test dependencies in go.mod
// and go.sum, so that `go test sigs.k8s.io/gateway-api/conformance` runs the
// suite's own TestConformance exactly as published.
package suite

import _ "sigs.k8s.io/gateway-api/conformance"
