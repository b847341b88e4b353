package nettest

import (
	"errors"
	"net"
	"syscall"
	"testing"
	"time"
)

func TestRefusedAddrRefuses(t *testing.T) {
	addr := RefusedAddr(t)
	for range 3 {
		_, err := net.Dial("tcp", addr)
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("dial %s: %v, want connection refused", addr, err)
		}
	}
}

func TestBlackholeAddrDropsConnectionAttempts(t *testing.T) {
	addr := BlackholeAddr(t)
	for range 2 {
		start := time.Now()
		_, err := net.DialTimeout("tcp", addr, 300*time.Millisecond)
		if !IsTimeout(err) {
			t.Fatalf("dial %s: %v, want a timeout", addr, err)
		}
		if took := time.Since(start); took < 250*time.Millisecond {
			t.Fatalf("dial %s gave up after %v, before its timeout", addr, took)
		}
	}
}
