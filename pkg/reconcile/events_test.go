package reconcile

import (
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/types"

	"github.com/baton-dev/baton/pkg/reconcile/translate"
)

func TestWarningEventsAnnounceEachWarningOnce(t *testing.T) {
	ing := types.NamespacedName{Namespace: "ns", Name: "web"}
	up := types.NamespacedName{Namespace: "ns", Name: "api"}
	missing := translate.Warning{Reason: translate.ReasonServiceNotFound, Message: `Service "ns/gone" not found`}
	conflict := translate.Warning{Reason: translate.ReasonRouteConflict, Message: "a.example.com/ is served by ns/old"}
	noEndpoints := translate.Warning{Reason: translate.ReasonNoReadyEndpoints, Message: "no ready endpoints"}
	output := func(ingWarnings ...translate.Warning) *translate.Output {
		return &translate.Output{
			Ingresses: translate.NewIngressResults([]translate.IngressResult{{Key: ing, Warnings: ingWarnings}}),
			Upstreams: []translate.UpstreamResult{{Key: up, Warnings: []translate.Warning{noEndpoints}}},
		}
	}
	var e warningEvents
	steps := []struct {
		name string
		out  *translate.Output
		want []warningKey
	}{
		{"first build announces everything", output(missing, missing), []warningKey{
			{kindIngress, ing, missing.Reason, missing.Message}, {kindUpstream, up, noEndpoints.Reason, noEndpoints.Message}}},
		{"steady state announces nothing", output(missing), nil},
		{"a new warning is announced alone", output(missing, conflict), []warningKey{{kindIngress, ing, conflict.Reason, conflict.Message}}},
		{"a resolved warning is forgotten", output(conflict), nil},
		{"and announced again when it returns", output(conflict, missing), []warningKey{{kindIngress, ing, missing.Reason, missing.Message}}},
	}
	for _, s := range steps {
		if got := e.fresh(s.out, nil); !reflect.DeepEqual(got, s.want) {
			t.Fatalf("%s: got %+v, want %+v", s.name, got, s.want)
		}
	}
	e.forget(warningKey{kindUpstream, up, noEndpoints.Reason, noEndpoints.Message})
	if got := e.fresh(output(conflict, missing), nil); len(got) != 1 || got[0].kind != kindUpstream {
		t.Fatalf("a forgotten warning was not announced again: %+v", got)
	}
}
