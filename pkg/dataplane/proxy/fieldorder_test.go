package proxy_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"slices"
	"strings"
	"testing"

	"github.com/baton-dev/baton/pkg/dataplane/proxy"
)

// orderedFields are sent in this order, which no hash order keeps: 16
// names, so that one map order in 16! passes by chance. Two of them
// repeat, further down, as a client or an upstream may send them.
var orderedFields = func() []string {
	names := []string{"Zeta", "Accept", "X-B", "Cache-Control", "X-A", "Yankee", "Cookie", "Mike",
		"X-Forwarded-Nothing", "Bravo", "Kilo", "X-Trace", "Alpha", "Echo", "Q", "Last-One"}
	return names
}()

// rawHeadLines reads a head's field lines as sent, up to the blank line.
func rawHeadLines(t *testing.T, br *bufio.Reader) (first string, lines []string) {
	t.Helper()
	first, lines, err := readHeadLines(br)
	if err != nil {
		t.Fatal(err)
	}
	return first, lines
}

func readHeadLines(br *bufio.Reader) (first string, lines []string, err error) {
	tp := textproto.NewReader(br)
	if first, err = tp.ReadLine(); err != nil {
		return "", nil, err
	}
	for {
		line, err := tp.ReadLine()
		if err != nil || line == "" {
			return first, lines, err
		}
		lines = append(lines, line)
	}
}

// orderBackend answers each request with resp, after passing the
// request's field lines to seen.
func orderBackend(t *testing.T, resp string, seen chan<- []string) *scriptedBackend {
	return newScriptedBackend(t, func(_ int64, c net.Conn, br *bufio.Reader) {
		for {
			_, lines, err := readHeadLines(br)
			if err != nil {
				return
			}
			seen <- lines
			if _, err := io.WriteString(c, resp); err != nil {
				return
			}
		}
	})
}

// namesOf is the field names of lines, in order, those of want only
// (others, the proxy's own, may come between).
func namesOf(lines []string, want []string) []string {
	var got []string
	for _, l := range lines {
		name, _, _ := strings.Cut(l, ":")
		if slices.Contains(want, name) {
			got = append(got, name)
		}
	}
	return got
}

// orderedHead is the fields of orderedFields as lines, a repeated name
// coming again at the end; withRepeats is the order of their names then.
func orderedHead(prefix string) (head string, names []string) {
	var b strings.Builder
	for i, n := range orderedFields {
		fmt.Fprintf(&b, "%s: %s%d\r\n", n, prefix, i)
	}
	b.WriteString("X-B: again\r\nCookie: again\r\n")
	return b.String(), append(slices.Clone(orderedFields), "X-B", "Cookie")
}

// TestFieldsKeepReceivedOrder: the request forwarded upstream carries the
// client's field lines in the order the client sent them, and the
// response the client gets carries the upstream's field lines in their
// order, a repeated name's too, as nginx forwards both (RFC 9110 §5.3: the order of differently named fields is
// not significant, but people read and diff heads, and some applications
// do depend on it). Over keep-alive, so that reused storage is checked too.
func TestFieldsKeepReceivedOrder(t *testing.T) {
	reqHead, reqNames := orderedHead("req-")
	respHead, respNames := orderedHead("resp-")
	seen := make(chan []string, 4)
	backend := orderBackend(t, "HTTP/1.1 200 OK\r\n"+respHead+"Content-Length: 2\r\n\r\nok", seen)
	rg := newRig(t, &testPhases{peers: []proxy.Peer{backend.peer}}, proxy.Options{}, nil)
	conn, br := dialRaw(t, rg.addr, safety)
	for range 3 {
		if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: a.test\r\n"+reqHead+"\r\n"); err != nil {
			t.Fatal(err)
		}
		status, lines := rawHeadLines(t, br)
		if !strings.Contains(status, " 200 ") {
			t.Fatalf("status line %q", status)
		}
		if _, err := io.ReadFull(br, make([]byte, 2)); err != nil {
			t.Fatal(err)
		}
		if got, want := namesOf(lines, orderedFields), respNames; !slices.Equal(got, want) {
			t.Errorf("response fields in order\n%q\nwant\n%q", got, want)
		}
		upstream := within(t, "the forwarded request", safety, seen)
		if got, want := namesOf(upstream, orderedFields), reqNames; !slices.Equal(got, want) {
			t.Errorf("forwarded fields in order\n%q\nwant\n%q", got, want)
		}
	}
}

