package server

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"github.com/baton-dev/baton/pkg/dataplane/h1"
)

// A connection of a listener whose handler reads no header map hands its
// requests none, even when the store it took (see acquire) came with
// another connection's map: an empty map would hide the fields from a
// handler that wrongly said it reads none, where nil makes its first
// write panic.
func TestNoHeaderMapEvenWhenTheStoreLentOne(t *testing.T) {
	_, c := newTestH1conn(t, context.Background())
	c.b.noHeaderMap = true
	c.acquire()
	c.store.pristine.Header = http.Header{"Stale": {"x"}}
	raw := []byte("GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\nx-b: 2\r\n\r\n")
	if _, err := h1.ParseRequest(raw, &c.store.head, 4096); err != nil {
		t.Fatal(err)
	}
	req, err := c.newRequest()
	if err != nil {
		t.Fatal(err)
	}
	if req.Header != nil {
		t.Errorf("Header %v, want nil", req.Header)
	}
	want := []h1.HeadField{{Name: "X-A", Value: "1", Checked: true}, {Name: "x-b", Value: "2", Checked: true}}
	if !slices.Equal(c.store.reqFields, want) || req.Host != "x" {
		t.Errorf("fields %v, Host %q; want %v and x", c.store.reqFields, req.Host, want)
	}
}
