package accesslog_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/dataplane/accesslog"
	"github.com/baton-dev/baton/pkg/internal/logtest"
)

func sample() accesslog.Entry {
	return accesslog.Entry{
		Time:           time.Date(2026, 11, 29, 10, 49, 16, 123456789, time.FixedZone("CET", 3600)),
		RequestID:      "4f2a9c",
		Client:         netip.MustParseAddr("203.0.113.7"),
		Method:         "GET",
		Host:           "shop.example",
		Path:           "/cart",
		Protocol:       "HTTP/1.1",
		Status:         200,
		BytesReceived:  3,
		BytesSent:      1234,
		Duration:       1234567 * time.Nanosecond,
		Source:         "shop/web",
		Upstream:       "shop/web:80",
		UpstreamAddr:   "10.0.0.7:8080",
		UpstreamStatus: 200,
		Attempts:       2,
	}
}

func parseJSON(t *testing.T, line []byte) map[string]any {
	t.Helper()
	if !bytes.HasSuffix(line, []byte("\n")) || bytes.Count(line, []byte("\n")) != 1 {
		t.Fatalf("want exactly one line, got %q", line)
	}
	var got map[string]any
	if err := json.Unmarshal(line, &got); err != nil {
		t.Fatalf("line is not valid JSON: %v\n%s", err, line)
	}
	return got
}

func TestJSONLineParsesBack(t *testing.T) {
	e := sample()
	got := parseJSON(t, accesslog.JSON.AppendLine(nil, &e))
	want := map[string]any{
		"time": "2026-11-29T09:49:16.123Z", "request_id": "4f2a9c", "client": "203.0.113.7",
		"method": "GET", "host": "shop.example", "path": "/cart", "protocol": "HTTP/1.1",
		"status": 200.0, "bytes_received": 3.0, "bytes_sent": 1234.0, "duration": 0.001235,
		"source": "shop/web", "upstream": "shop/web:80", "upstream_addr": "10.0.0.7:8080",
		"upstream_status": 200.0, "attempts": 2.0,
	}
	if len(got) != len(want) {
		t.Errorf("fields: got %d %v, want %d", len(got), got, len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %#v, want %#v", k, got[k], v)
		}
	}
}

// A client controls path and Host: whatever bytes it sends must come back
// out of a JSON parser unchanged (or as U+FFFD for invalid UTF-8) and
// never split the line.
func TestJSONEscapesWhatClientsSend(t *testing.T) {
	e := sample()
	e.Path = "/a\"b\\c\nd\re\tf\x00g\x1f\x7fh/é/\xff"
	e.Host = `evil","status":500,"x":"`
	e.Client = netip.Addr{}
	got := parseJSON(t, accesslog.JSON.AppendLine(nil, &e))
	if want := "/a\"b\\c\nd\re\tf\x00g\x1f\x7fh/é/\uFFFD"; got["path"] != want {
		t.Errorf("path = %q, want %q", got["path"], want)
	}
	if got["host"] != e.Host || got["status"] != 200.0 {
		t.Errorf("host = %q status = %v: the host broke out of its string", got["host"], got["status"])
	}
	if got["client"] != "" {
		t.Errorf("client = %q, want empty for no address", got["client"])
	}
}

func TestTextLineQuotesWhenNeeded(t *testing.T) {
	e := sample()
	e.Path = "/a b=\"c\"\n"
	e.Source = ""
	e.Client = netip.MustParseAddr("2001:db8::1")
	line := string(accesslog.Text.AppendLine(nil, &e))
	if strings.Count(line, "\n") != 1 || !strings.HasSuffix(line, "\n") {
		t.Fatalf("want exactly one line, got %q", line)
	}
	for _, want := range []string{
		"time=2026-11-29T09:49:16.123Z request_id=4f2a9c client=2001:db8::1 method=GET ",
		` path="/a b=\"c\"\n" protocol=HTTP/1.1 status=200 `,
		` duration=0.001235 source="" upstream=shop/web:80 upstream_addr=10.0.0.7:8080 upstream_status=200 attempts=2`,
	} {
		if !strings.Contains(line, want) {
			t.Errorf("line %q lacks %q", line, want)
		}
	}
}

func TestParseFormat(t *testing.T) {
	for s, want := range map[string]accesslog.Format{"json": accesslog.JSON, "text": accesslog.Text} {
		if got, err := accesslog.ParseFormat(s); err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %v, %v", s, got, err)
		}
	}
	if _, err := accesslog.ParseFormat("JSON "); err == nil {
		t.Error("ParseFormat accepted an unknown format")
	}
}

func TestAppendLineAllocatesNothing(t *testing.T) {
	e := sample()
	buf := make([]byte, 0, 1024)
	if n := testing.AllocsPerRun(100, func() { buf = accesslog.JSON.AppendLine(buf[:0], &e) }); n != 0 {
		t.Errorf("JSON: %v allocs per line, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { buf = accesslog.Text.AppendLine(buf[:0], &e) }); n != 0 {
		t.Errorf("text: %v allocs per line, want 0", n)
	}
}

func closeNow(t *testing.T, l *accesslog.Logger) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := l.Close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
}

func TestCloseWritesEveryQueuedLine(t *testing.T) {
	var out logtest.Buffer
	l := accesslog.New(&out, accesslog.Options{QueueLines: 1000})
	e := sample()
	for range 500 {
		l.Log(&e)
	}
	closeNow(t, l)
	if n := strings.Count(out.String(), "\n"); n != 500 || l.Dropped() != 0 {
		t.Errorf("%d lines written, %d dropped; want 500 and 0", n, l.Dropped())
	}
	l.Log(&e)
	if l.Dropped() != 1 {
		t.Errorf("a line logged after Close: dropped = %d, want 1", l.Dropped())
	}
}

