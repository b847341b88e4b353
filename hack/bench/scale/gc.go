package main

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

// gcCycle is when one of Baton's garbage collections ran, from its
// GODEBUG=gctrace=1 line: start to the end of mark termination.
type gcCycle struct{ from, to time.Time }

// gctraceLine is "gc N @S.s P%: STW1+MARK+STW2 ms clock, ...".
var gctraceLine = regexp.MustCompile(`^gc \d+ @([\d.]+)s \d+%: ([\d.]+)\+([\d.]+)\+([\d.]+) ms clock`)

// gcCycles parses the gctrace lines of log, timed from the process start.
func gcCycles(log string, start time.Time) []gcCycle {
	var out []gcCycle
	for _, line := range strings.Split(log, "\n") {
		m := gctraceLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		at, _ := strconv.ParseFloat(m[1], 64)
		var ms float64
		for _, part := range m[2:] {
			v, _ := strconv.ParseFloat(part, 64)
			ms += v
		}
		from := start.Add(time.Duration(at * float64(time.Second)))
		out = append(out, gcCycle{from, from.Add(time.Duration(ms * float64(time.Millisecond)))})
	}
	return out
}

// gcShare is how many collections overlapped the traced requests, and how
// many of the requests at or above their p99 started during one (or 2 ms
// before, a request's own length): whether the collector is what sets
// the p99.
func gcShare(t *requestTrace, cycles []gcCycle) (during, slow, slowInGC int) {
	if len(t.start) == 0 {
		return 0, 0, 0
	}
	first, last := t.start[0], t.start[len(t.start)-1]
	for _, c := range cycles {
		if !c.to.Before(first) && !c.from.After(last) {
			during++
		}
	}
	p99 := pct(t.took, 99)
	for i, took := range t.took {
		if took < p99 {
			continue
		}
		slow++
		for _, c := range cycles {
			if !t.start[i].Before(c.from.Add(-2*time.Millisecond)) && !t.start[i].After(c.to) {
				slowInGC++
				break
			}
		}
	}
	return during, slow, slowInGC
}
