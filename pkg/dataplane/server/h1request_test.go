package server

import (
	"math/rand/v2"
	"net/textproto"
	"testing"
)

// canonicalKey is textproto's canonical form, whether the name comes
// canonical, lower-case, upper-case or mixed.
func TestCanonicalKey(t *testing.T) {
	for _, name := range []string{"Host", "host", "HOST", "User-Agent", "user-agent", "USER-AGENT", "X-Forwarded-For",
		"x-forwarded-for", "Sec-Fetch-Dest", "sec-fetch-DEST", "A", "a", "-", "a-", "-a", "X--Y", "x--y", "Www-Authenticate",
		"WWW-Authenticate", "Etag", "ETag", "Content-MD5", "1a", "X-1a", "Accept_Language", "accept_language"} {
		if got, want := canonicalKey(name), textproto.CanonicalMIMEHeaderKey(name); got != want {
			t.Errorf("canonicalKey(%q) = %q, want %q", name, got, want)
		}
	}
}

// canonicalKey agrees with textproto on random token names, hyphens
// anywhere.
func TestCanonicalKeyRandomTokens(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "aAzZbY-m-M0_9.!~"
	for range 20000 {
		b := make([]byte, 1+rng.IntN(30))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		name := string(b)
		if got, want := canonicalKey(name), textproto.CanonicalMIMEHeaderKey(name); got != want {
			t.Fatalf("canonicalKey(%q) = %q, want %q", name, got, want)
		}
	}
}
