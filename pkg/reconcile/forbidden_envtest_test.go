//go:build envtest

package reconcile_test

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/baton-dev/baton/pkg/api/v1alpha1"
	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
	"github.com/baton-dev/baton/pkg/reconcile"
	"github.com/baton-dev/baton/pkg/reconcile/translate"
)

// TestLoopbackUpstreamIsRefusedWithoutTheOptIn: the CRD accepts a loopback
// endpoint (the schema cannot know the controller's flag), so the
// controller refuses it: Ready False with reason ForbiddenEndpoint, a
// Warning Event naming the address and the flag, and no endpoint in the
// snapshot. With the development opt-in the same Upstream is Ready.
func TestLoopbackUpstreamIsRefusedWithoutTheOptIn(t *testing.T) {
	for _, allow := range []bool{false, true} {
		t.Run(map[bool]string{false: "default", true: "opt-in"}[allow], func(t *testing.T) {
			e := newEnv(t, envOptions{opts: reconcile.Options{AllowLoopbackEndpoints: allow}})
			e.create(&v1alpha1.Upstream{ObjectMeta: metav1.ObjectMeta{Name: "local", Namespace: e.ns}, Spec: v1alpha1.UpstreamSpec{
				Endpoints: []v1alpha1.StaticEndpoint{{Address: "127.0.0.1", Port: 9000}, {Address: "10.244.1.1", Port: 9000}}}})
			if allow {
				e.waitUpstreamStatus("local", 1, metav1.ConditionTrue, v1alpha1.ReasonReady, 2, 2)
				return
			}
			e.waitUpstreamRefused("local", "127.0.0.1")
			ev := e.waitEventAbout("Upstream", "local", translate.ReasonForbiddenEndpoint)
			if ev.Type != corev1.EventTypeWarning || !strings.Contains(ev.Note, "127.0.0.1") ||
				!strings.Contains(ev.Note, translate.AllowLoopbackFlag) {
				t.Errorf("Event = %s %q, want a Warning naming the address and %s", ev.Type, ev.Note, translate.AllowLoopbackFlag)
			}
		})
	}
}

// TestForbiddenSliceAddressIsDropped: the API server refuses loopback
// EndpointSlice addresses but takes multicast ones; Baton drops those and
// says so on the Ingress, keeping the Service's other endpoints.
func TestForbiddenSliceAddressIsDropped(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.create(e.service("web", 80, "http"))
	loopback := e.endpointSlice("web-lo", "web", "http", 8080, []string{"127.0.0.1"})
	if err := e.client.Create(e.ctx, loopback); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("creating an EndpointSlice with 127.0.0.1: error %v, want the API server's refusal", err)
	}
	e.create(e.endpointSlice("web-1", "web", "http", 8080, []string{"10.244.0.1", "239.1.2.3"}))
	e.create(e.ingress("web", e.class, "a.example.com", "/", "web", 80))
	e.sink.waitFor(t, "with only 10.244.0.1 behind web", func(s *snapshot.Snapshot) bool {
		eps := endpointsOf(s, "service/"+e.ns+"/web/80")
		return len(eps) == 1 && eps[0] == "10.244.0.1:8080"
	})
	ev := e.waitEventAbout("Ingress", "web", translate.ReasonForbiddenEndpoint)
	if !strings.Contains(ev.Note, "239.1.2.3 (multicast)") {
		t.Errorf("Event note %q does not name the dropped address", ev.Note)
	}
}

func (e *env) waitUpstreamRefused(name, addr string) {
	e.t.Helper()
	e.eventually("Upstream "+name+" refused", func() (bool, string) {
		var u v1alpha1.Upstream
		if err := e.client.Get(e.ctx, types.NamespacedName{Namespace: e.ns, Name: name}, &u); err != nil {
			return false, err.Error()
		}
		r := meta.FindStatusCondition(u.Status.Conditions, v1alpha1.ConditionReady)
		rr := meta.FindStatusCondition(u.Status.Conditions, v1alpha1.ConditionResolvedRefs)
		ok := r != nil && r.Status == metav1.ConditionFalse && r.Reason == v1alpha1.ReasonForbiddenEndpoint &&
			strings.Contains(r.Message, addr) && rr != nil && rr.Status == metav1.ConditionFalse && u.Status.ReadyEndpoints == 0
		return ok, fmt.Sprintf("status %+v", u.Status)
	})
}
