package dataplane_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/baton-dev/baton/pkg/dataplane"
	"github.com/baton-dev/baton/pkg/dataplane/proxy"
	"github.com/baton-dev/baton/pkg/dataplane/server"
	"github.com/baton-dev/baton/pkg/lb"
)

// LB is a load balancer's phases: NopPhases does what it does not write.
type LB struct {
	proxy.NopPhases[struct{}]
	pool *lb.Pool
}

func (l *LB) UpstreamPeer(*proxy.Session, struct{}) (*proxy.Peer, error) {
	return &proxy.Peer{Address: l.pool.Pick(nil).Addr()}, nil
}

func (l *LB) UpstreamRequestFilter(_ *proxy.Session, upstream *proxy.Request, _ struct{}) error {
	upstream.Host = "backend.example"
	return nil
}

// A round-robin load balancer over two backends, served next to (here:
// instead of) the router, with the same lifecycle as cmd/controller.
// hack/examples/loadbalancer is the same as a program.
func Example_loadBalancer() {
	a, b := namedBackend("a"), namedBackend("b")
	defer a.Close()
	defer b.Close()
	registry := lb.NewRegistry(lb.RegistryOptions{})
	pools := registry.Update([]lb.PoolConfig{{Name: "backends", Targets: []lb.Target{
		{Addr: strings.TrimPrefix(a.URL, "http://")}, {Addr: strings.TrimPrefix(b.URL, "http://")},
	}}})

	dp := dataplane.New(dataplane.Options{Services: []server.Service{{
		Name:      "lb",
		Listeners: []server.Listener{{Name: "lb", Addr: "127.0.0.1:0"}},
		Handler:   proxy.New(&LB{pool: pools["backends"]}, proxy.Options{}),
	}}})
	ctx, stop := context.WithCancel(context.Background())
	serving, stopped := make(chan struct{}), make(chan error)
	go func() {
		stopped <- dp.Run(ctx, dataplane.RunOptions{Serving: func() { close(serving) }})
	}()
	<-serving

	answers := map[string]int{}
	for range 4 {
		answers[get("http://"+dp.Addr("lb").String()+"/")]++
	}
	fmt.Println(answers)
	stop() // drains, as SIGTERM would
	fmt.Println("stopped:", <-stopped)
	// Output:
	// map[a saw Host backend.example:2 b saw Host backend.example:2]
	// stopped: <nil>
}

func namedBackend(name string) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s saw Host %s", name, r.Host)
	}))
}

// get uses a connection per request, so that the drain has no idle
// keep-alive connection to wait for.
func get(url string) string {
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get(url)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}
