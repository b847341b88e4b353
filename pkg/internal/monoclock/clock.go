package monoclock

import "time"

// epoch is the process's origin: every Now is epoch plus the monotonic
// time elapsed since, which time.Since reads with one clock read.
var epoch = time.Now()

// Now is the current time for measuring and for deadlines: it carries a
// monotonic reading, so Sub, Since, Until and net.Conn deadlines behave as
// with time.Now. Its wall clock is epoch's plus the elapsed time: it does
// not follow steps of the system clock, so it is not for timestamps shown
// to people (logs).
func Now() time.Time {
	return epoch.Add(time.Since(epoch))
}

// Nanos is the monotonic time in nanoseconds since an arbitrary origin
// fixed for the process: for stamps kept in an atomic.Int64 and compared
// with each other.
func Nanos() int64 {
	return int64(time.Since(epoch))
}

// At is the time t Nanos stands for, as Now would have returned it then.
func At(nanos int64) time.Time {
	return epoch.Add(time.Duration(nanos))
}
