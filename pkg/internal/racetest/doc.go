// Package racetest tells tests whether the race detector is on: it drops
// sync.Pool items on purpose and instruments memory, so allocation counts
// taken under it mean nothing.
package racetest
