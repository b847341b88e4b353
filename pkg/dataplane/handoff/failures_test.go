package handoff

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/baton-dev/baton/pkg/internal/logtest"
)

func TestPredecessorClosesBeforeSendingListeners(t *testing.T) {
	path := sockPath(t)
	fakePredecessor(t, path, func(*net.UnixConn) {}) // accepts, then dies
	_, err := Take(context.Background(), path)
	if !errors.Is(err, ErrPredecessorGone) {
		t.Fatalf("got %v, want ErrPredecessorGone", err)
	}
}

// After the descriptors arrived, a predecessor that vanishes only costs the
// acknowledgement: the successor's listeners keep working.
func TestPredecessorGoesAwayBeforeAcknowledging(t *testing.T) {
	path := sockPath(t)
	l := tcpListener(t)
	o, taken := offerT(t, path, map[string]net.Listener{"http": l})
	tk := takeT(t, path)
	o.Close()
	l.Close()

	if err := tk.Confirm(); !errors.Is(err, ErrPredecessorGone) {
		t.Fatalf("Confirm: got %v, want ErrPredecessorGone", err)
	}
	if isClosed(taken) {
		t.Fatal("onTaken ran for a handoff that was never acknowledged")
	}
	roundTrip(t, tk.Listeners["http"], l.Addr().String())
}

func TestRacingSuccessorsExactlyOneWins(t *testing.T) {
	path := sockPath(t)
	_, taken := offerT(t, path, map[string]net.Listener{"http": tcpListener(t)})

	const racers = 4
	var wg sync.WaitGroup
	start := make(chan struct{})
	results := make([]*Taken, racers)
	errs := make([]error, racers)
	for i := range racers {
		wg.Go(func() {
			<-start
			results[i], errs[i] = Take(context.Background(), path)
		})
	}
	close(start)
	wg.Wait() // the losers return while the winner has not confirmed yet

	var winner *Taken
	for i := range racers {
		switch {
		case errs[i] == nil && winner == nil:
			winner = results[i]
		case errs[i] == nil:
			t.Fatal("two successors received the listeners")
		case !errors.Is(errs[i], ErrHandoffInProgress):
			t.Fatalf("loser %d: got %v, want ErrHandoffInProgress", i, errs[i])
		}
	}
	if winner == nil {
		t.Fatalf("nobody won: %v", errs)
	}
	if err := winner.Confirm(); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, taken, "onTaken")
	if _, err := Take(context.Background(), path); !errors.Is(err, ErrHandoffInProgress) {
		t.Fatalf("Take after the handoff completed: got %v, want ErrHandoffInProgress", err)
	}
}

func TestUnconfirmedSuccessorIsDroppedAndALaterOneWins(t *testing.T) {
	path := sockPath(t)
	logs := logtest.NewRecorder()
	l := tcpListener(t)
	_, taken := offerT(t, path, map[string]net.Listener{"http": l},
		WithConfirmTimeout(100*time.Millisecond), WithLogger(logs.Logger()))

	stuck := takeT(t, path) // never confirms in time
	second := takeUntil(t, path)
	if err := stuck.Confirm(); !errors.Is(err, ErrPredecessorGone) {
		t.Errorf("late Confirm: got %v, want ErrPredecessorGone", err)
	}
	if isClosed(taken) {
		t.Fatal("onTaken ran for the successor that never confirmed")
	}
	roundTrip(t, l, l.Addr().String()) // the offerer still serves meanwhile
	if err := second.Confirm(); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, taken, "onTaken")
	expectHandoffFailure(t, logs, "did not confirm within 100ms")
}

func TestAbortFreesTheOffererAtOnce(t *testing.T) {
	path := sockPath(t)
	_, taken := offerT(t, path, map[string]net.Listener{"http": tcpListener(t)}, WithConfirmTimeout(time.Hour))
	first := takeT(t, path)
	if err := first.Abort(); err != nil {
		t.Fatal(err)
	}
	second := takeUntil(t, path) // would wait an hour if Abort went unnoticed
	if err := second.Confirm(); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, taken, "onTaken")
}

func TestClosedListenerIsRefusedWithItsName(t *testing.T) {
	path := sockPath(t)
	l := tcpListener(t)
	offerT(t, path, map[string]net.Listener{"https": l})
	l.Close()
	_, err := Take(context.Background(), path)
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), `"https"`) {
		t.Fatalf("got %v, want ErrRefused naming the listener", err)
	}
}

