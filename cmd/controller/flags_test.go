package main

import (
	"strings"
	"testing"
)

func TestClientAddressFlags(t *testing.T) {
	c, err := parseFlags([]string{"--trusted-proxies=10.0.0.0/8, 192.0.2.1", "--proxy-protocol"})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.trustedProxies) != 2 || c.trustedProxies[1].String() != "192.0.2.1/32" || !c.proxyProtocol {
		t.Errorf("got %v, proxy protocol %v", c.trustedProxies, c.proxyProtocol)
	}
	c, err = parseFlags(nil)
	if err != nil || c.trustedProxies != nil || c.proxyProtocol {
		t.Errorf("defaults: %v, %v, %v; want nobody trusted and no PROXY protocol", c.trustedProxies, c.proxyProtocol, err)
	}
	if _, err := parseFlags([]string{"--trusted-proxies=10.0.0.0/8,lb.example"}); err == nil || !strings.Contains(err.Error(), `"lb.example" is not an IP address or CIDR`) {
		t.Errorf("a hostname: %v, want a clear refusal", err)
	}
}
