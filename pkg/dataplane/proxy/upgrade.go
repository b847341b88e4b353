package proxy

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"time"
)

// tunnel completes a protocol switch (WebSocket and the like): it hands
// the 101 downstream on the hijacked connection and copies both ways until
// either side is done or the server stops.
func (p *Proxy[C]) tunnel(s *Session, rw *responseWriter, out *http.Request, resp *http.Response) error {
	want, got := upgradeType(out.Header), upgradeType(resp.Header)
	if want == "" || got == "" || !headerHasToken(out.Header["Upgrade"], got) {
		return p.fail(rw, &Error{Status: http.StatusBadGateway, Reason: "upstream switched to protocol " + quote(got) + ", not " + quote(want)})
	}
	backend, ok := resp.Body.(io.ReadWriteCloser)
	if !ok {
		return p.fail(rw, &Error{Status: http.StatusBadGateway, Reason: "upstream connection cannot be used for " + want})
	}
	removeHopByHop(resp.Header)
	resp.Header["Connection"] = []string{"Upgrade"}
	resp.Header["Upgrade"] = []string{got}
	conn, brw, err := http.NewResponseController(rw.ResponseWriter).Hijack()
	if err != nil {
		return p.fail(rw, &Error{Status: http.StatusBadGateway, Reason: "downstream connection cannot switch protocols", Err: err})
	}
	defer conn.Close()
	if g, ok := conn.(interface{ StopInspecting() }); ok {
		// What follows is the new protocol, not HTTP/1 for the server's
		// request guard to judge.
		g.StopInspecting()
	}
	rw.wroteHeader, s.Status = true, http.StatusSwitchingProtocols
	_ = conn.SetDeadline(time.Time{}) // the server's timeouts were for HTTP, not for the tunnel
	if err := writeSwitching(brw.Writer, resp.Header); err != nil {
		return clientGone(err)
	}
	s.BytesSent += splice(s.Request.Context(), conn, brw.Reader, backend)
	return nil
}

func quote(s string) string { return "\"" + s + "\"" }

func writeSwitching(w *bufio.Writer, h http.Header) error {
	_, _ = w.WriteString("HTTP/1.1 101 Switching Protocols\r\n")
	_ = h.Write(w)
	_, _ = w.WriteString("\r\n")
	return w.Flush()
}

// splice copies both ways until one direction ends, then closes both ends
// so the other stops too. A done ctx (the server's fast stop) ends it as
// well. It returns the bytes sent downstream.
func splice(ctx context.Context, down net.Conn, downBuffered io.Reader, up io.ReadWriteCloser) int64 {
	closeBoth := func() {
		down.Close()
		up.Close()
	}
	stop := context.AfterFunc(ctx, closeBoth)
	defer stop()
	var sent int64
	done := make(chan struct{}, 2)
	go func() {
		sent, _ = io.Copy(down, up)
		done <- struct{}{}
	}()
	go func() {
		_, _ = io.Copy(up, downBuffered)
		done <- struct{}{}
	}()
	<-done
	closeBoth()
	<-done
	return sent
}
