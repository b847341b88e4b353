package main

import (
	"fmt"
	"log/slog"
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

// TestMoreBindAddresses: a comma-separated bind address list binds each
// address, and Gateway listeners may use any of their ports (the suite's
// GatewayPort8080 puts listeners on 80 and 8080 of one Gateway).
func TestMoreBindAddresses(t *testing.T) {
	c, err := parseFlags([]string{"--http-bind-address", ":80, :8080", "--https-bind-address", ":443"})
	if err != nil {
		t.Fatal(err)
	}
	opts, err := reconcileOptions(c)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(opts.GatewayHTTPPorts, opts.GatewayHTTPSPorts); got != "[80 8080] [443]" {
		t.Errorf("gateway ports %s", got)
	}
	dp := dataplaneOptions(c, nil, slog.New(slog.DiscardHandler), nil)
	if got := fmt.Sprintf("%s %v %s %v", dp.HTTPAddr, dp.MoreHTTPAddrs, dp.HTTPSAddr, dp.MoreHTTPSAddrs); got != ":80 [:8080] :443 []" {
		t.Errorf("listeners %s", got)
	}
	if _, err := parseFlags([]string{"--http-bind-address", ":80,"}); err == nil {
		t.Error("an empty entry was taken")
	}
}
