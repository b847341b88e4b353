package main

import (
	"strings"
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/dataplane/proxy"
)

func TestDefaultBackendServiceFlag(t *testing.T) {
	cases := []struct {
		value, wantKey string
		wantPort       int32
		wantErr        string
	}{
		{value: ""},
		{value: "ingress-system/fallback", wantKey: "ingress-system/fallback"},
		{value: "ingress-system/fallback:8080", wantKey: "ingress-system/fallback", wantPort: 8080},
		{value: "fallback", wantErr: "not namespace/name"},
		{value: "ns/fallback:http", wantErr: "port must be a number"},
		{value: "ns/fallback:70000", wantErr: "port must be a number"},
	}
	for _, tc := range cases {
		cfg, err := parseFlags([]string{"--default-backend-service", tc.value})
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: error %v, want one containing %q", tc.value, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%q: %v", tc.value, err)
		}
		opts, err := reconcileOptions(cfg)
		if err != nil {
			t.Fatalf("%q: %v", tc.value, err)
		}
		d := opts.DefaultBackendService
		switch {
		case tc.wantKey == "" && d != nil:
			t.Errorf("%q: got %+v, want none", tc.value, d)
		case tc.wantKey != "" && (d == nil || d.Key.String() != tc.wantKey || d.Port != tc.wantPort):
			t.Errorf("%q: got %+v, want %s port %d", tc.value, d, tc.wantKey, tc.wantPort)
		}
	}
}

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

func TestSlowPeerFlags(t *testing.T) {
	cfg, err := parseFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	o := proxyOptions(cfg)
	if o.ClientBodyTimeout != time.Minute || o.SendTimeout != time.Minute || o.ReadTimeout != time.Minute ||
		o.TunnelIdleTimeout != 5*time.Minute || o.MaxRequestBodyBytes != proxy.DefaultMaxRequestBodyBytes {
		t.Errorf("defaults: %+v", o)
	}
	cfg, err = parseFlags([]string{"--max-request-body-bytes=0", "--send-timeout=2s"})
	if err != nil {
		t.Fatal(err)
	}
	if o := proxyOptions(cfg); o.MaxRequestBodyBytes >= 0 || o.SendTimeout != 2*time.Second {
		t.Errorf("--max-request-body-bytes=0 --send-timeout=2s: %+v, want unlimited bodies", o)
	}
	for _, bad := range [][]string{{"--client-body-timeout=0"}, {"--tunnel-idle-timeout=-1s"}, {"--max-request-body-bytes=-1"}} {
		if _, err := parseFlags(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
