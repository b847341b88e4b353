package handoff

import (
	"bytes"
	"errors"
	"slices"
	"testing"
)

func TestFrameRoundTrip(t *testing.T) {
	for _, typ := range []msgType{msgListeners, msgBusy, msgRefused, msgConfirm, msgAck} {
		payload := []byte("payload of " + typ.String())
		b, err := encodeFrame(typ, payload)
		if err != nil {
			t.Fatal(err)
		}
		f, err := decodeFrame(b)
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		if f.typ != typ || !bytes.Equal(f.payload, payload) {
			t.Errorf("%s: decoded %s %q", typ, f.typ, f.payload)
		}
	}
	if _, err := encodeFrame(msgRefused, make([]byte, maxPayload+1)); err == nil {
		t.Error("encoded an oversized payload")
	}
}

func TestDecodeFrameRejects(t *testing.T) {
	cases := map[string][]byte{
		"empty":            nil,
		"short header":     {protocolVersion, byte(msgAck), 0},
		"version 0":        {0, byte(msgAck), 0, 0, 0, 0},
		"version 2":        {2, byte(msgAck), 0, 0, 0, 0},
		"type 0":           {protocolVersion, 0, 0, 0, 0, 0},
		"type 6":           {protocolVersion, 6, 0, 0, 0, 0},
		"length too big":   {protocolVersion, byte(msgAck), 0, 0, 0, 1},
		"length too small": {protocolVersion, byte(msgRefused), 0, 0, 0, 1, 'a', 'b'},
		"length 4GiB":      {protocolVersion, byte(msgAck), 0xff, 0xff, 0xff, 0xff},
	}
	for name, b := range cases {
		if _, err := decodeFrame(b); !errors.Is(err, ErrProtocol) {
			t.Errorf("%s: got %v, want ErrProtocol", name, err)
		}
	}
}

func TestNamesRoundTrip(t *testing.T) {
	names := []string{"http", "https", "metrics"}
	b, err := encodeNames(names)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeNames(b)
	if err != nil || !slices.Equal(got, names) {
		t.Fatalf("got %q, %v", got, err)
	}
}

func TestDecodeNamesRejects(t *testing.T) {
	cases := map[string][]byte{
		"empty":         nil,
		"zero count":    {0},
		"count too big": {maxListeners + 1},
		"missing name":  {2, 1, 'a'},
		"past the end":  {1, 5, 'a', 'b'},
		"empty name":    {1, 0},
		"duplicate":     {2, 1, 'a', 1, 'a'},
		"stray bytes":   {1, 1, 'a', 'x'},
	}
	for name, b := range cases {
		if _, err := decodeNames(b); !errors.Is(err, ErrProtocol) {
			t.Errorf("%s: got %v, want ErrProtocol", name, err)
		}
	}
}

// Whatever arrives on the socket, decoding returns an error or a frame
// that re-encodes to the same bytes; it never panics.
func FuzzDecodeFrame(f *testing.F) {
	f.Add([]byte{protocolVersion, byte(msgConfirm), 0, 0, 0, 0})
	f.Add([]byte{protocolVersion, byte(msgListeners), 0, 0, 0, 5, 1, 3, 'a', 'b', 'c'})
	f.Add([]byte{9, 9, 9})
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := decodeFrame(b)
		if err != nil {
			return
		}
		again, err := encodeFrame(fr.typ, fr.payload)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("decoded %v from %x but re-encoded %x, %v", fr, b, again, err)
		}
		if fr.typ == msgListeners {
			decodeNames(fr.payload)
		}
	})
}

func FuzzDecodeNames(f *testing.F) {
	f.Add([]byte{1, 4, 'h', 't', 't', 'p'})
	f.Add([]byte{2, 1, 'a', 1, 'a'})
	f.Fuzz(func(t *testing.T, b []byte) {
		names, err := decodeNames(b)
		if err != nil {
			return
		}
		again, err := encodeNames(names)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("decoded %q from %x but re-encoded %x, %v", names, b, again, err)
		}
	})
}
