package allocstest

import "testing"

// failRecorder notes a failure instead of reporting it.
type failRecorder struct {
	testing.TB
	failed bool
}

func (r *failRecorder) Helper()               {}
func (r *failRecorder) Errorf(string, ...any) { r.failed = true }

// CheckFlat fails exactly when the larger cluster cost more than twice the
// smaller one plus the slack.
func TestCheckFlat(t *testing.T) {
	for _, tc := range []struct {
		small, large, slack uint64
		fails               bool
	}{
		{100, 200, 0, false},
		{100, 201, 0, true},
		{100, 201, 1, false},
		{0, 64 << 10, 64 << 10, false},
	} {
		r := &failRecorder{TB: t}
		CheckFlat(r, "a change", [2]string{"1", "10"}, tc.small, tc.large, tc.slack)
		if r.failed != tc.fails {
			t.Errorf("CheckFlat(%d, %d, slack %d) failed %v, want %v", tc.small, tc.large, tc.slack, r.failed, tc.fails)
		}
	}
}
