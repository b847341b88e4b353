//go:build !linux

package server

// poller has no portable form: idle connections are waited on in a
// goroutine each (awaitIdle), as before parking.
type poller struct{}

func (c *h1conn) park() bool { return false }
func (pl *poller) stop()     {}
