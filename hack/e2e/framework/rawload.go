package framework

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// RawGet sends one GET on a fresh TCP connection with Connection: close
// and returns the status and the X-Pod header. Nothing retries it: a
// refused, reset or unanswered connection is an error, as it is for a
// client that does not retry (http.Client retries some idempotent
// requests on a reused connection by itself, which would hide a failure).
func RawGet(addr, host, path string, timeout time.Duration) (int, string, error) {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return 0, "", err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		return 0, "", err
	}
	if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", path, host); err != nil {
		return 0, "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return resp.StatusCode, "", err
	}
	return resp.StatusCode, resp.Header.Get("X-Pod"), nil
}

// PacedLoad sends a RawGet every interval, one at a time, until stopped or
// limit requests are sent; anything but a 200 is a failure.
type PacedLoad struct {
	mu       sync.Mutex
	sent     int
	byPod    map[string]int
	failures []string
	stop     chan struct{}
	done     chan struct{}
}

// StartPacedLoad starts sending GET /load with Host host to addr.
func StartPacedLoad(addr, host string, interval time.Duration, limit int) *PacedLoad {
	l := &PacedLoad{byPod: map[string]int{}, stop: make(chan struct{}), done: make(chan struct{})}
	go l.run(addr, host, interval, limit)
	return l
}

func (l *PacedLoad) run(addr, host string, interval time.Duration, limit int) {
	defer close(l.done)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	start := time.Now()
	for range limit {
		status, pod, err := RawGet(addr, host, "/load", 5*time.Second)
		l.record(time.Since(start), status, pod, err)
		select {
		case <-l.stop:
			return
		case <-tick.C:
		}
	}
}

func (l *PacedLoad) record(at time.Duration, status int, pod string, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sent++
	if err != nil || status != http.StatusOK {
		l.failures = append(l.failures, fmt.Sprintf("at %v: status %d, %v", at.Round(time.Millisecond), status, err))
		return
	}
	l.byPod[pod]++
}

// Stop ends the load and returns how many requests were sent, how many
// each pod answered, and the failures.
func (l *PacedLoad) Stop() (sent int, byPod map[string]int, failures []string) {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sent, l.byPod, l.failures
}
