package proxy_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/dataplane/proxy"
)

// Requests on one keep-alive connection reuse the proxy's per-request
// state (the upstream request and its header, the upstream response and
// its header); each still sees only its own fields, whatever the sizes
// of its predecessor's.
func TestReusedExchangeKeepsRequestsApart(t *testing.T) {
	backend := newCountingBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, vv := range r.Header {
			if strings.HasPrefix(k, "X-Test-") {
				w.Header()["X-Echo-"+strings.TrimPrefix(k, "X-Test-")] = vv
			}
		}
		fmt.Fprint(w, r.URL.Path)
	}))
	r := newRig(t, &testPhases{peers: []proxy.Peer{peerOf(t, backend.Server, proxy.SchemeHTTP1)}, quiet: true}, proxy.Options{}, nil)
	conn, br := dialRaw(t, r.addr, safety)
	for i, fields := range [][]string{
		{"A", "B", "C", "D", "E", "F", "G", "H", "I", "J"},
		{"K"},
		{},
		{"L", "M", "N"},
	} {
		req := fmt.Sprintf("GET /%d HTTP/1.1\r\nHost: reuse.test\r\n", i)
		for _, f := range fields {
			req += "X-Test-" + f + ": " + strings.Repeat(f, 10+i) + "\r\n"
		}
		if _, err := io.WriteString(conn, req+"\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		if string(body) != fmt.Sprintf("/%d", i) {
			t.Errorf("request %d got body %q", i, body)
		}
		var echoes []string
		for k, vv := range resp.Header {
			if strings.HasPrefix(k, "X-Echo-") {
				echoes = append(echoes, k+"="+strings.Join(vv, ","))
			}
		}
		if len(echoes) != len(fields) {
			t.Errorf("request %d: echoes %v, want one per field of %v", i, echoes, fields)
		}
		for _, f := range fields {
			if got, want := resp.Header.Get("X-Echo-"+f), strings.Repeat(f, 10+i); got != want {
				t.Errorf("request %d: X-Echo-%s = %q, want %q", i, f, got, want)
			}
		}
	}
}

// A client that leaves while the upstream is still to answer aborts the
// upstream exchange on every request of a keep-alive connection, not
// only the first: the watch on the connection's context is reused.
func TestClientGoneAbortsUpstreamOnReusedConnection(t *testing.T) {
	hang := make(chan struct{})
	upstreamGone := make(chan struct{})
	backend := newScriptedBackend(t, func(_ int64, c net.Conn, br *bufio.Reader) {
		for n := 1; ; n++ {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body)
			if n == 1 {
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
				continue
			}
			close(hang)
			c.SetReadDeadline(time.Now().Add(safety))
			if _, err := br.ReadByte(); err != nil { // the proxy closes the connection
				close(upstreamGone)
			}
			return
		}
	})
	r := newRig(t, &testPhases{peers: []proxy.Peer{backend.peer}}, proxy.Options{}, nil)
	conn, br := dialRaw(t, r.addr, safety)
	io.WriteString(conn, "GET /1 HTTP/1.1\r\nHost: gone.test\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("first request: %v, %v", resp, err)
	}
	io.Copy(io.Discard, resp.Body)
	io.WriteString(conn, "GET /2 HTTP/1.1\r\nHost: gone.test\r\n\r\n")
	within(t, "the second request upstream", safety, hang)
	conn.Close()
	within(t, "the upstream connection to be closed", safety, upstreamGone)
	_, logs := r.settle(t)
	if len(logs) != 2 || logs[1].status != proxy.StatusClientClosedRequest {
		t.Errorf("logs = %+v, want the second request logged as 499", logs)
	}
}

