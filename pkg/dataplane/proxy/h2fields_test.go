package proxy_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/baton-dev/baton/pkg/dataplane/proxy"
)

// TestH2DownstreamFieldsOutliveTheirExchange: an HTTP/2 stream's response
// head may be encoded after the handler returned (x/net/http2 sends a
// small response's HEADERS when the handler is done), when the stream's
// exchange is back in the pool and another stream may reuse its storage:
// the fields a stream got from an HTTP/1 upstream must still be its own.
func TestH2DownstreamFieldsOutliveTheirExchange(t *testing.T) {
	backend := newScriptedBackend(t, answerEach(func(_ int64, req *http.Request, _ []byte) (string, bool) {
		seq := strings.TrimPrefix(req.URL.Path, "/")
		return "HTTP/1.1 200 OK\r\nX-Seq: " + seq + "\r\nX-Pad: " + strings.Repeat(seq, 8) + "\r\nContent-Length: 2\r\n\r\nok", false
	}))
	r := newRig(t, &testPhases{peers: []proxy.Peer{backend.peer}, quiet: true}, proxy.Options{}, nil)
	client := h2cClient()
	const streams, each = 8, 40
	var wg sync.WaitGroup
	errs := make(chan error, streams*each)
	for g := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				seq := fmt.Sprintf("s%02di%03d", g, i)
				resp, err := client.Get(r.url + "/" + seq)
				if err != nil {
					errs <- err
					return
				}
				resp.Body.Close()
				if got := resp.Header.Get("X-Seq"); got != seq || resp.Header.Get("X-Pad") != strings.Repeat(seq, 8) {
					errs <- fmt.Errorf("stream %s got X-Seq %q X-Pad %q", seq, got, resp.Header.Get("X-Pad"))
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
