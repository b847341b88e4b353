package main

import "testing"

// TestMemoryLimitFlag: --memory-limit (the container's limit, from the
// downward API) becomes a soft limit a tenth below it, unless GOMEMLIMIT
// was set by hand; no limit leaves the runtime alone.
func TestMemoryLimitFlag(t *testing.T) {
	cfg, err := parseFlags([]string{"--memory-limit=536870912"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		limit      int64
		gomemlimit string
		want       int64
	}{
		{cfg.memoryLimit, "", 483183819}, // 512 MiB → 460.8 MiB
		{cfg.memoryLimit, "300MiB", 0},
		{0, "", 0},
	}
	for _, tt := range tests {
		if got := softMemoryLimit(tt.limit, tt.gomemlimit); got != tt.want {
			t.Errorf("limit %d, GOMEMLIMIT %q: soft limit %d, want %d", tt.limit, tt.gomemlimit, got, tt.want)
		}
	}
	if _, err := parseFlags([]string{"--memory-limit=-1"}); err == nil {
		t.Error("--memory-limit=-1 accepted")
	}
}

// TestGCPercent: without GOGC Baton collects at 75% growth, which keeps
// RSS at 10k Ingresses under issue 10's 200 MiB; GOGC, even "off", wins.
func TestGCPercent(t *testing.T) {
	for gogc, want := range map[string]int{"": 75, "100": -1, "off": -1} {
		if got := gcPercent(gogc); got != want {
			t.Errorf("GOGC %q: GC percent %d, want %d", gogc, got, want)
		}
	}
}
