package handoff

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestHandoffPassesListenersByName(t *testing.T) {
	path := sockPath(t)
	httpL, httpsL := tcpListener(t), tcpListener(t)
	_, taken := offerT(t, path, map[string]net.Listener{"http": httpL, "https": httpsL})

	tk := takeT(t, path)
	if len(tk.Listeners) != 2 {
		t.Fatalf("got %d listeners, want 2", len(tk.Listeners))
	}
	for name, old := range map[string]*net.TCPListener{"http": httpL, "https": httpsL} {
		got, ok := tk.Listeners[name]
		if !ok {
			t.Fatalf("listener %q missing", name)
		}
		if got.Addr().String() != old.Addr().String() {
			t.Errorf("%s: got %s, want the predecessor's %s", name, got.Addr(), old.Addr())
		}
		if _, ok := got.(*net.TCPListener); !ok {
			t.Errorf("%s: got a %T, want *net.TCPListener", name, got)
		}
	}
	if isClosed(taken) {
		t.Fatal("onTaken ran before the successor confirmed")
	}
	if err := tk.Confirm(); err != nil {
		t.Fatalf("Confirm: %v", err)
	}
	waitClosed(t, taken, "onTaken")
	if err := tk.Confirm(); err == nil {
		t.Error("a second Confirm succeeded")
	}
}

// The heart of the design: connections the kernel queued while the old
// process was no longer accepting are accepted by the new one.
func TestConnectionsQueuedInBacklogReachTheSuccessor(t *testing.T) {
	path := sockPath(t)
	old := tcpListener(t)
	addr := old.Addr().String()
	var clients []net.Conn
	for range 5 {
		c, err := net.DialTimeout("tcp", addr, safety)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		clients = append(clients, c)
	}
	_, taken := offerT(t, path, map[string]net.Listener{"http": old})
	tk := takeT(t, path)
	if err := tk.Confirm(); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, taken, "onTaken")
	old.Close() // what the predecessor does when told: stop accepting

	for i, c := range clients {
		c.SetDeadline(time.Now().Add(safety))
		if _, err := c.Write([]byte{'0' + byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	got := map[byte]bool{}
	for range clients {
		s := acceptWithin(t, tk.Listeners["http"])
		defer s.Close()
		s.SetDeadline(time.Now().Add(safety))
		b := make([]byte, 1)
		if _, err := io.ReadFull(s, b); err != nil {
			t.Fatalf("read from a queued connection: %v", err)
		}
		got[b[0]] = true
	}
	if len(got) != len(clients) {
		t.Fatalf("the successor accepted %d distinct queued connections, want %d", len(got), len(clients))
	}
	roundTrip(t, tk.Listeners["http"], addr) // and new ones keep coming
}

func TestSocketFileIsPrivateAndItsDirectoryCreated(t *testing.T) {
	path := sockPath(t) // its directory does not exist yet
	offerT(t, path, map[string]net.Listener{"http": tcpListener(t)})
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket file mode %s, want a socket with 0600", fi.Mode())
	}
	di, err := os.Stat(filepath.Dir(path))
	if err != nil || di.Mode().Perm() != 0o700 {
		t.Errorf("directory: %v, mode %v; want created 0700", err, di.Mode())
	}
}

func TestTakeWithoutPredecessor(t *testing.T) {
	path := sockPath(t)
	if _, err := Take(context.Background(), path); !errors.Is(err, ErrNoPredecessor) {
		t.Fatalf("missing directory: got %v, want ErrNoPredecessor", err)
	}
	os.MkdirAll(filepath.Dir(path), 0o700)
	if _, err := Take(context.Background(), path); !errors.Is(err, ErrNoPredecessor) {
		t.Fatalf("missing file: got %v, want ErrNoPredecessor", err)
	}
}

func TestTakeRemovesStaleSocketFile(t *testing.T) {
	path := sockPath(t)
	os.MkdirAll(filepath.Dir(path), 0o700)
	ln, err := net.ListenUnix(network, &net.UnixAddr{Name: path, Net: network})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close() // what a killed process leaves behind

	_, err = Take(context.Background(), path)
	if !errors.Is(err, ErrNoPredecessor) || !strings.Contains(err.Error(), "stale") {
		t.Fatalf("got %v, want ErrNoPredecessor about a stale file", err)
	}
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Fatalf("stale socket file still there: %v", err)
	}
	offerT(t, path, map[string]net.Listener{"http": tcpListener(t)})
	takeT(t, path)
}

