package h1

import (
	"bufio"
	"strings"
	"testing"
)

// A released Head points into no buffer: an idle connection keeps its
// Head, and a view into the reader's buffer would keep the buffer alive
// after the connection gave it back to its pool (issue 14's idle cost).
func TestReleasedHeadHoldsNoViews(t *testing.T) {
	br := bufio.NewReader(strings.NewReader("GET /a HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\n\r\n"))
	var h Head
	if err := ReadRequest(br, &h, 1<<20); err != nil {
		t.Fatal(err)
	}
	h.Release()
	if h.Method != nil || h.Target != nil || h.Host != nil || len(h.Fields) != 0 {
		t.Fatalf("released head keeps %q %q %q %d fields", h.Method, h.Target, h.Host, len(h.Fields))
	}
	for i, f := range h.Fields[:cap(h.Fields)] {
		if f.Name != nil || f.Value != nil {
			t.Errorf("field slot %d still views %q: %q", i, f.Name, f.Value)
		}
	}
}