// A phase may call Session.RoundTrip after the request ended (a mirror
// does) while the connection's next request reuses the Session: each
// request's RoundTrip runs as the next request begins; under -race this
// shows they share nothing RoundTrip reads.
func TestRoundTripAfterSessionEnded(t *testing.T) {
	backend := newCountingBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	peer := peerOf(t, backend.Server, proxy.SchemeHTTP1)
	var wg sync.WaitGroup
	var mu sync.Mutex
	next := make(chan struct{}) // closed when the next request begins
	phases := &testPhases{peers: []proxy.Peer{peer}}
	phases.requestFilter = func(s *proxy.Session) (bool, error) {
		mu.Lock()
		close(next)
		mine := make(chan struct{})
		next = mine
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-mine
			req, _ := http.NewRequest("GET", "http://"+peer.Address+"/mirror", nil)
			if resp, err := s.RoundTrip(&peer, req); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
		return false, nil
	}
	r := newRig(t, phases, proxy.Options{}, nil)
	conn, br := dialRaw(t, r.addr, safety)
	for range 20 {
		io.WriteString(conn, "GET / HTTP/1.1\r\nHost: rt.test\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
	}
	mu.Lock()
	close(next)
	mu.Unlock()
	wg.Wait()
}

// Requests of one connection that alternate between an HTTP/1 peer (to
// which the exchange lends its storage) and an h2c peer (whose transport
// gets storage of its own), with and without a body, each get their own
// answer.
func TestReusedExchangeAcrossUpstreamProtocols(t *testing.T) {
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s %s %s", r.Proto, r.URL.Path, r.Header.Get("X-Seq"), body)
	})
	h1 := newCountingBackend(t, echo)
	h2 := newH2CBackend(t, echo)
	peers := []proxy.Peer{peerOf(t, h1.Server, proxy.SchemeHTTP1), peerOf(t, h2, proxy.SchemeH2C)}
	phases := &testPhases{quiet: true}
	phases.pick = func(s *proxy.Session) (*proxy.Peer, error) {
		seq := s.RequestHeader().Get("X-Seq")
		return &peers[int(seq[0]-'0')%2], nil
	}
	r := newRig(t, phases, proxy.Options{}, nil)
	conn, br := dialRaw(t, r.addr, safety)
	for i := range 8 {
		body := ""
		if i%4 >= 2 {
			body = strings.Repeat("b", i)
		}
		fmt.Fprintf(conn, "POST /%d HTTP/1.1\r\nHost: mixed.test\r\nX-Seq: %d\r\nContent-Length: %d\r\n\r\n%s", i, i, len(body), body)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		proto := []string{"HTTP/1.1", "HTTP/2.0"}[i%2]
		if want := fmt.Sprintf("%s /%d %d %s", proto, i, i, body); string(got) != want {
			t.Errorf("request %d got %q, want %q", i, got, want)
		}
	}
}

// Generated request ids are never rewritten once handed out, although
// the connection's exchange is reused: an HTTP/2 transport's HPACK table
// keeps the strings it sent, and a rewritten one breaks its table.
func TestGeneratedRequestIDsSurviveReuse(t *testing.T) {
	ids := make(chan string, 1)
	h2 := newH2CBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ids <- r.Header.Get("X-Request-Id")
	}))
	r := newRig(t, &testPhases{peers: []proxy.Peer{peerOf(t, h2, proxy.SchemeH2C)}}, proxy.Options{}, nil)
	conn, br := dialRaw(t, r.addr, safety)
	seen := map[string]bool{}
	for i := range 200 { // enough to fill the HPACK table, which then evicts
		io.WriteString(conn, "GET / HTTP/1.1\r\nHost: ids.test\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		id := within(t, "the request upstream", safety, ids)
		if seen[id] || len(id) != 32 {
			t.Errorf("request %d went upstream with id %q, seen before: %v", i, id, seen[id])
		}
		seen[id] = true
	}
	_, logs := r.settle(t)
	for _, l := range logs {
		if !seen[l.requestID] {
			t.Errorf("Logging saw id %q, which no request carried upstream", l.requestID)
		}
	}
}