func TestNonSocketFileIsLeftAlone(t *testing.T) {
	path := sockPath(t)
	os.MkdirAll(filepath.Dir(path), 0o700)
	if err := os.WriteFile(path, []byte("not a socket"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Take(context.Background(), path); err == nil || errors.Is(err, ErrNoPredecessor) {
		t.Errorf("Take: got %v, want an error naming the file", err)
	}
	_, err := Offer(context.Background(), path, map[string]net.Listener{"http": tcpListener(t)}, func() {})
	if err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("Offer: got %v, want a refusal to replace a regular file", err)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "not a socket" {
		t.Errorf("the regular file was touched: %q, %v", b, err)
	}
}

// A successor's Offer renames its socket over the predecessor's; the
// predecessor's Close must then leave the successor's file alone.
func TestChainedOffersAndCloseRemovesOnlyItsOwnSocket(t *testing.T) {
	path := sockPath(t)
	l := tcpListener(t)
	first, taken := offerT(t, path, map[string]net.Listener{"http": l})
	tk := takeT(t, path)
	if err := tk.Confirm(); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, taken, "onTaken")
	second, _ := offerT(t, path, tk.Listeners)

	if err := first.Close(); err != nil {
		t.Fatalf("first Close: %v", err)
	}
	next := takeT(t, path) // served by second, whose file survived
	if next.Listeners["http"].Addr().String() != l.Addr().String() {
		t.Fatalf("third generation got %s, want %s", next.Listeners["http"].Addr(), l.Addr())
	}
	next.Abort()
	if err := second.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Fatalf("the last offerer left its socket file: %v", err)
	}
}

func TestOfferValidatesItsArguments(t *testing.T) {
	path := sockPath(t)
	l := tcpListener(t)
	cases := map[string]struct {
		path    string
		ls      map[string]net.Listener
		onTaken func()
	}{
		"nil onTaken":    {path, map[string]net.Listener{"http": l}, nil},
		"no listeners":   {path, nil, func() {}},
		"empty name":     {path, map[string]net.Listener{"": l}, func() {}},
		"no descriptor":  {path, map[string]net.Listener{"http": wrapped{l}}, func() {}},
		"path too long":  {"/tmp/" + strings.Repeat("x", 200), map[string]net.Listener{"http": l}, func() {}},
		"name too long":  {path, map[string]net.Listener{strings.Repeat("n", 256): l}, func() {}},
		"empty path":     {"", map[string]net.Listener{"http": l}, func() {}},
		"too many (65+)": {path, manyListeners(l, maxListeners+1), func() {}},
	}
	for name, c := range cases {
		if o, err := Offer(context.Background(), c.path, c.ls, c.onTaken); err == nil {
			o.Close()
			t.Errorf("%s: Offer succeeded", name)
		}
	}
}

type wrapped struct{ net.Listener } // hides the descriptor, like tls.NewListener

func manyListeners(l net.Listener, n int) map[string]net.Listener {
	m := make(map[string]net.Listener, n)
	for i := range n {
		m[strings.Repeat("l", i+1)] = l
	}
	return m
}

func TestCancellingOfferContextClosesTheOfferer(t *testing.T) {
	path := sockPath(t)
	ctx, cancel := context.WithCancel(context.Background())
	o, err := Offer(ctx, path, map[string]net.Listener{"http": tcpListener(t)}, func() {})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	cancel()
	waitClosed(t, o.done, "the offerer to close") // only Close closes done
	o.Close()                                     // waits for that Close to finish
	if _, err := Take(context.Background(), path); !errors.Is(err, ErrNoPredecessor) {
		t.Fatalf("Take after cancel: got %v, want ErrNoPredecessor", err)
	}
}

func TestCloseFromOnTakenDoesNotDeadlock(t *testing.T) {
	path := sockPath(t)
	closed := make(chan struct{})
	var o *Offerer
	ready := make(chan struct{})
	o, err := Offer(context.Background(), path, map[string]net.Listener{"http": tcpListener(t)}, func() {
		<-ready
		o.Close()
		close(closed)
	})
	if err != nil {
		t.Fatal(err)
	}
	close(ready)
	tk := takeT(t, path)
	if err := tk.Confirm(); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, closed, "Close called from onTaken")
}

func TestPeerAllowed(t *testing.T) {
	cases := []struct {
		peer, own uint32
		want      bool
	}{{1000, 1000, true}, {0, 1000, true}, {0, 0, true}, {1001, 1000, false}, {1000, 0, false}}
	for _, c := range cases {
		if got := peerAllowed(c.peer, c.own); got != c.want {
			t.Errorf("peerAllowed(%d, %d) = %v, want %v", c.peer, c.own, got, c.want)
		}
	}
}
