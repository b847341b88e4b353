package health

import (
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

// fakeElapsed is a monotonic clock the test advances by hand.
type fakeElapsed struct{ ns atomic.Int64 }

func (c *fakeElapsed) now() time.Duration      { return time.Duration(c.ns.Load()) }
func (c *fakeElapsed) advance(d time.Duration) { c.ns.Add(int64(d)) }

func TestPassive(t *testing.T) {
	// Each step is one event followed by the expected Ejected() value.
	// "F" = failed request, "S" = successful request, a duration = time passes.
	type step struct {
		event   string
		ejected bool
	}
	tests := []struct {
		name     string
		failures int
		ejectFor time.Duration
		steps    []step
	}{
		{"ejects after N consecutive failures", 3, time.Minute, []step{
			{"F", false}, {"F", false}, {"F", true}, {"59s", true}, {"1s", false},
		}},
		{"a success breaks the run", 3, time.Minute, []step{
			{"F", false}, {"F", false}, {"S", false}, {"F", false}, {"F", false}, {"F", true},
		}},
		{"one failure after the cool-down re-ejects", 2, 10 * time.Second, []step{
			{"F", false}, {"F", true}, {"10s", false}, {"F", true}, {"9s", true}, {"1s", false},
		}},
		{"a success after the cool-down clears the run", 2, 10 * time.Second, []step{
			{"F", false}, {"F", true}, {"10s", false}, {"S", false}, {"F", false}, {"F", true},
		}},
		{"failures while ejected extend the cool-down", 1, 10 * time.Second, []step{
			{"F", true}, {"5s", true}, {"F", true}, {"9s", true}, {"1s", false},
		}},
		{"zero eject duration means the default", 1, 0, []step{
			{"F", true}, {"9s", true}, {"1s", false},
		}},
		{"failures <= 0 disables ejection", -1, time.Minute, []step{
			{"F", false}, {"F", false}, {"F", false}, {"F", false}, {"F", false}, {"F", false},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var clock fakeElapsed
			clock.advance(time.Hour) // an arbitrary origin
			p := NewPassive(clock.now)
			p.SetLimits(tt.failures, tt.ejectFor)
			for i, s := range tt.steps {
				switch s.event {
				case "F":
					p.Record(true)
				case "S":
					p.Record(false)
				default:
					d, err := time.ParseDuration(s.event)
					if err != nil {
						t.Fatal(err)
					}
					clock.advance(d)
				}
				if got := p.Ejected(); got != s.ejected {
					t.Fatalf("step %d (%s): Ejected() = %v, want %v", i, s.event, got, s.ejected)
				}
			}
		})
	}
}

func TestPassiveRecordReportsTransitionOnce(t *testing.T) {
	var clock fakeElapsed
	p := NewPassive(clock.now)
	p.SetLimits(2, time.Second)
	got := []bool{p.Record(true), p.Record(true), p.Record(true)}
	want := []bool{false, true, false}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Record results = %v, want %v", got, want)
		}
	}
	clock.advance(time.Second)
	if !p.Record(true) {
		t.Fatal("a failure after the cool-down should report a new ejection")
	}
}

func TestPassiveSetLimitsKeepsEjection(t *testing.T) {
	var clock fakeElapsed
	p := NewPassive(clock.now)
	p.SetLimits(1, time.Minute)
	p.Record(true)
	p.SetLimits(5, time.Minute)
	if !p.Ejected() {
		t.Fatal("changing limits readmitted an ejected address")
	}
	p.SetLimits(-1, 0)
	if p.Ejected() {
		t.Fatal("disabling passive health left the address ejected")
	}
}

func TestFailingResponsesFails(t *testing.T) {
	// Which statuses count, per setting: Envoy's consecutive_5xx counts
	// every 5xx, consecutive_gateway_failure only 502-504; nginx by default
	// counts no status at all. 4xx is the client's fault everywhere.
	statuses := []int{200, 204, 301, 404, 429, 499, 500, 501, 502, 503, 504, 505, 599}
	tests := []struct {
		setting FailingResponses
		fails   []int
	}{
		{FailingResponsesServer, []int{500, 501, 502, 503, 504, 505, 599}},
		{FailingResponsesGateway, []int{502, 503, 504}},
		{FailingResponsesNone, nil},
		{"", nil},
	}
	for _, tt := range tests {
		t.Run(string(tt.setting), func(t *testing.T) {
			for _, status := range statuses {
				want := slices.Contains(tt.fails, status)
				if got := tt.setting.Fails(status); got != want {
					t.Errorf("%q.Fails(%d) = %v, want %v", tt.setting, status, got, want)
				}
			}
		})
	}
	if FailingResponses("Sometimes").Valid() || !FailingResponses("").Valid() || !FailingResponsesGateway.Valid() {
		t.Fatal("Valid accepts an unknown setting or refuses a known one")
	}
}

func TestPassiveRecordResponse(t *testing.T) {
	var clock fakeElapsed
	p := NewPassive(clock.now)
	p.SetLimits(2, time.Minute)
	if p.FailingResponses() != FailingResponsesNone {
		t.Fatalf("a new Passive counts %s, want None", p.FailingResponses())
	}
	p.RecordResponse(500)
	p.RecordResponse(500)
	if p.Ejected() {
		t.Fatal("500s ejected an address whose setting counts no response")
	}
	p.SetFailingResponses(FailingResponsesGateway)
	p.RecordResponse(500)
	p.RecordResponse(503)
	if p.Failures() != 1 || p.Ejected() {
		t.Fatalf("GatewayErrors: after 500, 503 the run is %d (want 1), ejected %v", p.Failures(), p.Ejected())
	}
	p.SetFailingResponses(FailingResponsesServer)
	p.RecordResponse(500)
	if !p.Ejected() {
		t.Fatal("ServerErrors: 503 then 500 did not eject at the limit of 2")
	}
	clock.advance(time.Minute)
	p.RecordResponse(404)
	if p.Failures() != 0 || p.Ejected() {
		t.Fatal("a 404 answer is a success and should clear the run")
	}
	p.SetFailingResponses("Sometimes")
	if p.FailingResponses() != FailingResponsesNone {
		t.Fatalf("an unknown setting means %s, want None", p.FailingResponses())
	}
}
