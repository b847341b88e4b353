package proxy

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/baton-dev/baton/pkg/dataplane/h1"
)

// tunnel completes a protocol switch (WebSocket and the like): it hands
// the 101 downstream on the hijacked connection and copies both ways until
// either side is done or the server stops.
func (p *Proxy[C]) tunnel(s *Session, rw *responseWriter, a *attempt) error {
	out, resp, h := &a.req.Header, a.resp, &a.head.Header
	want, got := out.upgradeType(), h.upgradeType()
	if want == "" || got == "" || !out.hasToken("Upgrade", got) {
		return p.fail(rw, &Error{Status: http.StatusBadGateway, Reason: "upstream switched to protocol " + quote(got) + ", not " + quote(want)})
	}
	backend, ok := resp.Body.(io.ReadWriteCloser)
	if !ok {
		return p.fail(rw, &Error{Status: http.StatusBadGateway, Reason: "upstream connection cannot be used for " + want})
	}
	h.removeHopByHop()
	h.Add("Connection", "Upgrade")
	h.Add("Upgrade", got)
	conn, brw, err := http.NewResponseController(rw.ResponseWriter).Hijack()
	if err != nil {
		return p.fail(rw, &Error{Status: http.StatusBadGateway, Reason: "downstream connection cannot switch protocols", Err: err})
	}
	defer conn.Close()
	rw.wroteHeader, s.Status = true, http.StatusSwitchingProtocols
	_ = conn.SetDeadline(time.Time{}) // the server's timeouts were for HTTP, not for the tunnel
	if err := writeSwitching(brw.Writer, h); err != nil {
		return clientGone(err)
	}
	idle := orDefault(a.peer.ReadTimeout, p.opts.TunnelIdleTimeout)
	sent, expired := p.splice(s.Request.Context(), conn, brw.Reader, backend, idle)
	s.BytesSent += sent
	if expired {
		return clientFault(http.StatusSwitchingProtocols, "tunnel idle for "+idle.String(), os.ErrDeadlineExceeded)
	}
	return nil
}

func quote(s string) string { return "\"" + s + "\"" }

// writeSwitching writes the 101's head, the fields in order; one a phase
// set that could split the head is left out.
func writeSwitching(w *bufio.Writer, h *Header) error {
	_, _ = w.WriteString("HTTP/1.1 101 Switching Protocols\r\n")
	for _, f := range h.fields {
		if f.Checked {
			h1.WriteCheckedField(w, f.Name, f.Value)
		} else {
			h1.WriteField(w, f.Name, f.Value)
		}
	}
	_, _ = w.WriteString("\r\n")
	return w.Flush()
}

// splice copies both ways until one direction ends, then closes both ends
// so the other stops too. A done ctx (the server's fast stop) ends it as
// well, and so does a tunnel through which no byte went either way for
// idle. It returns the bytes sent downstream and whether it was idle.
func (p *Proxy[C]) splice(ctx context.Context, down net.Conn, downBuffered io.Reader, up io.ReadWriteCloser, idle time.Duration) (int64, bool) {
	closeBoth := func() {
		down.Close()
		up.Close()
	}
	stop := context.AfterFunc(ctx, closeBoth)
	defer stop()
	// Closing down ends the copy reading from it, which closes both.
	dog := p.dogs.get(nil, down)
	defer p.dogs.put(dog)
	dog.watch(tunnelIdle, idle)
	var sent int64
	done := make(chan struct{}, 2)
	go func() {
		sent = p.pipe(down, up, dog, idle)
		done <- struct{}{}
	}()
	go func() {
		p.pipe(up, downBuffered, dog, idle)
		done <- struct{}{}
	}()
	<-done
	closeBoth()
	<-done
	return sent, dog.expiredOn() == tunnelIdle
}

// pipe copies src to dst until either fails, telling the watchdog of
// every byte that went through.
func (p *Proxy[C]) pipe(dst io.Writer, src io.Reader, dog *watchdog, idle time.Duration) int64 {
	bp := p.bufs.Get().(*[]byte)
	defer p.bufs.Put(bp)
	buf := *bp
	var total int64
	for {
		n, rerr := src.Read(buf)
		if n > 0 {
			dog.watch(tunnelIdle, idle)
			w, werr := dst.Write(buf[:n])
			total += int64(w)
			if werr != nil {
				return total
			}
		}
		if rerr != nil {
			return total
		}
	}
}
