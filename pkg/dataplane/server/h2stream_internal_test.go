package server

import (
	"bytes"
	"context"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/internal/allocstest"
	"github.com/baton-dev/baton/pkg/internal/racetest"
)

// watchable is the method set pkg/dataplane/proxy's watch for a client
// gone looks for on a request's context (see connCtx).
type watchable interface {
	Watch(w interface{ ContextDone() })
	Unwatch(w interface{ ContextDone() }) bool
}

// maxAllocsStreamWatch is what a stream's hand-over and the proxy's
// watch for a client gone may allocate: the request carrying the
// stream's watchable context, and the Done channel of x/net's context,
// which the stream's goroutine waits on.
const maxAllocsStreamWatch = 2

// maxBytesStreamWatch bounds their bytes: the h2Stream and the channel,
// not a copy of the request (250 bytes), whose storage is reused.
const maxBytesStreamWatch = 256

// The proxy's watch for a client gone costs an HTTP/2 stream no
// context.AfterFunc on x/net's stream context: that took a child
// context, its stop function, the children map of the stream's
// cancelCtx (two) and its Done channel (issue 14: 5 of the ~41
// allocations of an h2c request). The stream's goroutine, which only
// waits for the worker running the handler, waits for the context's end
// too and tells the watchers itself.
func TestH2StreamWatchAllocations(t *testing.T) {
	if testing.Short() || racetest.Enabled {
		t.Skip("allocation counts need a build without -race")
	}
	p := &workers[h2Job]{}
	t.Cleanup(p.stop)
	h := h2Handler{h: http.HandlerFunc(watchAsTheProxyDoes), workers: p}
	reqs := make([]*http.Request, 0, 211) // AllocsPerRun's runs, its warm-up, ours, the bytes' runs
	for range cap(reqs) {
		// x/net makes a cancelable context per stream.
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		reqs = append(reqs, (&http.Request{Method: "GET", URL: &url.URL{Path: "/"}, Header: http.Header{}}).WithContext(ctx))
	}
	for range 10 { // a worker, kept
		h.ServeHTTP(nil, reqs[0])
		reqs = reqs[1:]
	}
	allocs := testing.AllocsPerRun(100, func() {
		h.ServeHTTP(nil, reqs[0])
		reqs = reqs[1:]
	})
	if allocs > maxAllocsStreamWatch {
		t.Errorf("%.1f allocations per stream watched for its end, want at most %d", allocs, maxAllocsStreamWatch)
	}
	const n = 100
	bytes := allocstest.Bytes(func() {
		for _, r := range reqs[:n] {
			h.ServeHTTP(nil, r)
		}
	})
	t.Logf("per stream: %.1f allocations, %d bytes", allocs, bytes/n)
	if bytes/n > maxBytesStreamWatch {
		t.Errorf("%d bytes allocated per stream watched for its end, want at most %d", bytes/n, maxBytesStreamWatch)
	}
}

// watchAsTheProxyDoes registers a watch for the end of the request's
// context and stops it, as pkg/dataplane/proxy's ctxWatch does: with
// Watch where the context offers it, else with context.AfterFunc.
func watchAsTheProxyDoes(_ http.ResponseWriter, r *http.Request) {
	if wc, ok := r.Context().(watchable); ok {
		wc.Watch(nopWatcher)
		wc.Unwatch(nopWatcher)
		return
	}
	context.AfterFunc(r.Context(), nopWatch)()
}

type countingWatcher struct{ called chan struct{} }

func (w *countingWatcher) ContextDone() { w.called <- struct{}{} }

var (
	nopWatcher = &countingWatcher{called: make(chan struct{}, 1<<10)}
	nopWatch   = func() {}
)

// A client that resets its stream (or goes) while the handler runs ends
// the request's context, and a watch on it is called at once, while the
// handler still runs: the proxy aborts its upstream exchange so.
func TestH2StreamResetCallsTheWatchers(t *testing.T) {
	w := &countingWatcher{called: make(chan struct{}, 1)}
	watching, returned := make(chan bool, 1), make(chan struct{})
	addr := startH2(t, http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		defer close(returned)
		wc, ok := r.Context().(watchable)
		watching <- ok
		if !ok {
			return
		}
		wc.Watch(w)
		select {
		case <-w.called:
			if wc.Unwatch(w) {
				t.Error("Unwatch of a watcher that was called reported it kept the call")
			}
		case <-time.After(10 * time.Second):
			t.Error("the stream's reset did not call the watcher")
		}
	}))
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/", nil)
	errc := make(chan error, 1)
	go func() {
		resp, err := h2cTestClient().Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	if !<-watching {
		t.Fatal("an HTTP/2 request's context offers no Watch")
	}
	cancel() // the client resets the stream
	<-errc
	<-returned
}

// A watcher unwatched before the stream ends is not called, and Unwatch
// says it kept the call; one watched after the end is called anyway.
func TestH2StreamWatchAfterTheEnd(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	_, st := streamRequest(httpRequestWith(ctx))
	kept := &countingWatcher{called: make(chan struct{}, 1)}
	st.Watch(kept)
	if !st.Unwatch(kept) {
		t.Error("Unwatch before the end reported it kept no call")
	}
	cancel()
	st.end()
	select {
	case <-kept.called:
		t.Error("an unwatched watcher was called")
	default:
	}
	late := &countingWatcher{called: make(chan struct{}, 1)}
	st.Watch(late)
	select {
	case <-late.called:
	case <-time.After(10 * time.Second):
		t.Fatal("a watcher registered after the end was not called")
	}
}

func httpRequestWith(ctx context.Context) *http.Request {
	return (&http.Request{Method: "GET", URL: &url.URL{Path: "/"}, Header: http.Header{}}).WithContext(ctx)
}

// A multipart form a handler parsed into files is removed after the
// stream, as x/net removes one parsed on the request it handed over:
// the handler gets a request of the stream's, carrying its context.
func TestH2ParsedFormFilesAreRemoved(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	names := make(chan string, 1)
	addr := startH2(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseMultipartForm(1); err != nil {
			t.Error(err)
			return
		}
		f, err := r.MultipartForm.File["upload"][0].Open()
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		if file, ok := f.(*os.File); ok {
			names <- file.Name()
		}
	}))
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("upload", "big.txt")
	fw.Write(bytes.Repeat([]byte("x"), 64<<10))
	mw.Close()
	resp, err := h2cTestClient().Post("http://"+addr+"/", mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	var name string
	select {
	case name = <-names:
	default:
		t.Fatal("the form's file was kept in memory: nothing to check")
	}
	if _, err := os.Stat(name); !os.IsNotExist(err) {
		t.Errorf("%s is left behind (%v)", name, err)
	}
}

// A watch still registered when the handler returned (a goroutine it
// left behind may hold one), or registered after, is called when the
// stream's context ends, as on any context that offers Watch.
func TestH2StreamWatchOutlivesTheHandler(t *testing.T) {
	p := &workers[h2Job]{}
	t.Cleanup(p.stop)
	left := &countingWatcher{called: make(chan struct{}, 1)}
	var st *h2Stream
	h := h2Handler{h: http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		st = r.Context().(*h2Stream)
		st.Watch(left)
	}), workers: p}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h.ServeHTTP(nil, httpRequestWith(ctx))
	late := &countingWatcher{called: make(chan struct{}, 1)}
	st.Watch(late)
	cancel() // x/net ends the context once the handler returned
	for name, w := range map[string]*countingWatcher{"left registered": left, "registered after": late} {
		select {
		case <-w.called:
		case <-time.After(10 * time.Second):
			t.Errorf("a watcher %s by the handler was not called", name)
		}
	}
}