// TestPhaseFieldsAreWrittenAndChecked: fields a phase adds after the
// received ones are written too, after them; a field a phase deletes is
// not; and a value a phase sets that could split the message (a CR or LF
// in it) is refused, whether set as a new slice or written into the
// slice of a received or forwarding field, upstream as downstream.
func TestPhaseFieldsAreWrittenAndChecked(t *testing.T) {
	seen := make(chan []string, 4)
	backend := orderBackend(t, "HTTP/1.1 200 OK\r\nX-Up-1: a\r\nX-Up-2: b\r\nX-Up-3: c\r\nContent-Length: 2\r\n\r\nok", seen)
	cases := map[string]struct {
		upstream func(*proxy.Request)
		response func(*proxy.Response)
		refused  bool // the request is not sent: 502
	}{
		"added and deleted": {
			upstream: func(r *proxy.Request) { r.Header.Add("X-Added", "yes"); r.Header.Del("x-down-2") },
			response: func(r *proxy.Response) { r.Header.Add("X-Added", "yes"); r.Header.Del("x-up-2") },
		},
		"upstream value with CR LF": {
			upstream: func(r *proxy.Request) { r.Header.Set("X-Evil", "a\r\nInjected: 1") },
			refused:  true,
		},
		"upstream received value rewritten in place": {
			upstream: func(r *proxy.Request) { r.Header.Set("X-Down-1", "a\r\nInjected: 1") },
			refused:  true,
		},
		"upstream forwarding value rewritten in place": {
			upstream: func(r *proxy.Request) { r.Header.Set("X-Forwarded-Proto", "http\r\nInjected: 1") },
			refused:  true,
		},
		"upstream bad name": {
			upstream: func(r *proxy.Request) { r.Header.Add("X Evil", "1") },
			refused:  true,
		},
		"response value with CR LF": {
			response: func(r *proxy.Response) { r.Header.Add("X-Evil", "a\r\nInjected: 1") },
		},
		"response received value replaced": {
			response: func(r *proxy.Response) { r.Header.Set("X-Up-1", "a\nInjected: 1") },
		},
		"response received value appended to": {
			response: func(r *proxy.Response) { r.Header.Append("X-Up-1", "a\nInjected: 1") },
		},
		"response bad name": {
			response: func(r *proxy.Response) { r.Header.Add("X Evil\r\nInjected", "1") },
		},
		"received value cut": {
			upstream: func(r *proxy.Request) { r.Header.Set("X-Down-1", r.Header.Get("X-Down-1")[1:]) },
			response: func(r *proxy.Response) { r.Header.Set("X-Up-1", r.Header.Get("X-Up-1")[:0]) },
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			phases := &testPhases{peers: []proxy.Peer{backend.peer},
				upstreamRequest: func(_ *proxy.Session, r *proxy.Request) error {
					if tc.upstream != nil {
						tc.upstream(r)
					}
					return nil
				},
				responseFilter: func(_ *proxy.Session, r *proxy.Response) error {
					if tc.response != nil {
						tc.response(r)
					}
					return nil
				}}
			rg := newRig(t, phases, proxy.Options{}, nil)
			conn, br := dialRaw(t, rg.addr, safety)
			if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: a.test\r\nX-Down-1: xyz\r\nX-Down-2: 2\r\nX-Down-3: 3\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			status, lines := rawHeadLines(t, br)
			var upstream []string
			if tc.refused {
				if !strings.Contains(status, " 502 ") {
					t.Fatalf("status line %q, want a 502", status)
				}
			} else {
				upstream = within(t, "the forwarded request", safety, seen)
			}
			for _, l := range append(upstream, lines...) {
				if strings.HasPrefix(l, "Injected") || strings.Contains(l, "Evil") {
					t.Errorf("line %q was written", l)
				}
			}
			checkPhaseEdits(t, name, upstream, lines)
		})
	}
}

// checkPhaseEdits checks what the cases that write something expect.
func checkPhaseEdits(t *testing.T, name string, upstream, downstream []string) {
	t.Helper()
	switch name {
	case "added and deleted":
		if got := namesOf(upstream, []string{"X-Down-1", "X-Down-2", "X-Down-3", "X-Added"}); !slices.Equal(got, []string{"X-Down-1", "X-Down-3", "X-Added"}) {
			t.Errorf("forwarded %q", got)
		}
		if got := namesOf(downstream, []string{"X-Up-1", "X-Up-2", "X-Up-3", "X-Added"}); !slices.Equal(got, []string{"X-Up-1", "X-Up-3", "X-Added"}) {
			t.Errorf("sent downstream %q", got)
		}
	case "received value cut":
		if !slices.Contains(upstream, "X-Down-1: yz") || !slices.Contains(downstream, "X-Up-1: ") {
			t.Errorf("forwarded %q, sent downstream %q", upstream, downstream)
		}
	}
}
