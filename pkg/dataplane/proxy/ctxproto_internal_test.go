package proxy

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

// An HTTP/2 request's context is new every time: its exchange makes the
// context it hands upstream and the upstream request carrying it in one
// allocation (two before issue 14's h2 work).
func TestExchangeOfANewContextAllocatesOnce(t *testing.T) {
	reqs := make([]*http.Request, 64)
	for i := range reqs {
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		reqs[i] = httptest.NewRequest("GET", "/", nil).WithContext(ctx)
	}
	x := &exchange{local: true}
	w := httptest.NewRecorder()
	n := 0
	allocs := testing.AllocsPerRun(50, func() {
		r := reqs[n%len(reqs)]
		n++
		x.begin(r, w, nil)
		x.lend = true
		if out := x.upstreamRequest(&x.session, r.Context()); out == nil || exchangeOf(out) != x {
			t.Fatal("the upstream request does not lead to the exchange")
		}
	})
	if allocs > 1 {
		t.Errorf("%.0f allocations per request with a new context, want 1", allocs)
	}
}
