package main

import (
	"flag"
	"fmt"
	"net"
	"net/netip"
	"strconv"

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

// listenerPorts is the port of a listener address such as ":8080", for
// comparing Gateway listener ports with; none when it is disabled.
func listenerPorts(addr string) []int {
	if addr == "" {
		return nil
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil
	}
	n, err := strconv.Atoi(port)
	if err != nil || n <= 0 {
		return nil
	}
	return []int{n}
}
