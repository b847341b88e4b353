package snapshot

import (
	"errors"
	"iter"
	"strings"
)

// HostList is a snapshot's hosts as a persistent list: a producer that
// changes one host of 30,000 makes the next snapshot's list with Put or
// Delete, copying a chunk instead of the whole list (and the garbage
// collector then has a chunk to mark, not the list).
type HostList = SortedList[VirtualHost, hostOrder]

// UpstreamList is a snapshot's upstreams as a persistent list.
type UpstreamList = SortedList[Upstream, upstreamOrder]

type hostOrder struct{}

func (hostOrder) Compare(a, b *VirtualHost) int { return strings.Compare(a.Name, b.Name) }

type upstreamOrder struct{}

func (upstreamOrder) Compare(a, b *Upstream) int { return strings.Compare(a.Name, b.Name) }

// NewHostList is the list of hosts, which must be sorted by Name.
func NewHostList(hosts []VirtualHost) HostList { return NewSortedList[VirtualHost, hostOrder](hosts) }

// NewUpstreamList is the list of upstreams, which must be sorted by Name.
func NewUpstreamList(ups []Upstream) UpstreamList {
	return NewSortedList[Upstream, upstreamOrder](ups)
}

// SetHostList sets the hosts as a list; Hosts must be nil (CheckLists).
func (s *Snapshot) SetHostList(l HostList) { s.hostList = l }

// SetUpstreamList sets the upstreams as a list; Upstreams must be nil.
func (s *Snapshot) SetUpstreamList(l UpstreamList) { s.upstreamList = l }

// CheckLists refuses a snapshot with both forms of its hosts or of its
// upstreams set: which one holds the truth would be a guess.
func (s *Snapshot) CheckLists() error {
	if s.Hosts != nil && s.hostList.Len() > 0 {
		return errors.New("the snapshot has both Hosts and a host list")
	}
	if s.Upstreams != nil && s.upstreamList.Len() > 0 {
		return errors.New("the snapshot has both Upstreams and an upstream list")
	}
	return nil
}

// HostList is the hosts as a list: the one set, or one made of Hosts.
func (s *Snapshot) HostList() HostList {
	if s.Hosts != nil {
		return NewHostList(s.Hosts)
	}
	return s.hostList
}

// UpstreamList is the upstreams as a list: the one set, or one made of
// Upstreams.
func (s *Snapshot) UpstreamList() UpstreamList {
	if s.Upstreams != nil {
		return NewUpstreamList(s.Upstreams)
	}
	return s.upstreamList
}

// HostCount is the number of hosts.
func (s *Snapshot) HostCount() int { return len(s.Hosts) + s.hostList.Len() }

// UpstreamCount is the number of upstreams.
func (s *Snapshot) UpstreamCount() int { return len(s.Upstreams) + s.upstreamList.Len() }

// AllHosts yields the hosts in order, with their position. They must not
// be written.
func (s *Snapshot) AllHosts() iter.Seq2[int, *VirtualHost] {
	if s.Hosts != nil {
		return allOf(s.Hosts)
	}
	return s.hostList.All()
}

// AllUpstreams yields the upstreams in order, with their position. They
// must not be written.
func (s *Snapshot) AllUpstreams() iter.Seq2[int, *Upstream] {
	if s.Upstreams != nil {
		return allOf(s.Upstreams)
	}
	return s.upstreamList.All()
}

// HostSlice is the hosts as a slice: Hosts, or a copy of the list.
func (s *Snapshot) HostSlice() []VirtualHost {
	if s.Hosts != nil {
		return s.Hosts
	}
	return s.hostList.Slice()
}

// UpstreamSlice is the upstreams as a slice: Upstreams, or a copy of the
// list.
func (s *Snapshot) UpstreamSlice() []Upstream {
	if s.Upstreams != nil {
		return s.Upstreams
	}
	return s.upstreamList.Slice()
}

// FindHost finds the host called name by binary search (the hosts are
// sorted); twice tells whether the next host has that name too.
func (s *Snapshot) FindHost(name string) (_ *VirtualHost, found, twice bool) {
	if s.Hosts != nil {
		return findSorted(s.Hosts, name, func(h *VirtualHost) string { return h.Name })
	}
	return s.hostList.Find(&VirtualHost{Name: name})
}

// FindUpstream finds the upstream called name by binary search (the
// upstreams are sorted); twice tells whether the next one has it too.
func (s *Snapshot) FindUpstream(name string) (_ *Upstream, found, twice bool) {
	if s.Upstreams != nil {
		return findSorted(s.Upstreams, name, func(u *Upstream) string { return u.Name })
	}
	return s.upstreamList.Find(&Upstream{Name: name})
}

// Upstream returns the upstream called name, or nil. Unlike FindUpstream
// it does not rely on the order, for a snapshot not yet checked.
func (s *Snapshot) Upstream(name string) *Upstream {
	if s.Upstreams == nil {
		u, _, _ := s.upstreamList.Find(&Upstream{Name: name})
		return u
	}
	for i := range s.Upstreams {
		if s.Upstreams[i].Name == name {
			return &s.Upstreams[i]
		}
	}
	return nil
}

func allOf[T any](list []T) iter.Seq2[int, *T] {
	return func(yield func(int, *T) bool) {
		for i := range list {
			if !yield(i, &list[i]) {
				return
			}
		}
	}
}

// findSorted finds name in list, sorted by name; twice tells whether a
// neighbour has the name too.
func findSorted[T any](list []T, name string, nameOf func(*T) string) (_ *T, found, twice bool) {
	lo, hi := 0, len(list)
	for lo < hi {
		if m := int(uint(lo+hi) >> 1); nameOf(&list[m]) < name {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == len(list) || nameOf(&list[lo]) != name {
		return nil, false, false
	}
	twice = lo+1 < len(list) && nameOf(&list[lo+1]) == name
	return &list[lo], true, twice
}

// SameUpstreams tells whether s and o have the very same upstreams (the
// same slice, or the same list), not merely equal ones: a producer's
// promise that none of them changed.
func (s *Snapshot) SameUpstreams(o *Snapshot) bool {
	a, b := s.Upstreams, o.Upstreams
	if a == nil && b == nil {
		return s.upstreamList.Same(o.upstreamList)
	}
	return s.upstreamList.Len() == 0 && o.upstreamList.Len() == 0 &&
		len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}
