package handoff

import (
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"
)

// Bounds on the load generator, so it can never run away.
const (
	maxRequestsPerWorker = 50_000
	minServedToCount     = 500 // requests a generation must answer before moving on
)

// load keeps a constant number of clients sending requests to one
// loopback address this test opened. Half of them open a fresh connection
// per request, which exercises accept on the shared socket: a failure there
// is never retried. The other half reuse keep-alive connections, which
// exercises the drain; there, a request racing the server's close of an
// idle connection is retried by net/http's Transport, as HTTP/1.1 allows
// for idempotent requests and as any browser does.
type load struct {
	url  string
	stop chan struct{}
	wg   sync.WaitGroup
	once sync.Once

	mu    sync.Mutex
	stats loadStats
}

type loadStats struct {
	total, fresh int
	byPID        map[string]int
	failures     []string
}

func startLoad(addr string, workers int) *load {
	l := &load{url: "http://" + addr + "/", stop: make(chan struct{}), stats: loadStats{byPID: map[string]int{}}}
	for i := range workers {
		fresh := i%2 == 0
		client := &http.Client{
			Timeout:   10 * time.Second,
			Transport: &http.Transport{DisableKeepAlives: fresh, MaxIdleConnsPerHost: 1},
		}
		l.wg.Go(func() { l.work(client, fresh) })
	}
	return l
}

func (l *load) work(client *http.Client, fresh bool) {
	defer client.CloseIdleConnections()
	for range maxRequestsPerWorker {
		select {
		case <-l.stop:
			return
		default:
		}
		pid, err := get(client, l.url)
		l.record(pid, err, fresh)
		if fresh {
			time.Sleep(time.Millisecond) // spares the ephemeral ports (TIME_WAIT)
		}
	}
}

func get(client *http.Client, url string) (pid string, err error) {
	resp, err := client.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK || string(body) != "ok" {
		return "", fmt.Errorf("status %d, body %q", resp.StatusCode, body)
	}
	return resp.Header.Get("X-Served-By"), nil
}

func (l *load) record(pid string, err error, fresh bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stats.total++
	if fresh {
		l.stats.fresh++
	}
	if err != nil {
		mode := "keep-alive"
		if fresh {
			mode = "fresh"
		}
		l.stats.failures = append(l.stats.failures, fmt.Sprintf("%s connection: %v (%#v)", mode, err, err))
		return
	}
	l.stats.byPID[pid]++
}

// waitServedBy returns once pid has answered minServedToCount requests.
func (l *load) waitServedBy(t *testing.T, pid string) {
	t.Helper()
	deadline := time.Now().Add(safety)
	for {
		l.mu.Lock()
		n, failed := l.stats.byPID[pid], len(l.stats.failures)
		l.mu.Unlock()
		if n >= minServedToCount {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pid %s served %d requests (%d failures so far)", pid, n, failed)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// halt stops the clients and returns what they saw; later calls return the same.
func (l *load) halt() loadStats {
	l.once.Do(func() { close(l.stop) })
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stats
}
