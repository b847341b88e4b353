package router

import (
	"testing"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

// byteSource turns fuzz input into choices; it yields 0 when spent.
type byteSource []byte

func (b *byteSource) next() int {
	if len(*b) == 0 {
		return 0
	}
	v := (*b)[0]
	*b = (*b)[1:]
	return int(v)
}

// oneOf chooses one of options.
func oneOf[T any](b *byteSource, options ...T) T { return options[b.next()%len(options)] }

// fuzzRoute draws a route from pools of good and bad values of every field.
func fuzzRoute(b *byteSource) snapshot.Route {
	r := snapshot.Route{
		PathType: snapshot.PathType(b.next() % 4), // 3 is unknown
		Path:     oneOf(b, "/", "/a", "/a/", "", "a", "/a(", "/a/[0-9]+", "/a//b", ".*"),
		Method:   oneOf(b, "", "GET", "G T"),
		Upstream: oneOf(b, "u", "v", "", "gone"),
		Order:    b.next() - 128,
	}
	for range b.next() % 3 {
		r.Headers = append(r.Headers, snapshot.HeaderMatch{Name: oneOf(b, "X-Tag", "x-tag", "", "a:b"),
			Value: oneOf(b, "t", "", "(", " t", "t.*"), Regex: b.next()%2 == 0})
	}
	for range b.next() % 3 {
		r.QueryParams = append(r.QueryParams, snapshot.QueryMatch{Name: oneOf(b, "q", "", "Q"),
			Value: oneOf(b, "1", "[", ""), Regex: b.next()%2 == 0})
	}
	for range b.next() % 4 {
		r.Backends = append(r.Backends, snapshot.WeightedBackend{Upstream: oneOf(b, "u", "v", "gone", ""),
			Weight: oneOf(b, 0, 1, 70, -1, snapshot.MaxWeight, snapshot.MaxWeight+1)})
	}
	if b.next()%3 == 0 {
		r.Filters = &snapshot.RouteFilters{
			Redirect: oneOf(b, nil, &snapshot.Redirect{StatusCode: oneOf(b, 0, 301, 307), Port: oneOf(b, 0, 443, 70000),
				Path: oneOf(b, nil, &snapshot.PathModifier{Type: snapshot.ReplacePrefixMatch, Value: "/b"})}),
			Mirrors: oneOf(b, nil, []string{"u"}, []string{"gone"}),
		}
	}
	return r
}

func fuzzHosts(b *byteSource) []snapshot.VirtualHost {
	var hosts []snapshot.VirtualHost
	for range b.next() % 4 {
		vh := snapshot.VirtualHost{Name: oneOf(b, "a.test", "", "*.test", "*.a.test", "A.test", "bad host", "*")}
		for range b.next() % 4 {
			vh.Routes = append(vh.Routes, fuzzRoute(b))
		}
		hosts = append(hosts, vh)
	}
	return hosts
}

func fuzzSnapshot(b *byteSource) *snapshot.Snapshot {
	s := &snapshot.Snapshot{Hosts: fuzzHosts(b),
		Upstreams: []snapshot.Upstream{{Name: "u"}, {Name: "v"}}}
	if b.next()%4 == 0 {
		r := fuzzRoute(b)
		s.DefaultBackend = &r
	}
	for range b.next() % 3 {
		g := snapshot.Gateway{Name: oneOf(b, "ns/a", "ns/b", ""),
			Addresses: oneOf(b, []string{"10.0.0.1"}, []string{"10.0.0.2", "::1"}, []string{"x"}, nil)}
		for range b.next() % 3 {
			g.Ports = append(g.Ports, snapshot.GatewayPort{Port: oneOf(b, 80, 443, 0, 70000), Hosts: fuzzHosts(b)})
		}
		s.Gateways = append(s.Gateways, g)
	}
	return s
}

// FuzzCompile: no snapshot makes Compile panic, and what it accepts
// matches requests without panicking and passes the producers' checks.
func FuzzCompile(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
	f.Add([]byte{3, 0, 1, 0, 0, 1, 2, 0, 1, 1, 0, 0, 0, 2, 2, 1, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		b := byteSource(data)
		s := fuzzSnapshot(&b)
		table, err := Compile(s)
		if err != nil {
			return
		}
		if err := snapshot.CheckGateways(s.Gateways); err != nil {
			t.Fatalf("Compile accepted gateways CheckGateways refuses: %v", err)
		}
		for _, local := range []string{"", "10.0.0.1:80", "[::1]:443"} {
			for _, target := range []string{"/", "/a/b?q=1", "/a/7"} {
				m, ok := matchOf(table, newRequest("GET", "x.a.test", target, local, "X-Tag", "t"))
				if ok && m.Upstream >= len(s.Upstreams) {
					t.Fatalf("upstream index %d of %d upstreams", m.Upstream, len(s.Upstreams))
				}
			}
		}
	})
}
