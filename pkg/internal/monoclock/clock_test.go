package monoclock

import (
	"testing"
	"time"
)

func TestNowMeasuresLikeTimeNow(t *testing.T) {
	before := time.Now()
	now := Now()
	after := time.Now()
	if now.Before(before) || now.After(after) {
		t.Fatalf("Now %v outside [%v, %v]", now, before, after)
	}
	if time.Since(now) < 0 || Now().Sub(now) < 0 {
		t.Fatal("Now does not carry a monotonic reading")
	}
	if now.Round(0) == now {
		t.Fatal("Now has no monotonic reading: Round(0) left it unchanged")
	}
}

func BenchmarkNow(b *testing.B) {
	for b.Loop() {
		_ = Now()
	}
}

func BenchmarkTimeNow(b *testing.B) {
	for b.Loop() {
		_ = time.Now()
	}
}
