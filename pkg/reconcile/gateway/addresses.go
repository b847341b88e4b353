package gateway

import (
	"net/netip"

	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// addressResult is what a Gateway got from the pool.
type addressResult struct {
	addrs []netip.Addr
	// unusable (Programmed False) or unsupported (Accepted False) say why
	// the Gateway has no address.
	unusable, unsupported *problem
}

// assignAddresses gives each Gateway (oldest first) its addresses: those
// of spec.addresses when all are free IP addresses of the pool, else the
// one its status shows (so an address survives restarts and re-ordering),
// else the lowest free one. Older Gateways claim first, so a conflict is
// always lost by the newer Gateway.
func assignAddresses(pool netip.Prefix, gws []*gatewayv1.Gateway) map[types.NamespacedName]addressResult {
	out := make(map[types.NamespacedName]addressResult, len(gws))
	taken := map[netip.Addr]types.NamespacedName{}
	for _, g := range gws {
		res := requested(pool, g, taken)
		if len(res.addrs) == 0 && res.unusable == nil && res.unsupported == nil {
			res.addrs = kept(pool, g, taken)
		}
		for _, a := range res.addrs {
			taken[a] = keyOf(g)
		}
		out[keyOf(g)] = res
	}
	from := pool.Masked().Addr()
	for _, g := range gws {
		res := out[keyOf(g)]
		if len(res.addrs) > 0 || res.unusable != nil || res.unsupported != nil || !pool.IsValid() {
			continue
		}
		if a, ok := lowestFree(pool, taken, from); ok {
			from = a
			taken[a] = keyOf(g)
			res.addrs = []netip.Addr{a}
		} else {
			res.unusable = problemf(gatewayv1.GatewayReasonAddressNotAssigned, "the address pool %s is exhausted", pool)
		}
		out[keyOf(g)] = res
	}
	return out
}

// requested checks the addresses of spec.addresses.
func requested(pool netip.Prefix, g *gatewayv1.Gateway, taken map[netip.Addr]types.NamespacedName) addressResult {
	var res addressResult
	for _, sa := range g.Spec.Addresses {
		if sa.Type != nil && *sa.Type != gatewayv1.IPAddressType {
			return addressResult{unsupported: problemf(gatewayv1.GatewayReasonUnsupportedAddress,
				"address type %s is not supported; use IPAddress", *sa.Type)}
		}
		if sa.Value == "" {
			continue // the spec's way of asking for any address
		}
		a, err := netip.ParseAddr(sa.Value)
		switch {
		case err != nil:
			return addressResult{unsupported: problemf(gatewayv1.GatewayReasonUnsupportedAddress, "%q is not an IP address", sa.Value)}
		case !pool.IsValid() || !pool.Contains(a.Unmap()):
			return addressResult{unusable: problemf(gatewayv1.GatewayReasonAddressNotUsable,
				"address %s is outside the gateway address pool %s", a, pool)}
		case taken[a.Unmap()] != types.NamespacedName{}:
			return addressResult{unusable: problemf(gatewayv1.GatewayReasonAddressNotUsable,
				"address %s is in use by Gateway %s", a, taken[a.Unmap()])}
		}
		res.addrs = append(res.addrs, a.Unmap())
	}
	return res
}

// kept is the first free pool address the Gateway's status shows.
func kept(pool netip.Prefix, g *gatewayv1.Gateway, taken map[netip.Addr]types.NamespacedName) []netip.Addr {
	for _, sa := range g.Status.Addresses {
		a, err := netip.ParseAddr(sa.Value)
		if err != nil || !pool.IsValid() || !pool.Contains(a.Unmap()) || !usable(pool, a.Unmap()) {
			continue
		}
		if _, busy := taken[a.Unmap()]; !busy {
			return []netip.Addr{a.Unmap()}
		}
	}
	return nil
}

// lowestFree is the lowest usable pool address from from on not taken.
// Addresses are only ever taken while assigning, so each search can start
// where the last one ended: assigning n addresses walks the pool once, not
// n times.
func lowestFree(pool netip.Prefix, taken map[netip.Addr]types.NamespacedName, from netip.Addr) (netip.Addr, bool) {
	pool = pool.Masked()
	// The answer is among the first len(taken)+3 addresses (network and
	// broadcast addresses are skipped), so a large pool costs nothing.
	a := from
	for range len(taken) + 3 {
		if !pool.Contains(a) {
			return netip.Addr{}, false
		}
		if _, busy := taken[a]; !busy && usable(pool, a) {
			return a, true
		}
		a = a.Next()
	}
	return netip.Addr{}, false
}

// usable leaves out an IPv4 pool's network and broadcast addresses, which
// cannot be a host's address, unless the pool is a /31 or /32.
func usable(pool netip.Prefix, a netip.Addr) bool {
	if !a.Is4() || pool.Bits() >= 31 {
		return true
	}
	p := pool.Masked()
	if a == p.Addr() {
		return false
	}
	last := a.Next()
	return last.IsValid() && p.Contains(last)
}
