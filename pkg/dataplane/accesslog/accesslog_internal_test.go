package accesslog

import (
	"testing"
	"time"
)

func TestAppendTimeMatchesTheLayout(t *testing.T) {
	for _, tm := range []time.Time{
		time.Date(2026, 1, 2, 3, 4, 5, 999999999, time.UTC),
		time.Date(999, 12, 31, 23, 59, 59, 0, time.FixedZone("x", -7*3600)),
		time.Unix(0, 0),
	} {
		want := tm.UTC().AppendFormat(nil, "2006-01-02T15:04:05.000Z07:00")
		if got := appendTime(nil, tm); string(got) != string(want) {
			t.Errorf("appendTime(%v) = %s, want %s", tm, got, want)
		}
	}
}
