package proxy

// NopPhases implements every phase but UpstreamPeer with what the proxy
// does when nobody asks otherwise. Embed it so that only the phases that
// matter are written:
//
//	type LB struct {
//		proxy.NopPhases[struct{}]
//		pool *lb.Pool
//	}
//
//	func (l *LB) UpstreamPeer(*proxy.Session, struct{}) (*proxy.Peer, error) { ... }
//
// UpstreamPeer is left out on purpose: a type that forgets it does not
// compile as Phases, instead of proxying to nowhere at run time.
type NopPhases[C any] struct{}

// NewCtx returns the zero C; override it when C is a pointer the phases
// write through.
func (NopPhases[C]) NewCtx() C {
	var zero C
	return zero
}

// RequestFilter lets every request through.
func (NopPhases[C]) RequestFilter(*Session, C) (bool, error) { return false, nil }

// UpstreamRequestFilter sends the request as the proxy prepared it.
func (NopPhases[C]) UpstreamRequestFilter(*Session, *Request, C) error { return nil }

// FailToConnect does not retry: which other peer is safe to try is the
// embedder's knowledge, not the proxy's.
func (NopPhases[C]) FailToConnect(*Session, *Peer, error, C) bool { return false }

// ResponseFilter sends the response as the upstream sent it.
func (NopPhases[C]) ResponseFilter(*Session, *Response, C) error { return nil }

// Logging logs nothing.
func (NopPhases[C]) Logging(*Session, error, C) {}
