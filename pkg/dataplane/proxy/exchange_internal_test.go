package proxy

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"reflect"
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/dataplane/h1"
)

// begin resets every field of a reused Session but peers, so that a field
// added later cannot carry one request's value into the next.
func TestSessionBeginResetsEveryFieldButPeers(t *testing.T) {
	var s Session
	v := reflect.ValueOf(&s).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		set := reflect.NewAt(f.Type(), f.Addr().UnsafePointer()).Elem() // unexported fields too
		set.Set(reflect.ValueOf(nonZero(t, v.Type().Field(i))))
	}
	peers := s.peers
	r := &http.Request{}
	s.begin(r, nil, peers)
	for i := range v.NumField() {
		switch name := v.Type().Field(i).Name; name {
		case "Request", "Start", "peers":
		case "peerAddr": // a cache keyed by RemoteAddr (TestReusedSessionResolvesEachPeer)
		case "mapView": // storage for a RequestHeader made from a map, emptied when made
		default:
			if !v.Field(i).IsZero() {
				t.Errorf("field %s keeps its value after begin", name)
			}
		}
	}
	if s.Request != r || s.Start.IsZero() || s.peers != peers {
		t.Errorf("begin set Request %p, Start %v, peers %p", s.Request, s.Start, s.peers)
	}
}

// nonZero is a value for a Session field; a field of a new type must be
// taught here.
func nonZero(t *testing.T, f reflect.StructField) any {
	switch f.Type {
	case reflect.TypeFor[time.Time]():
		return time.Unix(1, 0)
	case reflect.TypeFor[netip.Addr]():
		return netip.MustParseAddr("192.0.2.1")
	case reflect.TypeFor[url.URL]():
		return url.URL{Path: "/x"}
	case reflect.TypeFor[origin]():
		return origin{peer: "192.0.2.1"}
	case reflect.TypeFor[peerAddr]():
		return peerAddr{remote: "192.0.2.1:1", host: "192.0.2.1", addr: netip.MustParseAddr("192.0.2.1")}
	case reflect.TypeFor[context.Context]():
		return context.Background()
	case reflect.TypeFor[http.ResponseWriter]():
		return httptest.NewRecorder()
	case reflect.TypeFor[RequestHeader]():
		return RequestHeader{h: Header{fields: []h1.HeadField{{Name: "A", Value: "b"}}}}
	case reflect.TypeFor[[]h1.HeadField]():
		return []h1.HeadField{{Name: "A", Value: "b"}}
	}
	switch f.Type.Kind() {
	case reflect.Pointer:
		return reflect.New(f.Type.Elem()).Interface()
	case reflect.Int, reflect.Int64:
		return reflect.ValueOf(1).Convert(f.Type).Interface()
	case reflect.String:
		return "x"
	case reflect.Array:
		a := reflect.New(f.Type).Elem()
		a.Index(0).Set(reflect.ValueOf(nonZero(t, reflect.StructField{Name: f.Name, Type: f.Type.Elem()})))
		return a.Interface()
	case reflect.Uint8:
		return uint8(1)
	case reflect.Bool:
		return true
	}
	t.Fatalf("no value for Session.%s of type %s", f.Name, f.Type)
	return nil
}
