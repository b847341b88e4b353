package accesslog

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultQueueLines bounds the lines waiting for the writer: about 4 MB
// of typical lines, a second or more of a busy proxy's traffic.
const DefaultQueueLines = 16 << 10

// writeSize is PIPE_BUF on Linux: the kernel does not interleave a write
// this small to a pipe with other writers' (this process's own log on a
// shared stderr, say), and each write holds whole lines, so that two
// processes appending to one file across a handoff never split a line.
const writeSize = 4096

// maxPooledLine keeps the rare huge line (a path near the header limit)
// from pinning a large buffer in the pool.
const maxPooledLine = 4 << 10

// Options tune a Logger. Zero values take defaults.
type Options struct {
	Format     Format
	QueueLines int          // lines waiting for the writer; beyond it lines are dropped
	Logger     *slog.Logger // told when writing fails; nil discards
}

// Logger is an access log. A nil *Logger logs nothing, so callers need
// not check whether the access log is on.
type Logger struct {
	format  Format
	queue   chan *[]byte
	bufs    sync.Pool
	dropped atomic.Uint64
	closed  atomic.Bool

	w       io.Writer
	log     *slog.Logger
	stop    chan struct{}
	stopped sync.Once
	done    chan struct{}
}

// New starts a Logger writing to w. Close it to write what is queued.
func New(w io.Writer, opts Options) *Logger {
	if opts.QueueLines <= 0 {
		opts.QueueLines = DefaultQueueLines
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	l := &Logger{
		format: opts.Format,
		queue:  make(chan *[]byte, opts.QueueLines),
		w:      w,
		log:    opts.Logger,
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	l.bufs.New = func() any {
		b := make([]byte, 0, 512)
		return &b
	}
	go l.run()
	return l
}

// Log formats e and queues it for the writer; it never waits. The line is
// dropped and counted when the queue is full or the Logger is closed.
func (l *Logger) Log(e *Entry) {
	if l == nil {
		return
	}
	if l.closed.Load() {
		l.dropped.Add(1)
		return
	}
	bp := l.bufs.Get().(*[]byte)
	*bp = l.format.AppendLine((*bp)[:0], e)
	select {
	case l.queue <- bp:
	default:
		l.dropped.Add(1)
		l.recycle(bp)
	}
}

// Dropped counts lines lost: to a full queue, to a closed Logger, or to
// a failed write.
func (l *Logger) Dropped() uint64 {
	if l == nil {
		return 0
	}
	return l.dropped.Load()
}

// Close stops taking lines and writes those queued, waiting until that is
// done or ctx ends (a writer blocked on a full pipe may never finish).
// Lines logged while Close runs may be lost uncounted.
func (l *Logger) Close(ctx context.Context) error {
	if l == nil {
		return nil
	}
	l.closed.Store(true)
	l.stopped.Do(func() { close(l.stop) })
	select {
	case <-l.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (l *Logger) recycle(bp *[]byte) {
	if cap(*bp) <= maxPooledLine {
		l.bufs.Put(bp)
	}
}

// flushDelay is how long a line may wait in the writer's buffer for
// others to share its write. Writing whenever the queue ran empty cost a
// write system call (and a wake-up) per request on a busy proxy, about a
// fifth of its CPU per request; a full buffer is written at once anyway.
const flushDelay = 10 * time.Millisecond

// run is the writer: it batches queued lines into one buffered writer,
// written when it is full or flushDelay after its first line, so an idle
// proxy's lines appear within flushDelay and a busy one's go out in large
// writes.
func (l *Logger) run() {
	defer close(l.done)
	bw := &batch{w: bufio.NewWriterSize(l.w, writeSize), l: l}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	armed := false
	for {
		select {
		case bp := <-l.queue:
			bw.add(bp)
			if !armed && bw.w.Buffered() > 0 {
				timer.Reset(flushDelay)
				armed = true
			}
		case <-timer.C:
			armed = false
			bw.flush()
		case <-l.stop:
			timer.Stop()
			l.drain(bw)
			return
		}
	}
}

func (l *Logger) drain(bw *batch) {
	for {
		select {
		case bp := <-l.queue:
			bw.add(bp)
		default:
			bw.flush()
			return
		}
	}
}

// batch counts the lines buffered but not yet written, so that a failed
// write counts them as dropped.
type batch struct {
	w       *bufio.Writer
	l       *Logger
	pending uint64
	failing bool
}

func (b *batch) add(bp *[]byte) {
	if len(*bp) > b.w.Available() && b.w.Buffered() > 0 {
		b.flush() // whole lines per write; a longer line goes out alone
	}
	b.pending++
	if _, err := b.w.Write(*bp); err != nil {
		b.failed(err)
	}
	b.l.recycle(bp)
}

func (b *batch) flush() {
	if err := b.w.Flush(); err != nil {
		b.failed(err)
		return
	}
	b.pending = 0
	b.failing = false
}

// failed drops what is buffered: bufio.Writer keeps failing once a write
// failed, and the next write (disk space freed, say) may well succeed.
// Only the first failure of a run of them is logged.
func (b *batch) failed(err error) {
	b.l.dropped.Add(b.pending)
	b.pending = 0
	b.w.Reset(b.l.w)
	if !b.failing {
		b.l.log.Error("access log: write failed; dropping lines", slog.Any("err", err))
	}
	b.failing = true
}
