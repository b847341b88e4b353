package server_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/baton-dev/baton/pkg/dataplane/h1"
	"github.com/baton-dev/baton/pkg/dataplane/server"
)

// fieldsEcho answers with what the handler got of the request's fields:
// whether Header is nil, its X-A, the list RequestFields tells, and the
// trailers the request declared (before its body is read).
func fieldsEcho(w http.ResponseWriter, r *http.Request) {
	var list []string
	if rf, ok := w.(interface{ RequestFields() []h1.HeadField }); ok {
		for _, f := range rf.RequestFields() {
			list = append(list, f.Name+": "+f.Value)
		}
	}
	_, declared := r.Trailer["X-T"]
	io.Copy(io.Discard, r.Body)
	fmt.Fprintf(w, "nil=%v x-a=%q list=%q trailer=%v", r.Header == nil, r.Header.Get("X-A"), list, declared)
}

// TestHeaderMapOnlyForHandlersThatReadIt: a handler that says it reads no
// http.Request.Header gets none (nil: see HeaderMapReader), on every
// request of a connection; the list has the fields either way, and the
// trailers a chunked request declares are found from it.
func TestHeaderMapOnlyForHandlersThatReadIt(t *testing.T) {
	s := start(t, server.Options{}, server.Service{Name: "svc", Handler: http.HandlerFunc(fieldsEcho),
		Listeners: []server.Listener{{Name: "map", Addr: "127.0.0.1:0"}}})
	bare := start(t, server.Options{}, cleartext("bare", noHeaderMap{http.HandlerFunc(fieldsEcho)}))
	const req = "POST / HTTP/1.1\r\nHost: x\r\nx-a: 1\r\nTrailer: X-T\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nb\r\n0\r\nX-T: t\r\n\r\n"
	list := `["x-a: 1" "Trailer: X-T" "Transfer-Encoding: chunked"]`
	_, _, _, bodies := exchange(t, s.Addr("map").String(), req+req, 2)
	for _, b := range bodies {
		if want := `nil=false x-a="1" list=` + list + ` trailer=true`; b != want {
			t.Errorf("handler that reads the map got %s, want %s", b, want)
		}
	}
	_, _, _, bodies = exchange(t, bare.Addr("bare").String(), req+req, 2)
	for _, b := range bodies {
		if want := `nil=true x-a="" list=` + list + ` trailer=true`; b != want {
			t.Errorf("handler that reads no map got %s, want %s", b, want)
		}
	}
}

// A handler between the server and the application (the tracker, a
// user's middleware) decides by what it says: one that says nothing gets
// the map, whatever the handler it wraps would say.
func TestHeaderMapForAWrapperThatSaysNothing(t *testing.T) {
	wrapped := noHeaderMap{http.HandlerFunc(fieldsEcho)}
	s := start(t, server.Options{}, cleartext("http", http.HandlerFunc(wrapped.ServeHTTP)))
	_, _, _, bodies := exchange(t, s.Addr("http").String(), "GET / HTTP/1.1\r\nHost: x\r\nX-A: 2\r\n\r\n", 1)
	if !strings.HasPrefix(bodies[0], `nil=false x-a="2"`) {
		t.Errorf("got %s, want the map", bodies[0])
	}
}