// blockingWriter never returns from Write until released, like stdout
// piped to a process that stopped reading.
type blockingWriter struct {
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (w *blockingWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.entered) })
	<-w.release
	return len(p), nil
}

// A writer that stopped writing must cost requests nothing: Log returns
// at once and the lines that do not fit are counted.
func TestBlockedWriterDropsAndCounts(t *testing.T) {
	w := &blockingWriter{entered: make(chan struct{}), release: make(chan struct{})}
	l := accesslog.New(w, accesslog.Options{QueueLines: 4})
	e := sample()
	l.Log(&e) // the writer takes it and blocks writing it
	<-w.entered
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 100 {
			l.Log(&e)
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Log blocked behind a blocked writer")
	}
	if got := l.Dropped(); got != 96 {
		t.Errorf("dropped = %d, want 96 (100 logged, 4 queued)", got)
	}
	close(w.release)
	closeNow(t, l)
}

func TestCloseGivesUpOnABlockedWriter(t *testing.T) {
	w := &blockingWriter{entered: make(chan struct{}), release: make(chan struct{})}
	defer close(w.release)
	l := accesslog.New(w, accesslog.Options{})
	e := sample()
	l.Log(&e)
	<-w.entered
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := l.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close = %v, want the deadline", err)
	}
}

// failingWriter fails its first writes, then works again (disk space freed).
type failingWriter struct {
	logtest.Buffer
	failures int
}

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.failures > 0 {
		w.failures--
		return 0, errors.New("no space left on device")
	}
	return w.Buffer.Write(p)
}

func TestFailedWriteCountsAndRecovers(t *testing.T) {
	rec := logtest.NewRecorder()
	w := &failingWriter{failures: 1}
	l := accesslog.New(w, accesslog.Options{Logger: rec.Logger()})
	e := sample()
	l.Log(&e)
	closeNow(t, l) // the first flush fails
	if l.Dropped() != 1 {
		t.Errorf("dropped = %d, want 1", l.Dropped())
	}
	r, ok := rec.Find("access log: write failed")
	if !ok || r.Level.String() != "ERROR" || r.Attrs["err"].String() != "no space left on device" {
		t.Errorf("failure logged as %+v (found %v), want an error with err", r, ok)
	}

	l = accesslog.New(w, accesslog.Options{Logger: rec.Logger()})
	l.Log(&e)
	closeNow(t, l)
	if strings.Count(w.String(), "\n") != 1 {
		t.Errorf("after the failure: %q, want one line", w.String())
	}
}

func TestNilLoggerIsOff(t *testing.T) {
	var l *accesslog.Logger
	e := sample()
	l.Log(&e)
	if l.Dropped() != 0 || l.Close(context.Background()) != nil {
		t.Error("a nil Logger did something")
	}
}

func BenchmarkAppendLineJSON(b *testing.B) {
	e := sample()
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = accesslog.JSON.AppendLine(buf[:0], &e)
	}
}

// writeRecorder keeps the size of each write and checks it ends a line.
type writeRecorder struct {
	mu     sync.Mutex
	writes []string
}

func (w *writeRecorder) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes = append(w.writes, string(p))
	return len(p), nil
}

// Every write holds whole lines and, unless one line is longer, fits in
// PIPE_BUF: other writers of the same pipe or file cannot split a line.
func TestWritesHoldWholeLines(t *testing.T) {
	w := &writeRecorder{}
	l := accesslog.New(w, accesslog.Options{QueueLines: 1000})
	e := sample()
	for i := range 300 {
		e.Path = "/" + strings.Repeat("p", i*7%900)
		l.Log(&e)
	}
	e.Path = "/" + strings.Repeat("long", 2000)
	l.Log(&e)
	closeNow(t, l)
	lines := 0
	for _, s := range w.writes {
		if !strings.HasSuffix(s, "\n") || (len(s) > 4096 && strings.Count(s, "\n") != 1) {
			t.Fatalf("a write of %d bytes does not hold whole lines within 4096 bytes", len(s))
		}
		lines += strings.Count(s, "\n")
	}
	if lines != 301 {
		t.Errorf("%d lines written, want 301", lines)
	}
}

// Lines logged one at a time, as a busy proxy's requests end, share writes
// instead of costing a write each; a lone line still appears without Close.
func TestLinesShareWrites(t *testing.T) {
	w := &writeRecorder{}
	l := accesslog.New(w, accesslog.Options{})
	e := sample()
	start := time.Now()
	for range 200 {
		l.Log(&e)
		time.Sleep(50 * time.Microsecond) // the writer may run between lines
	}
	elapsed := time.Since(start)
	closeNow(t, l)
	line := len(w.writes[0]) / strings.Count(w.writes[0], "\n")
	// Full buffers, plus one timed flush per 10 ms (flushDelay) of logging.
	if max := 200*line/4096 + int(elapsed/(10*time.Millisecond)) + 3; len(w.writes) > max {
		t.Errorf("200 lines took %d writes, want at most %d", len(w.writes), max)
	}

	w = &writeRecorder{}
	l = accesslog.New(w, accesslog.Options{})
	defer closeNow(t, l)
	l.Log(&e)
	deadline := time.Now().Add(5 * time.Second) // safety limit only
	for time.Now().Before(deadline) {
		w.mu.Lock()
		n := len(w.writes)
		w.mu.Unlock()
		if n == 1 {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("a lone line was not written without Close")
}
