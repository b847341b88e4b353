package proxy

import (
	"context"
	"net/http"
)

// ctxProto is an exchange's context with the request prototype carrying
// it (exchange.outProto), made together: one allocation where there were
// two. An HTTP/1 connection makes them once; an HTTP/2 request, whose
// context is new every time, once per request.
type ctxProto struct {
	ctx   exchangeCtx
	proto http.Request
}

func newExchangeCtx(parent context.Context, x *exchange) (*exchangeCtx, *http.Request) {
	c := &ctxProto{ctx: exchangeCtx{Context: parent, x: x}}
	c.proto = *(&http.Request{}).WithContext(&c.ctx)
	return &c.ctx, &c.proto
}
