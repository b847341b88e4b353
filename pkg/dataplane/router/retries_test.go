package router

import (
	"net/http"
	"testing"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
	"github.com/baton-dev/baton/pkg/internal/nettest"
)

// TestUpstreamRetriesAreHonouredBeyondTwo: an upstream's retries count
// other endpoints after the first, up to the CRD's maximum; the proxy's
// own attempt cap must not cut them short. Smooth weighted round robin on
// a fresh pool tries the five heavy refusing endpoints before the light
// good one, so the good one is the sixth attempt: retries 5 reach it,
// retries 4 must not.
func TestUpstreamRetriesAreHonouredBeyondTwo(t *testing.T) {
	for _, tc := range []struct {
		retries int
		want    int
	}{{5, http.StatusOK}, {4, http.StatusBadGateway}} {
		rig := newProxyRig(t)
		good := newEchoBackend(t, "good")
		u := snapshot.Upstream{Policy: snapshot.PolicyWeighted, Retries: tc.retries,
			Endpoints: []snapshot.Endpoint{{Address: good.addr, Weight: 1}}}
		for range 5 {
			u.Endpoints = append(u.Endpoints, snapshot.Endpoint{Address: nettest.RefusedAddr(t), Weight: 10})
		}
		rig.route(t, "retries.test", u)
		if status, body := rig.get(t, "retries.test", nil); status != tc.want {
			t.Errorf("retries %d: status %d (%q), want %d", tc.retries, status, body, tc.want)
		}
	}
}
