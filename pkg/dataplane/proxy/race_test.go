//go:build race

package proxy_test

// raceEnabled: the race detector drops sync.Pool items on purpose, so
// allocation counts mean nothing under it.
const raceEnabled = true
