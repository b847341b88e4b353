package main

import (
	"flag"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/baton-dev/baton/pkg/reconcile/gateway"
)

// gatewayConfig is what the command line sets for Gateway API.
type gatewayConfig struct {
	controllerName string
	addressPool    netip.Prefix
	// err is a bad --gateway-address-pool, reported by validate with the
	// other flag errors.
	err error
}

func (g *gatewayConfig) register(fs *flag.FlagSet) {
	fs.StringVar(&g.controllerName, "gateway-controller-name", string(gateway.ControllerName),
		"spec.controllerName of the GatewayClasses this controller serves (Gateway API is served when its CRDs are installed).")
	fs.Func("gateway-address-pool", "CIDR from which each Gateway gets one IP address (or the spec.addresses it asks for, inside the pool), "+
		"written to its status.addresses; the data plane routes a connection to a Gateway by its local address, so the addresses must reach this host. "+
		"Empty assigns none: Gateways are then not Programmed.", g.setPool)
}

func (g *gatewayConfig) setPool(v string) error {
	p, err := netip.ParsePrefix(v)
	if err != nil {
		g.err = fmt.Errorf("--gateway-address-pool %q: want a CIDR such as 10.96.200.0/24", v)
		return g.err
	}
	g.addressPool = p.Masked()
	return nil
}

// listenerPorts are the ports of a list of listener addresses such as
// ":80,:8080", for comparing Gateway listener ports with; none when it is
// disabled.
func listenerPorts(list string) []int {
	var ports []int
	for _, addr := range bindAddrs(list) {
		_, port, err := net.SplitHostPort(addr)
		if err != nil {
			continue
		}
		if n, err := strconv.Atoi(port); err == nil && n > 0 && !slices.Contains(ports, n) {
			ports = append(ports, n)
		}
	}
	return ports
}

// bindAddrs splits a --http(s)-bind-address list; "" is none.
func bindAddrs(list string) []string {
	if list == "" {
		return nil
	}
	out := strings.Split(list, ",")
	for i := range out {
		out[i] = strings.TrimSpace(out[i])
	}
	return out
}

// firstAddr is the listener a bind address list names first (the one
// named "http" or "https" in a handoff), moreAddrs the others.
func firstAddr(list string) string {
	if a := bindAddrs(list); len(a) > 0 {
		return a[0]
	}
	return ""
}

func moreAddrs(list string) []string {
	if a := bindAddrs(list); len(a) > 1 {
		return a[1:]
	}
	return nil
}
