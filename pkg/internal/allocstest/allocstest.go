package allocstest

import (
	"runtime"
	"testing"
)

// Bytes is how many bytes the process allocated while f ran.
func Bytes(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// Flat tells whether a cost measured in a cluster ten times larger, large,
// is still about the cost in the smaller one, small: at most twice it,
// plus slack for the fixed overheads that dominate small numbers. Issue
// #10's "work per change follows the change, not the cluster", in bytes.
func Flat(small, large, slack uint64) bool { return large <= 2*small+slack }

// CheckFlat fails t unless Flat(small, large, slack): what, measured
// among sizes[0] and then among sizes[1] (ten times as many), allocated
// small and then large bytes.
func CheckFlat(t testing.TB, what string, sizes [2]string, small, large, slack uint64) {
	t.Helper()
	if !Flat(small, large, slack) {
		t.Errorf("%s allocated %d KiB among %s but %d KiB among %s: it follows the cluster, not the change",
			what, small>>10, sizes[0], large>>10, sizes[1])
	}
}
