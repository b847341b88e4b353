package main

import (
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/dataplane/proxy"
)

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
