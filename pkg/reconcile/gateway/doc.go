// Package gateway translates Gateway API objects (GatewayClass, Gateway,
// HTTPRoute, GRPCRoute, ReferenceGrant, BackendTLSPolicy) into the same
// snapshot the Ingress translation builds, and computes their statuses.
package gateway

import _ "sigs.k8s.io/gateway-api/apis/v1" // the API this package serves
