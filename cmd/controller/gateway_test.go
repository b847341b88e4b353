package main

import (
	"fmt"
	"testing"
)

// TestGatewayFlags: the pool is a CIDR; the listener ports Gateways are
// compared with come from the bind addresses.
func TestGatewayFlags(t *testing.T) {
	c, err := parseFlags([]string{"--gateway-address-pool", "10.96.200.7/24", "--http-bind-address", ":80", "--https-bind-address", "0.0.0.0:443"})
	if err != nil {
		t.Fatal(err)
	}
	opts, err := reconcileOptions(c)
	if err != nil {
		t.Fatal(err)
	}
	if opts.GatewayAddressPool.String() != "10.96.200.0/24" || fmt.Sprint(opts.GatewayHTTPPorts, opts.GatewayHTTPSPorts) != "[80] [443]" {
		t.Fatalf("options %v %v %v", opts.GatewayAddressPool, opts.GatewayHTTPPorts, opts.GatewayHTTPSPorts)
	}
	if opts.GatewayControllerName != "baton.dev/gateway-controller" {
		t.Fatalf("controller name %q", opts.GatewayControllerName)
	}
	if _, err := parseFlags([]string{"--gateway-address-pool", "10.96.200.7"}); err == nil {
		t.Fatal("an address without a prefix length was taken for a pool")
	}
}
