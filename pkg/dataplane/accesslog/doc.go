// Package accesslog writes one line per request, JSON or key=value text,
// without slowing requests down: the request's goroutine formats its line
// into a pooled buffer (append-style, no reflection) and hands it to a
// single writer goroutine over a bounded queue. When the writer falls
// behind (a slow disk, a blocked pipe), lines are dropped and counted
// rather than making requests wait.
package accesslog
