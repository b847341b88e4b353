// Package nettest holds network fixtures shared by tests of several
// packages. It is stdlib-only so that the data plane and lb may use it.
package nettest
