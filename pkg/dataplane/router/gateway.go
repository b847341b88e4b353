package router

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

// addGateways compiles the hosts of every gateway port and indexes them by
// each of the gateway's addresses. A gateway address is in gwAddrs even
// when the gateway serves no port, so that its connections get 404 rather
// than the Ingress hosts.
func (c *compiler) addGateways(t *Table, gws []snapshot.Gateway) error {
	if err := snapshot.CheckGateways(gws); err != nil {
		return err
	}
	if len(gws) == 0 {
		return nil
	}
	t.gwAddrs, t.gwPorts = map[netip.Addr]bool{}, map[netip.AddrPort]*hostTable{}
	for i := range gws {
		g := &gws[i]
		addrs := gatewayAddrs(g)
		for _, a := range addrs {
			t.gwAddrs[a] = true
		}
		for j := range g.Ports {
			p := &g.Ports[j]
			ht := &hostTable{deepWildcards: true}
			if err := c.compileHosts(ht, p.Hosts, gatewayScope(g, p)); err != nil {
				return fmt.Errorf("gateway %s port %d: %w", g.Name, p.Port, err)
			}
			for _, a := range addrs {
				t.gwPorts[netip.AddrPortFrom(a, uint16(p.Port))] = ht
			}
		}
	}
	return nil
}

// gatewayScope names port p of g for the splitters of its routes.
func gatewayScope(g *snapshot.Gateway, p *snapshot.GatewayPort) string {
	return g.Name + ":" + strconv.Itoa(p.Port)
}

// gatewayAddrs parses the addresses snapshot.CheckGateways accepted.
func gatewayAddrs(g *snapshot.Gateway) []netip.Addr {
	out := make([]netip.Addr, 0, len(g.Addresses))
	for _, s := range g.Addresses {
		a, _ := snapshot.ParseGatewayAddress(s)
		out = append(out, a)
	}
	return out
}

// localAddr is the address the request's connection was accepted on, in
// the form gateway addresses are kept (see snapshot.ParseGatewayAddress).
func localAddr(ctx context.Context) (netip.AddrPort, bool) {
	a, _ := ctx.Value(http.LocalAddrContextKey).(net.Addr)
	return connAddr(a)
}

func connAddr(a net.Addr) (netip.AddrPort, bool) {
	var ap netip.AddrPort
	switch a := a.(type) {
	case nil:
		return ap, false
	case *net.TCPAddr:
		ap = a.AddrPort() // no allocation, unlike String
	default:
		var err error
		if ap, err = netip.ParseAddrPort(a.String()); err != nil {
			return ap, false
		}
	}
	return netip.AddrPortFrom(ap.Addr().Unmap().WithZone(""), ap.Port()), ap.IsValid()
}
