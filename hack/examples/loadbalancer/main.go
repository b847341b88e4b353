// Command loadbalancer is Pingora's load-balancer walkthrough on Baton's
// data plane: a round-robin pool over two backends, a peer chosen per
// request, a Host header set upstream. No router, no Kubernetes.
package main

import (
	"context"
	"flag"
	"log"
	"net/http"

	"github.com/baton-dev/baton/pkg/dataplane"
	"github.com/baton-dev/baton/pkg/dataplane/proxy"
	"github.com/baton-dev/baton/pkg/dataplane/server"
	"github.com/baton-dev/baton/pkg/lb"
)

// LB writes only the phases it needs; NopPhases does the rest.
type LB struct {
	proxy.NopPhases[struct{}]
	pool *lb.Pool
}

func (l *LB) UpstreamPeer(*proxy.Session, struct{}) (*proxy.Peer, error) {
	b := l.pool.Pick(nil)
	if b == nil {
		return nil, &proxy.Error{Status: http.StatusBadGateway, Reason: "no backends"}
	}
	return &proxy.Peer{Address: b.Addr()}, nil
}

func (l *LB) UpstreamRequestFilter(_ *proxy.Session, upstream *proxy.Request, _ struct{}) error {
	upstream.Host = "backend.example"
	return nil
}

func main() {
	a := flag.String("backend-a", "127.0.0.1:8001", "first backend (ip:port)")
	b := flag.String("backend-b", "127.0.0.1:8002", "second backend (ip:port)")
	listen := flag.String("listen", "127.0.0.1:6188", "address to serve on")
	flag.Parse()

	registry := lb.NewRegistry(lb.RegistryOptions{})
	pools := registry.Update([]lb.PoolConfig{{Name: "backends", Targets: []lb.Target{{Addr: *a}, {Addr: *b}}}})
	phases := &LB{pool: pools["backends"]}

	dp := dataplane.New(dataplane.Options{Services: []server.Service{{
		Name:      "lb",
		Listeners: []server.Listener{{Name: "lb", Addr: *listen}},
		Handler:   proxy.New(phases, proxy.Options{}),
	}}})
	// SIGTERM drains, SIGINT stops at once.
	if err := dp.Run(context.Background(), dataplane.RunOptions{}); err != nil {
		log.Fatal(err)
	}
}
