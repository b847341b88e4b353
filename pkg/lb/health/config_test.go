package health

import (
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string // substring; empty means valid
	}{
		{"zero is valid", Config{}, ""},
		{"full", Config{Path: "/healthz?x=1", Interval: time.Second, Timeout: time.Second, Healthy: 2, Unhealthy: 3, Host: "a.example"}, ""},
		{"relative path", Config{Path: "healthz"}, "must start with /"},
		{"path with newline", Config{Path: "/a\r\nX: y"}, "whitespace"},
		{"host with slash", Config{Host: "a/b"}, "not a valid host"},
		{"negative interval", Config{Interval: -time.Second}, "must not be negative"},
		{"negative threshold", Config{Unhealthy: -1}, "must not be negative"},
		{"unknown protocol", Config{Protocol: HTTPS + 1}, "protocol 3 is unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate() = %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestConfigWithDefaults(t *testing.T) {
	tests := []struct {
		name string
		in   Config
		want Config
	}{
		{"zero", Config{}, Config{Path: "/", Interval: DefaultInterval, Timeout: DefaultTimeout, Healthy: 1, Unhealthy: 3}},
		{"negative fall back", Config{Path: "hz", Interval: -1, Timeout: -1, Healthy: -1, Unhealthy: -1},
			Config{Path: "/hz", Interval: DefaultInterval, Timeout: DefaultTimeout, Healthy: 1, Unhealthy: 3}},
		{"unknown protocol is HTTP/1.1", Config{Protocol: 7}, Config{Path: "/", Interval: DefaultInterval, Timeout: DefaultTimeout, Healthy: 1, Unhealthy: 3}},
		{"set values kept", Config{Path: "/h", Interval: 2 * time.Second, Timeout: 3 * time.Second, Healthy: 4, Unhealthy: 5, Protocol: HTTPS, Host: "x", GRPC: true, GRPCService: "s"},
			Config{Path: "/h", Interval: 2 * time.Second, Timeout: 3 * time.Second, Healthy: 4, Unhealthy: 5, Protocol: HTTPS, Host: "x", GRPC: true, GRPCService: "s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.in.WithDefaults(); got != tt.want {
				t.Fatalf("WithDefaults() = %+v, want %+v", got, tt.want)
			}
		})
	}
}
