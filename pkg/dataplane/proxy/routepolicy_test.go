package proxy_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/dataplane/proxy"
)

// withPolicy is a RequestFilter that sets the phases' route policy.
func withPolicy(set func(*proxy.Session)) func(*proxy.Session) (bool, error) {
	return func(s *proxy.Session) (bool, error) {
		set(s)
		return false, nil
	}
}

// A Deadline that passes while the body streams aborts the response, and
// Logging is told it was the request's timeout (504), not a broken
// upstream or a client that left.
func TestDeadlineCutsAStreamingBody(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("first part"))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	t.Cleanup(ts.Close)
	phases := &testPhases{peers: []proxy.Peer{peerOf(t, ts, proxy.SchemeHTTP1)},
		requestFilter: withPolicy(func(s *proxy.Session) { s.Deadline = time.Now().Add(200 * time.Millisecond) })}
	r := newRig(t, phases, proxy.Options{}, nil)
	resp, err := h1Client().Do(mustRequest(t, "GET", r.url+"/", nil))
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil {
		t.Error("the response body ended cleanly, want it aborted")
	}
	_, logs := r.settle(t)
	if len(logs) != 1 || statusError(logs[0].err) != http.StatusGatewayTimeout {
		t.Fatalf("logs %+v, want one request ended by a 504 error", logs)
	}
}

// A client that leaves during a retry's backoff is a client that left
// (499), not a timeout, and nothing is retried after it.
func TestClientLeavingDuringBackoff(t *testing.T) {
	var calls atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(ts.Close)
	phases := &testPhases{peers: []proxy.Peer{peerOf(t, ts, proxy.SchemeHTTP1)}, retry: true,
		requestFilter: withPolicy(func(s *proxy.Session) {
			s.Retry = &proxy.RetryPolicy{Attempts: 3, Statuses: []int{503}, Backoff: time.Minute}
		})}
	r := newRig(t, phases, proxy.Options{}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		waitFor(t, "the first attempt", func() bool { return calls.Load() == 1 })
		cancel()
	}()
	_, err := h1Client().Do(mustRequest(t, "GET", r.url+"/", nil).WithContext(ctx))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("client error %v, want its own cancellation", err)
	}
	_, logs := r.settle(t)
	if len(logs) != 1 || logs[0].status != proxy.StatusClientClosedRequest || calls.Load() != 1 {
		t.Errorf("logs %+v after %d attempts, want status 499 after 1", logs, calls.Load())
	}
}

// FailToConnect is asked before a retry by status, and may refuse it: the
// response that would have been retried is then the answer.
func TestStatusRetryNeedsFailToConnect(t *testing.T) {
	for _, allow := range []bool{false, true} {
		var calls atomic.Int64
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if calls.Add(1) == 1 {
				w.WriteHeader(http.StatusInternalServerError)
			}
		}))
		t.Cleanup(ts.Close)
		phases := &testPhases{peers: []proxy.Peer{peerOf(t, ts, proxy.SchemeHTTP1)}, retry: allow,
			requestFilter: withPolicy(func(s *proxy.Session) {
				s.Retry = &proxy.RetryPolicy{Attempts: 2, Statuses: []int{500}}
			})}
		r := newRig(t, phases, proxy.Options{}, nil)
		resp, _ := get(t, h1Client(), mustRequest(t, "GET", r.url+"/", nil))
		want := map[bool]int{false: 500, true: 200}[allow]
		if resp.StatusCode != want {
			t.Errorf("FailToConnect says %v: status %d, want %d", allow, resp.StatusCode, want)
		}
	}
}
