//go:build race

package racetest

// Enabled reports that the binary was built with -race.
const Enabled = true
