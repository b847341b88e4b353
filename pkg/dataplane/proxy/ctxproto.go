package proxy

import (
	"context"
	"net/http"
)

// newExchangeCtx makes x's context for requests under parent, and the
// request prototype carrying it (exchange.outProto). An HTTP/1
// connection makes them once; an HTTP/2 request, whose context is new
// every time, once per request. The context is new each time (contexts
// derived from an earlier one may still read it); the prototype is x's
// earlier one, rewritten: it is only ever copied from (into x.out), while
// x serves a request, so nothing reads it once x serves the next one.
// Made with the context, it was 350 bytes per HTTP/2 request.
func newExchangeCtx(parent context.Context, x *exchange) (*exchangeCtx, *http.Request) {
	c := &exchangeCtx{Context: parent, x: x}
	proto := x.outProto
	if proto == nil {
		proto = new(http.Request)
	}
	*proto = *(&http.Request{}).WithContext(c)
	return c, proto
}
