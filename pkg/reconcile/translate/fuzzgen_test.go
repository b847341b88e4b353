package translate

import (
	"strings"
)

// The generators below reach the edges of host and path rules instead of
// drawing from fixed lists only: label lengths around 63, names around 253,
// upper case, trailing dots, wildcards in odd places, dot segments and
// arbitrary bytes.

// str draws an arbitrary string: a length byte, then that many bytes.
func (g *gen) str() string {
	n := g.n(256)
	end := min(g.pos+n, len(g.data))
	s := string(g.data[g.pos:end])
	g.pos = end
	return s
}

// labelChars are the characters labels are built from: valid ones,
// upper case, and a few that are never valid in a host.
const labelChars = "abz09-_ABZ*. %\x00é"

func (g *gen) label() string {
	n := pick(g, 1, 3, 62, 63, 63, 64, 0, 2)
	c := labelChars[g.n(len(labelChars))]
	if g.n(4) != 0 {
		c = 'a' // mostly plain letters, so the label's length decides
	}
	return strings.Repeat(string(c), n)
}

// host returns a host from the pool, arbitrary bytes, or labels built to
// test the length, case, trailing-dot and wildcard rules.
func (g *gen) host() string {
	switch g.n(6) {
	case 0:
		return g.str()
	case 1, 2:
		return pick(g, hosts...)
	}
	var labels []string
	for i := 1 + g.n(5); i > 0; i-- {
		labels = append(labels, g.label())
	}
	h := strings.Join(labels, ".")
	if g.n(4) == 0 {
		h = "*." + h
	}
	if g.n(4) == 0 {
		h += "."
	}
	if g.n(8) == 0 {
		h = strings.Repeat("a.", 120+g.n(20)) + h // around the 253-character limit
	}
	return h
}

func (g *gen) tlsHosts() []string {
	var hs []string
	for i := g.n(3); i > 0; i-- {
		hs = append(hs, g.host())
	}
	return hs
}

// pathString returns a path from the pool, arbitrary bytes, or segments
// chosen to test the dot-segment, slash and character rules.
func (g *gen) pathString() string {
	switch g.n(4) {
	case 0:
		return g.str()
	case 1:
		return pick(g, paths...)
	}
	var b strings.Builder
	for i := 1 + g.n(4); i > 0; i-- {
		b.WriteString(pick(g, "/", "/a", "/A", "/.", "/..", "//", "/a b", "/%2e", "/a;b", "/\\", "/?q", "/#", "/\x7f", "/é"))
	}
	if g.bool() {
		b.WriteString("/")
	}
	return b.String()
}

// boundarySeeds steer the fuzzer to the cases that once froze routing:
// a 64-character label in an Ingress host and in a TLS host.
var boundarySeeds = [][]byte{
	{1, 0, 0, 1, 3, 5, 5, 5, 5, 5, 5},
	[]byte(strings.Repeat("\x05", 64)),
}