// The upstream response's fields are handed to the server's writer as
// the exchange's reused list rather than copied (see handOver): on a
// connection's pipelined requests, each response must carry its own
// upstream fields and what a phase set for it, no field of the response
// before, and a 502 after filtered responses none of theirs. A list
// shared beyond its response would lose the phase's field (overwritten
// by the next upstream response) or leak the previous response's.
func TestHandedOverHeaderKeepsResponsesApart(t *testing.T) {
	backend := newScriptedBackend(t, answerEach(func(_ int64, req *http.Request, _ []byte) (string, bool) {
		n := strings.TrimPrefix(req.URL.Path, "/")
		if n == "fail" {
			return "", false // hang up: the proxy answers 502
		}
		return "HTTP/1.1 200 OK\r\nX-Seq: " + n + "\r\nX-Only-" + n + ": yes\r\nContent-Length: 2\r\n\r\nok", false
	}))
	var filterErrs []error // written by the connection's requests, one at a time
	phases := &testPhases{peers: []proxy.Peer{backend.peer}, quiet: true}
	phases.requestFilter = func(s *proxy.Session) (bool, error) {
		s.Writer.Header()["X-Phase"] = []string{s.Request.URL.Path}
		return false, nil
	}
	phases.responseFilter = func(s *proxy.Session, resp *proxy.Response) error {
		want := strings.TrimPrefix(s.Request.URL.Path, "/")
		if got := resp.Header.Get("X-Seq"); got != want || resp.Header.Len() != 3 {
			filterErrs = append(filterErrs, fmt.Errorf("request %s: ResponseFilter saw %v", want, resp.Header.Clone()))
		}
		resp.Header.Set("X-Filtered", want)
		return nil
	}
	r := newRig(t, phases, proxy.Options{}, nil)
	conn, br := dialRaw(t, r.addr, safety)
	paths := []string{"1", "2", "3", "fail"}
	var reqs string
	for _, p := range paths {
		reqs += "GET /" + p + " HTTP/1.1\r\nHost: handover.test\r\n\r\n"
	}
	if _, err := io.WriteString(conn, reqs); err != nil {
		t.Fatal(err)
	}
	for i, p := range paths {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		io.Copy(io.Discard, resp.Body)
		if p == "fail" {
			if resp.StatusCode != http.StatusBadGateway || resp.Header["X-Seq"] != nil || resp.Header["X-Filtered"] != nil || resp.Header["X-Phase"] != nil {
				t.Errorf("the failed request got %d %v, want a bare 502", resp.StatusCode, resp.Header)
			}
			continue
		}
		var only []string
		for k := range resp.Header {
			if strings.HasPrefix(k, "X-Only-") {
				only = append(only, k)
			}
		}
		if got := resp.Header; got.Get("X-Seq") != p || got.Get("X-Filtered") != p || got.Get("X-Phase") != "/"+p || len(only) != 1 || only[0] != "X-Only-"+p {
			t.Errorf("response to /%s has %v", p, got)
		}
	}
	conn.Close()
	r.settle(t)
	for _, err := range filterErrs {
		t.Error(err)
	}
}

// A ResponseFilter may put a Header of its own in the response's place,
// one it keeps for later responses: the exchange must not reuse its
// storage for the connection's next response.
func TestResponseFilterHeaderIsNotTaken(t *testing.T) {
	backend := newScriptedBackend(t, answerEach(func(int64, *http.Request, []byte) (string, bool) {
		return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Up-1: a\r\nX-Up-2: b\r\n\r\nok", false
	}))
	var kept proxy.Header
	kept.Add("X-Kept", "yes")
	kept.Add("Content-Length", "2")
	phases := &testPhases{peers: []proxy.Peer{backend.peer}, quiet: true}
	phases.responseFilter = func(_ *proxy.Session, resp *proxy.Response) error {
		resp.Header = kept
		return nil
	}
	r := newRig(t, phases, proxy.Options{}, nil)
	conn, br := dialRaw(t, r.addr, safety)
	for i := range 3 {
		io.WriteString(conn, "GET / HTTP/1.1\r\nHost: kept.test\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		io.Copy(io.Discard, resp.Body)
		if resp.Header.Get("X-Kept") != "yes" {
			t.Errorf("response %d lacks the filter's field: %v", i, resp.Header)
		}
	}
	conn.Close()
	r.settle(t)
	if kept.Len() != 2 || kept.Get("X-Kept") != "yes" || kept.Get("Content-Length") != "2" {
		t.Errorf("the filter's Header was changed: %v", kept.Clone())
	}
}
