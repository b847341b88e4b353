package framework

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// PID is the process id of the running Baton, for reading /proc.
func (b *Baton) PID() int { return b.cmd.Process.Pid }

// ProcessRSS returns the resident set size of a process in bytes, read from
// /proc/<pid>/status (VmRSS is reported in kB).
func ProcessRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("VmRSS of pid %d: %w", pid, err)
		}
		return kb * 1024, nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("pid %d: no VmRSS in /proc status (process gone?)", pid)
}

// Metrics is one scrape of a Prometheus text endpoint, keyed by the series
// exactly as exposed: `name` or `name{label="value",...}`.
type Metrics map[string]float64

// ScrapeMetrics reads http://addr/metrics. Only the plain text exposition
// format is understood, which is what client_golang serves to a client that
// does not ask for protobuf.
func ScrapeMetrics(addr string) (Metrics, error) {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s/metrics: %s", addr, resp.Status)
	}
	return parseMetrics(bufio.NewScanner(resp.Body))
}

func parseMetrics(sc *bufio.Scanner) (Metrics, error) {
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	m := Metrics{}
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		// The value follows the last space; label values may hold spaces
		// but never after the closing brace.
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			return nil, fmt.Errorf("metrics line %q: %w", line, err)
		}
		m[strings.TrimSpace(line[:i])] = v
	}
	return m, sc.Err()
}

// Value returns a series' value and whether it was exposed at all.
func (m Metrics) Value(series string) (float64, bool) {
	v, ok := m[series]
	return v, ok
}

// NetworkPresent tells whether the pod's host-side interface still exists.
// Another e2e run's CleanupStalePods removes every pod network it finds, so
// a soak that shares the machine with one can lose its backends mid-run.
func (p *Pod) NetworkPresent() error {
	if _, err := net.InterfaceByName(p.veth); err != nil {
		return fmt.Errorf("%s: interface %s is gone (removed by another e2e run?): %w", p.Name, p.veth, err)
	}
	return nil
}
