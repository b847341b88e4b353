package translate

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
)

// AllowLoopbackFlag is the controller flag that sets
// Input.AllowLoopbackEndpoints; warnings name it.
const AllowLoopbackFlag = "--allow-loopback-upstream-endpoints"

// Classes of endpoint addresses Baton does not proxy to: an Upstream is a
// way to make Baton send requests, so one that names Baton's own host
// (loopback), the link-local range (the cloud metadata service at
// 169.254.169.254, node-local agents) or a non-unicast address would be a
// server-side request forgery.
const (
	classUnspecified = "unspecified"
	classLoopback    = "loopback"
	classLinkLocal   = "link-local"
	classMulticast   = "multicast"
	classBroadcast   = "broadcast"
)

// forbiddenClass says why addr is no endpoint, or "" when it may be one.
// IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry, which
// is where the kernel connects them. Loopback is allowed only with
// allowLoopback, for development; link-local never, as the Upstream CRD
// refuses it too.
func forbiddenClass(addr netip.Addr, allowLoopback bool) string {
	addr = addr.Unmap()
	switch {
	case addr.IsUnspecified():
		return classUnspecified // 0.0.0.0 and :: connect to the local host
	case addr.IsLoopback() && !allowLoopback:
		return classLoopback
	case addr.IsLinkLocalUnicast():
		return classLinkLocal
	case addr.IsMulticast():
		return classMulticast
	case addr == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return classBroadcast
	}
	return ""
}

// forbiddenEndpointError is a static endpoint forbiddenClass refuses.
type forbiddenEndpointError struct {
	addr  netip.Addr
	class string
}

func (e *forbiddenEndpointError) Error() string {
	if e.class == classLoopback {
		return fmt.Sprintf("endpoint %s (loopback address) is refused unless Baton runs with %s, meant for development",
			e.addr, AllowLoopbackFlag)
	}
	return fmt.Sprintf("endpoint %s (%s address) is refused: Baton never proxies to it", e.addr, e.class)
}

// forbiddenAddresses collects the EndpointSlice addresses that were
// dropped, each once, to report them in one warning.
type forbiddenAddresses map[netip.Addr]string

// add records addr; the map is made on first use, as most Services have
// nothing to report.
func (f *forbiddenAddresses) add(addr netip.Addr, class string) {
	if *f == nil {
		*f = forbiddenAddresses{}
	}
	(*f)[addr] = class
}

// describe lists up to five addresses with their class, sorted, and says
// how loopback could be allowed when one of them is loopback.
func (f forbiddenAddresses) describe() string {
	addrs := make([]netip.Addr, 0, len(f))
	loopback := false
	for a, class := range f {
		addrs = append(addrs, a)
		loopback = loopback || class == classLoopback
	}
	sort.Slice(addrs, func(i, j int) bool { return addrs[i].Less(addrs[j]) })
	const shown = 5
	var parts []string
	for _, a := range addrs[:min(len(addrs), shown)] {
		parts = append(parts, fmt.Sprintf("%s (%s)", a, f[a]))
	}
	s := strings.Join(parts, ", ")
	if len(addrs) > shown {
		s += fmt.Sprintf(" and %d more", len(addrs)-shown)
	}
	if loopback {
		s += "; loopback is allowed only with " + AllowLoopbackFlag
	}
	return s
}
