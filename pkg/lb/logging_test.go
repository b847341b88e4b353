package lb

import (
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/internal/logtest"
)

// An ejection and active health transitions are what an operator needs to
// see when traffic avoids a backend: each is one record naming it.
func TestHealthTransitionsAreLogged(t *testing.T) {
	logs := logtest.NewRecorder()
	r := NewRegistry(RegistryOptions{Logger: logs.Logger(), Now: newFakeClock().Now})
	t.Cleanup(r.Close)
	as := addrs(1)
	b := onePool(t, r, PoolConfig{Name: "p", Targets: targets(as...),
		Passive: PassiveConfig{Failures: 2, EjectFor: 30 * time.Second}}).Backends()[0]
	for range 2 {
		b.Begin()
		b.End(true)
	}
	b.setActive(false, errors.New("status 503"))
	b.setActive(true, nil)

	for _, want := range []struct {
		msg   string
		level slog.Level
		attrs map[string]string
	}{
		{"lb: backend ejected after consecutive failures", slog.LevelWarn, map[string]string{"backend": as[0], "failures": "2"}},
		{"lb: backend marked unhealthy by its health check", slog.LevelWarn, map[string]string{"backend": as[0], "err": "status 503"}},
		{"lb: backend passes its health check again", slog.LevelInfo, map[string]string{"backend": as[0]}},
	} {
		rec, ok := logs.Find(want.msg)
		if !ok || rec.Level != want.level {
			t.Errorf("%q: found %v at %v, want it at %v", want.msg, ok, rec.Level, want.level)
			continue
		}
		for k, v := range want.attrs {
			if got := rec.Attrs[k].String(); got != v {
				t.Errorf("%q: %s = %q, want %q", want.msg, k, got, v)
			}
		}
	}
}