func TestTakeGivesUpOnASilentPredecessor(t *testing.T) {
	path := sockPath(t)
	release := make(chan struct{})
	defer close(release)
	fakePredecessor(t, path, func(*net.UnixConn) { <-release })

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := Take(ctx, path); !errors.Is(err, ErrNoPredecessor) {
		t.Fatalf("deadline: got %v, want ErrNoPredecessor", err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	if _, err := Take(ctx, path); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancel: got %v, want context.Canceled", err)
	}
}

func TestOffererRejectsGarbageAndKeepsServing(t *testing.T) {
	cases := map[string]func(c *net.UnixConn) error{
		"bad version":     rawWriter([]byte{9, byte(msgConfirm), 0, 0, 0, 0}),
		"length mismatch": rawWriter([]byte{protocolVersion, byte(msgConfirm), 0, 0, 0, 5}),
		"unknown type":    rawWriter([]byte{protocolVersion, 77, 0, 0, 0, 0}),
		"wrong message":   func(c *net.UnixConn) error { return writeFrame(c, msgAck, nil) },
		"descriptor attached": func(c *net.UnixConn) error {
			return writeFrame(c, msgConfirm, nil, int(os.Stdin.Fd()))
		},
	}
	for name, send := range cases {
		t.Run(name, func(t *testing.T) {
			path := sockPath(t)
			logs := logtest.NewRecorder()
			_, taken := offerT(t, path, map[string]net.Listener{"http": tcpListener(t)}, WithLogger(logs.Logger()))
			c, f, fds := rawTake(t, path)
			closeFDs(fds)
			if f.typ != msgListeners {
				t.Fatalf("first message %s, want listeners", f.typ)
			}
			if err := send(c); err != nil {
				t.Fatal(err)
			}
			if _, _, err := readFrame(c); !isGone(err) {
				t.Fatalf("the offerer kept talking after garbage: %v", err)
			}
			expectHandoffFailure(t, logs, "protocol error")
			if err := takeUntil(t, path).Confirm(); err != nil {
				t.Fatal(err)
			}
			waitClosed(t, taken, "onTaken")
		})
	}
}

func rawWriter(b []byte) func(c *net.UnixConn) error {
	return func(c *net.UnixConn) error { _, err := c.Write(b); return err }
}

func TestTakeRejectsGarbageWithoutLeakingDescriptors(t *testing.T) {
	l := tcpListener(t)
	cases := map[string]func(c *net.UnixConn) error{
		"short header":        rawWriter([]byte{protocolVersion, byte(msgListeners)}),
		"bad version":         rawWriter([]byte{2, byte(msgListeners), 0, 0, 0, 0}),
		"length mismatch":     rawWriter([]byte{protocolVersion, byte(msgListeners), 0, 0, 0, 10, 1, 2, 3}),
		"unknown type":        rawWriter([]byte{protocolVersion, 99, 0, 0, 0, 0}),
		"oversized":           rawWriter(make([]byte, maxFrame+100)),
		"ack first":           func(c *net.UnixConn) error { return writeFrame(c, msgAck, nil) },
		"names, no fds":       sendListeners([]string{"http"}),
		"more fds than names": sendListeners([]string{"http"}, dupOf(t, l), dupOf(t, l)),
		"fewer fds":           sendListeners([]string{"http", "https"}, dupOf(t, l)),
		"a pipe":              sendListeners([]string{"http"}, pipeFD(t)),
		"not listening":       sendListeners([]string{"http"}, udpFD(t)),
		"duplicate names":     sendRaw(msgListeners, []byte{2, 4, 'h', 't', 't', 'p', 4, 'h', 't', 't', 'p'}, dupOf(t, l), dupOf(t, l)),
		"name past the end":   sendRaw(msgListeners, []byte{1, 200, 'a'}, dupOf(t, l)),
		"zero listeners":      sendRaw(msgListeners, []byte{0}),
		"fds on busy":         sendRaw(msgBusy, []byte("busy"), dupOf(t, l)),
	}
	for name, respond := range cases {
		t.Run(name, func(t *testing.T) {
			path := sockPath(t)
			before := countFDs(t)
			var sendErr error
			wait := fakePredecessor(t, path, func(c *net.UnixConn) { sendErr = respond(c) })
			_, err := Take(context.Background(), path)
			wait()
			if sendErr != nil {
				t.Fatalf("fake predecessor: %v", sendErr)
			}
			if !errors.Is(err, ErrProtocol) {
				t.Fatalf("got %v, want ErrProtocol", err)
			}
			if after := countFDs(t); after > before {
				t.Fatalf("open descriptors went from %d to %d", before, after)
			}
		})
	}
}

// The descriptor makers below return a func, so each case opens its
// descriptors inside the counted window and closes them after sending.
type fdMaker func() int

func dupOf(t *testing.T, l *net.TCPListener) fdMaker {
	return func() int {
		fd, err := dupListener(l)
		if err != nil {
			t.Error(err)
		}
		return fd
	}
}

func pipeFD(t *testing.T) fdMaker {
	return func() int {
		var p [2]int
		if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
			t.Error(err)
		}
		unix.Close(p[1])
		return p[0]
	}
}

func udpFD(t *testing.T) fdMaker {
	return func() int {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Error(err)
		}
		return fd
	}
}

func sendListeners(names []string, makers ...fdMaker) func(c *net.UnixConn) error {
	payload, err := encodeNames(names)
	if err != nil {
		panic(err)
	}
	return sendRaw(msgListeners, payload, makers...)
}

func sendRaw(typ msgType, payload []byte, makers ...fdMaker) func(c *net.UnixConn) error {
	return func(c *net.UnixConn) error {
		fds := make([]int, 0, len(makers))
		for _, m := range makers {
			fds = append(fds, m())
		}
		defer closeFDs(fds)
		return writeFrame(c, typ, payload, fds...)
	}
}

// expectHandoffFailure checks that a failed handoff was logged as an
// error with the socket and the cause as fields.
func expectHandoffFailure(t *testing.T, logs *logtest.Recorder, cause string) {
	t.Helper()
	r, ok := logs.Find("a successor did not take the listeners")
	if !ok || r.Level != slog.LevelError || r.Attrs["socket"].String() == "" || !strings.Contains(r.Attrs["err"].String(), cause) {
		t.Errorf("want an error record with socket and an err saying %q, got %+v (found %v)", cause, r, ok)
	}
}

type lockedLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedLog) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(&l.b, format+"\n", args...)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
