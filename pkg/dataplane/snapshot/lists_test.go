package snapshot

import (
	"reflect"
	"testing"
)

// TestAccessorsReadEitherForm: a snapshot with its hosts and upstreams as
// slices and one with them as lists read alike; one with both forms of
// either is refused.
func TestAccessorsReadEitherForm(t *testing.T) {
	flat := &Snapshot{
		Hosts:     []VirtualHost{{Name: ""}, {Name: "a.com"}, {Name: "b.com"}},
		Upstreams: []Upstream{{Name: "u1"}, {Name: "u2", Retries: 2}},
	}
	lists := &Snapshot{}
	lists.SetHostList(flat.HostList())
	lists.SetUpstreamList(flat.UpstreamList())
	for _, s := range []*Snapshot{flat, lists} {
		if err := s.CheckLists(); err != nil {
			t.Fatal(err)
		}
		if s.HostCount() != 3 || s.UpstreamCount() != 2 ||
			!reflect.DeepEqual(s.HostSlice(), flat.Hosts) || !reflect.DeepEqual(s.UpstreamSlice(), flat.Upstreams) {
			t.Fatalf("reads %v %v", s.HostSlice(), s.UpstreamSlice())
		}
		if h, found, twice := s.FindHost("a.com"); !found || twice || h.Name != "a.com" {
			t.Fatalf("FindHost(a.com) = %v %v %v", h, found, twice)
		}
		if _, found, _ := s.FindHost("c.com"); found {
			t.Fatal("found a host the snapshot does not have")
		}
		if u := s.Upstream("u2"); u == nil || u.Retries != 2 || s.Upstream("u3") != nil {
			t.Fatalf("Upstream(u2) = %v", u)
		}
		n := 0
		for i, h := range s.AllHosts() {
			if i != n || h.Name != flat.Hosts[i].Name {
				t.Fatalf("AllHosts yields %d %q", i, h.Name)
			}
			n++
		}
	}
	if !lists.SameUpstreams(lists) || lists.SameUpstreams(flat) || !flat.SameUpstreams(flat) {
		t.Fatal("SameUpstreams is wrong")
	}
	both := *lists
	both.Hosts = flat.Hosts
	if both.CheckLists() == nil {
		t.Fatal("a snapshot with Hosts and a host list is accepted")
	}
	both = *lists
	both.Upstreams = flat.Upstreams
	if both.CheckLists() == nil {
		t.Fatal("a snapshot with Upstreams and an upstream list is accepted")
	}
}
