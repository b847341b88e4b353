// Package health holds the health state of one upstream address: an active
// checker (Checker: HTTP GET over HTTP/1.1, h2c or TLS, or a gRPC health
// check) and passive outlier ejection driven by the results of real
// requests, their 5xx answers included if configured (Passive).
//
// Both are keyed by address by their owner (lb.Registry) rather than by
// pool, so the verdict about "10.0.0.7:8080" survives every configuration
// swap that keeps that address. The package knows nothing about pools or
// selection; it only answers "may this address get traffic?".
package health
