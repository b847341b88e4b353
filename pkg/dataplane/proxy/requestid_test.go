package proxy_test

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/baton-dev/baton/pkg/dataplane/proxy"
)

// idBackend records the X-Request-Id values each request arrived with and
// echoes the body it read.
type idBackend struct {
	mu  sync.Mutex
	ids [][]string
}

func (b *idBackend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	b.ids = append(b.ids, r.Header.Values("X-Request-Id"))
	b.mu.Unlock()
	io.Copy(w, r.Body)
}

func (b *idBackend) last() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ids[len(b.ids)-1]
}

var generatedID = regexp.MustCompile(`^[0-9a-f]{32}$`)

// As ingress-nginx: a client's X-Request-Id is kept and forwarded, a new one
// is made when there is none; unlike it, an id no log could use (spaces,
// control bytes, too long, several) is replaced. Responses do not carry it.
func TestRequestIDKeptOrGeneratedAndForwarded(t *testing.T) {
	ids := &idBackend{}
	backend := newCountingBackend(t, ids)
	r := newRig(t, &testPhases{peers: []proxy.Peer{peerOf(t, backend.Server, proxy.SchemeHTTP1)}}, proxy.Options{}, nil)
	cases := []struct {
		name string
		sent []string
		keep bool
	}{
		{"none", nil, false},
		{"valid", []string{"abc-123_XYZ.~!"}, true},
		{"128 chars", []string{strings.Repeat("a", 128)}, true},
		{"129 chars", []string{strings.Repeat("a", 129)}, false},
		{"space", []string{"a b"}, false},
		{"tab", []string{"a\tb"}, false},
		{"non-ASCII", []string{"caf\xc3\xa9"}, false},
		{"two values", []string{"one", "two"}, false},
	}
	seen := map[string]bool{}
	for _, c := range cases {
		req := mustRequest(t, "POST", r.url, strings.NewReader("hello"))
		for _, v := range c.sent {
			req.Header.Add("X-Request-Id", v)
		}
		resp, body := get(t, h1Client(), req)
		if resp.StatusCode != 200 || body != "hello" {
			t.Fatalf("%s: %d %q", c.name, resp.StatusCode, body)
		}
		if v := resp.Header.Values("X-Request-Id"); len(v) != 0 {
			t.Errorf("%s: the response carries X-Request-Id %q", c.name, v)
		}
		got := ids.last()
		switch {
		case len(got) != 1:
			t.Errorf("%s: backend saw X-Request-Id %q, want exactly one", c.name, got)
		case c.keep && got[0] != c.sent[0]:
			t.Errorf("%s: backend saw %q, want the client's %q", c.name, got[0], c.sent[0])
		case !c.keep && (!generatedID.MatchString(got[0]) || seen[got[0]]):
			t.Errorf("%s: backend saw %q, want a fresh 32-hex-digit id", c.name, got[0])
		}
		seen[got[0]] = true
	}
	_, logs := r.settle(t)
	for _, l := range logs {
		if !seen[l.requestID] || l.received != 5 {
			t.Errorf("Logging saw RequestID %q and BytesReceived %d; want an id the backend saw and 5", l.requestID, l.received)
		}
	}
	if len(logs) != len(cases) {
		t.Errorf("%d requests logged, want %d", len(logs), len(cases))
	}
}
