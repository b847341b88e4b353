package logtest

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// Logger logs through t until the test is over, then drops: servers may
// still log (a client hanging up) while the test returns, and t.Log after
// the end of a test panics.
func Logger(t testing.TB) *slog.Logger {
	w := &tbWriter{t: t}
	t.Cleanup(func() { w.done.Store(true) })
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tbWriter struct {
	t    testing.TB
	done atomic.Bool
}

func (w *tbWriter) Write(p []byte) (int, error) {
	if !w.done.Load() {
		w.t.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

// Record is one logged record, its attributes flattened ("group.key").
type Record struct {
	Level   slog.Level
	Message string
	Attrs   map[string]slog.Value
}

// Recorder is a slog.Handler keeping every record, at every level.
type Recorder struct {
	store  *store
	attrs  []slog.Attr
	prefix string // of the open groups, "a.b."
}

type store struct {
	mu      sync.Mutex
	records []Record
}

// NewRecorder returns an empty recorder; slog.New(r) logs into it.
func NewRecorder() *Recorder { return &Recorder{store: &store{}} }

// Logger is slog.New(r), for brevity at call sites.
func (r *Recorder) Logger() *slog.Logger { return slog.New(r) }

func (r *Recorder) Enabled(context.Context, slog.Level) bool { return true }

func (r *Recorder) Handle(_ context.Context, rec slog.Record) error {
	out := Record{Level: rec.Level, Message: rec.Message, Attrs: map[string]slog.Value{}}
	for _, a := range r.attrs {
		flatten(out.Attrs, "", a)
	}
	rec.Attrs(func(a slog.Attr) bool {
		flatten(out.Attrs, r.prefix, a)
		return true
	})
	r.store.mu.Lock()
	defer r.store.mu.Unlock()
	r.store.records = append(r.store.records, out)
	return nil
}

func (r *Recorder) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *r
	c.attrs = nil
	for _, a := range attrs {
		c.attrs = append(c.attrs, slog.Attr{Key: r.prefix + a.Key, Value: a.Value})
	}
	c.attrs = append(append([]slog.Attr(nil), r.attrs...), c.attrs...)
	return &c
}

func (r *Recorder) WithGroup(name string) slog.Handler {
	c := *r
	c.prefix = r.prefix + name + "."
	return &c
}

func flatten(into map[string]slog.Value, prefix string, a slog.Attr) {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		for _, g := range v.Group() {
			flatten(into, prefix+a.Key+".", g)
		}
		return
	}
	into[prefix+a.Key] = v
}

// Records returns a copy of what was logged so far.
func (r *Recorder) Records() []Record {
	r.store.mu.Lock()
	defer r.store.mu.Unlock()
	return append([]Record(nil), r.store.records...)
}

// Find returns the first record whose message contains substr.
func (r *Recorder) Find(substr string) (Record, bool) {
	for _, rec := range r.Records() {
		if strings.Contains(rec.Message, substr) {
			return rec, true
		}
	}
	return Record{}, false
}

// Buffer is a writer a test reads while a logger writes to it from other
// goroutines (an access log's writer, say).
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String is everything written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
