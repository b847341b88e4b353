package dataplane

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestProxyProtocolClientReachesTheBackend: with --proxy-protocol the
// address a load balancer puts in the PROXY header is the one the backend
// is told, in place of whatever the client claimed; the admin listeners
// take plain connections.
func TestProxyProtocolClientReachesTheBackend(t *testing.T) {
	seen := make(chan http.Header, 1)
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen <- r.Header.Clone() }))
	t.Cleanup(be.Close)
	admin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	dp := New(Options{HTTPAddr: "127.0.0.1:0", ProxyProtocol: true,
		AdminHandler: admin, AdminListeners: []AdminListener{{Name: "probe", Addr: "127.0.0.1:0"}}})
	if err := dp.StartAdmin(); err != nil {
		t.Fatal(err)
	}
	if err := dp.Apply(snapshotTo(1, strings.TrimPrefix(be.URL, "http://"))); err != nil {
		t.Fatal(err)
	}
	if err := dp.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dp.Close() })

	c, err := net.Dial("tcp", dp.Addr(ListenerHTTP).String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "PROXY TCP4 203.0.113.7 192.0.2.1 4711 443\r\n"+
		"GET /x HTTP/1.1\r\nHost: swap.test\r\nX-Forwarded-For: 198.51.100.1\r\nX-Real-IP: 198.51.100.1\r\nConnection: close\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("proxied request: %v %v", resp, err)
	}
	h := <-seen
	for k, want := range map[string]string{"X-Forwarded-For": "203.0.113.7", "X-Real-Ip": "203.0.113.7", "X-Forwarded-Port": "443"} {
		if got := h.Get(k); got != want {
			t.Errorf("backend got %s: %q, want %q", k, got, want)
		}
	}

	probe, err := http.Get("http://" + dp.admin[0].Addr("probe").String() + "/")
	if err != nil {
		t.Fatalf("admin listener without a PROXY header: %v", err)
	}
	probe.Body.Close()
}
