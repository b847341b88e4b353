package snapshot

import (
	"errors"
	"fmt"
	"net/netip"
)

// ParseGatewayAddress parses one of Gateway.Addresses into the form the
// data plane compares with a connection's local address: an IP without a
// zone, IPv4-mapped IPv6 unmapped (a dual-stack listener reports IPv4
// clients that way).
func ParseGatewayAddress(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("address %q is not an IP address", s)
	}
	if a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("address %q must not have a zone", s)
	}
	return a.Unmap(), nil
}

// CheckGateway applies the rules a gateway must follow on its own: a
// name, IP addresses, ports between 1 and 65535 listed once each, and on
// each port host names that NormaliseHost accepts, each listed once. The
// routes are CheckRoute's, as for Ingress hosts.
func CheckGateway(g *Gateway) error {
	if g.Name == "" {
		return errors.New("gateway without a name")
	}
	for _, a := range g.Addresses {
		if _, err := ParseGatewayAddress(a); err != nil {
			return fmt.Errorf("gateway %s: %w", g.Name, err)
		}
	}
	ports := map[int]bool{}
	for i := range g.Ports {
		p := &g.Ports[i]
		if err := CheckPort(p.Port); err != nil {
			return fmt.Errorf("gateway %s: %w", g.Name, err)
		}
		if ports[p.Port] {
			return fmt.Errorf("gateway %s: port %d listed twice", g.Name, p.Port)
		}
		ports[p.Port] = true
		if err := checkPortHosts(p); err != nil {
			return fmt.Errorf("gateway %s port %d: %w", g.Name, p.Port, err)
		}
	}
	return nil
}

func checkPortHosts(p *GatewayPort) error {
	seen := map[string]bool{}
	for _, vh := range p.Hosts {
		name := vh.Name
		if name != "" {
			var err error
			if name, err = NormaliseHost(name); err != nil {
				return err
			}
		}
		if seen[name] {
			return fmt.Errorf("host %q listed twice", vh.Name)
		}
		seen[name] = true
	}
	return nil
}

// CheckGateways is CheckGateway for each gateway, plus what no two may
// share: a name, or an address (a connection's local address must say
// which single gateway routes it).
func CheckGateways(gws []Gateway) error {
	names := map[string]bool{}
	owner := map[netip.Addr]string{}
	for i := range gws {
		g := &gws[i]
		if err := CheckGateway(g); err != nil {
			return err
		}
		if names[g.Name] {
			return fmt.Errorf("gateway %s listed twice", g.Name)
		}
		names[g.Name] = true
		for _, s := range g.Addresses {
			a, _ := ParseGatewayAddress(s) // CheckGateway parsed it
			if other, taken := owner[a]; taken && other != g.Name {
				return fmt.Errorf("gateways %s and %s share address %s", other, g.Name, a)
			}
			owner[a] = g.Name
		}
	}
	return nil
}
