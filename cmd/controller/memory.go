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

// applyMemoryLimit makes the collector work harder as the heap nears the
// container's limit instead of letting GOGC's doubling reach the OOM
// killer. Below it GOGC=100 is left alone: at 10k Ingresses the live heap
// is about 80 MiB and the limit the chart sets is 512 MiB.
func applyMemoryLimit(limit int64) int64 {
	soft := softMemoryLimit(limit, os.Getenv("GOMEMLIMIT"))
	if soft > 0 {
		debug.SetMemoryLimit(soft)
	}
	return soft
}
