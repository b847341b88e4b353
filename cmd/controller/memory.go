package main

import (
	"os"
	"runtime/debug"
)

// softMemoryLimit is the Go runtime's soft memory limit for a container
// limit of limit bytes: nine tenths of it, the rest left for what the
// runtime does not count (kernel socket buffers charged to the cgroup)
// and for the collector to catch up. 0 (no limit known) leaves the
// runtime's default. An explicit GOMEMLIMIT wins.
func softMemoryLimit(limit int64, gomemlimit string) int64 {
	if limit <= 0 || gomemlimit != "" {
		return 0
	}
	return limit / 10 * 9
}

// defaultGCPercent is Baton's GOGC unless GOGC is set. The runtime's 100
// lets the heap grow to twice the live heap between collections: at 10k
// Ingresses (70 MiB live) the heap goal reached 146-151 MB and RSS
// 170-193 MiB under EndpointSlice churn, next to issue 10's 200 MiB. At
// 75: goal at most 135 MB, RSS 154-169 MiB. The price, in the scale
// bench: 4 collections in 30 s of churn instead of 2-3, about 1% of a
// core, and 6-8% of the requests at or above p99 starting during one
// (1-2% at 100), with no p99 change the machine's noise lets us see.
const defaultGCPercent = 75

// gcPercent is the GOGC to set, or -1 to leave the runtime's (GOGC set).
func gcPercent(gogc string) int {
	if gogc != "" {
		return -1
	}
	return defaultGCPercent
}

// applyMemoryLimit makes the collector work harder as the heap nears the
// container's limit instead of letting GOGC's doubling reach the OOM
// killer. Below it the GC percent (gcPercent) governs: at 10k Ingresses
// the live heap is about 70 MiB and the limit the chart sets is 512 MiB.
func applyMemoryLimit(limit int64) int64 {
	if p := gcPercent(os.Getenv("GOGC")); p >= 0 {
		debug.SetGCPercent(p)
	}
	soft := softMemoryLimit(limit, os.Getenv("GOMEMLIMIT"))
	if soft > 0 {
		debug.SetMemoryLimit(soft)
	}
	return soft
}
