package translate

import (
	"net/netip"
	"strings"
	"testing"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/baton-dev/baton/pkg/api/v1alpha1"
)

// forbiddenCases pairs addresses with the class the address policy gives
// them without the loopback opt-in; "" is an allowed address.
var forbiddenCases = []struct{ addr, class string }{
	{"10.0.0.1", ""},
	{"192.168.1.10", ""},
	{"203.0.113.7", ""},
	{"fd00::1", ""},
	{"2001:db8::1", ""},
	{"::ffff:10.0.0.1", ""},
	{"127.0.0.1", classLoopback},
	{"127.255.255.254", classLoopback},
	{"::1", classLoopback},
	{"::ffff:127.0.0.1", classLoopback},
	{"169.254.169.254", classLinkLocal},
	{"::ffff:169.254.169.254", classLinkLocal},
	{"fe80::1", classLinkLocal},
	{"febf::1", classLinkLocal},
	{"0.0.0.0", classUnspecified},
	{"::", classUnspecified},
	{"::ffff:0.0.0.0", classUnspecified},
	{"224.0.0.1", classMulticast},
	{"239.1.2.3", classMulticast},
	{"ff02::1", classMulticast},
	{"ff05::2", classMulticast},
	{"::ffff:239.1.2.3", classMulticast},
	{"255.255.255.255", classBroadcast},
}

func TestForbiddenClass(t *testing.T) {
	for _, tc := range forbiddenCases {
		addr := netip.MustParseAddr(tc.addr)
		if got := forbiddenClass(addr, false); got != tc.class {
			t.Errorf("%s: class %q, want %q", tc.addr, got, tc.class)
		}
		// The opt-in lets loopback through and nothing else.
		want := tc.class
		if want == classLoopback {
			want = ""
		}
		if got := forbiddenClass(addr, true); got != want {
			t.Errorf("%s with loopback allowed: class %q, want %q", tc.addr, got, want)
		}
	}
}

// TestForbiddenStaticEndpointRefusesTheUpstream: an Upstream naming such an
// address fails closed, as an invalid spec does, with a reason of its own
// and a message naming the address (and the opt-in, when one exists).
func TestForbiddenStaticEndpointRefusesTheUpstream(t *testing.T) {
	for _, tc := range forbiddenCases {
		for _, allow := range []bool{false, true} {
			in := input(upstream("a", "u", static(staticEP("10.0.0.9", 80, 1), staticEP(tc.addr, 80, 1))))
			in.AllowLoopbackEndpoints = allow
			res := findUpstream(t, Translate(in), "a/u")
			class := forbiddenClass(netip.MustParseAddr(tc.addr), allow)
			checkForbiddenStatic(t, tc.addr, allow, class, res)
		}
	}
}

func checkForbiddenStatic(t *testing.T, addr string, allow bool, class string, res UpstreamResult) {
	t.Helper()
	ready, refs := res.Status.Conditions[0], res.Status.Conditions[1]
	if class == "" {
		if ready.Status != metav1.ConditionTrue || res.Status.ReadyEndpoints != 2 {
			t.Errorf("%s (loopback allowed: %v): Ready %+v, %d endpoints; want True with 2", addr, allow, ready, res.Status.ReadyEndpoints)
		}
		return
	}
	if ready.Status != metav1.ConditionFalse || ready.Reason != ReasonForbiddenEndpoint ||
		refs.Status != metav1.ConditionFalse || refs.Reason != ReasonForbiddenEndpoint {
		t.Errorf("%s (loopback allowed: %v): conditions %+v, want Ready and ResolvedRefs False, %s", addr, allow, res.Status.Conditions, ReasonForbiddenEndpoint)
	}
	if len(res.Warnings) != 1 || res.Warnings[0].Reason != ReasonForbiddenEndpoint {
		t.Fatalf("%s: warnings %+v, want one %s", addr, res.Warnings, ReasonForbiddenEndpoint)
	}
	msg := res.Warnings[0].Message
	if !strings.Contains(msg, addr+" ("+class+" address)") || strings.Contains(msg, AllowLoopbackFlag) != (class == classLoopback) {
		t.Errorf("%s: message %q should name the address, its class, and the flag only for loopback", addr, msg)
	}
}

func TestForbiddenSliceAddressesAreDropped(t *testing.T) {
	slice := endpointSlice("a", "svc", "svc-1", map[string]int32{"http": 8080},
		readyEP("10.0.0.1", "127.0.0.1"), readyEP("169.254.169.254"), readyEP("239.1.2.3"))
	v6 := endpointSlice("a", "svc", "svc-2", map[string]int32{"http": 8080}, readyEP("::ffff:127.0.0.1", "fe80::1"))
	v6.AddressType = discoveryv1.AddressTypeIPv6
	objs := []any{service("a", "svc", svcPort("http", 80)), slice, v6,
		upstream("a", "u", serviceRef("svc", 80, "")),
		ingress("a", "i", 0, rule("a.com", prefix("/svc", backend("svc", 80)), prefix("/up", upstreamBackend("u"))))}

	out := Translate(input(objs...))
	mustEqualJSON(t, "snapshot upstreams", endpointAddrs(out), map[string][]string{
		"service/a/svc/80": {"10.0.0.1:8080"}, "upstream/a/u": {"10.0.0.1:8080"}})
	res := findUpstream(t, out, "a/u")
	if c := res.Status.Conditions[0]; c.Status != metav1.ConditionTrue || res.Status.Endpoints != "1/1" {
		t.Errorf("Upstream Ready %+v, endpoints %s; want True, 1/1: what is left is usable", c, res.Status.Endpoints)
	}
	want := "127.0.0.1 (loopback), 169.254.169.254 (link-local), 239.1.2.3 (multicast), ::ffff:127.0.0.1 (loopback), " +
		"fe80::1 (link-local); loopback is allowed only with " + AllowLoopbackFlag
	checkDropWarning(t, "Upstream", res.Warnings, want)
	mustEqualJSON(t, "ingress warnings", reasons(out, "a/i"), []string{ReasonForbiddenEndpoint})
	checkDropWarning(t, "Ingress", out.Ingresses.Slice()[0].Warnings, want)
	for _, c := range out.Ingresses.Slice()[0].Conditions {
		if c.Status != metav1.ConditionTrue {
			t.Errorf("Ingress condition %+v: dropping addresses changes no condition", c)
		}
	}

	in := input(objs...)
	in.AllowLoopbackEndpoints = true
	got := endpointAddrs(Translate(in))["service/a/svc/80"]
	mustEqualJSON(t, "service endpoints with loopback allowed", got, []string{"10.0.0.1:8080", "127.0.0.1:8080"})
}

func TestUpstreamWhoseSliceAddressesAreAllForbiddenIsNotReady(t *testing.T) {
	out := Translate(input(service("a", "svc", svcPort("http", 80)),
		endpointSlice("a", "svc", "svc-1", map[string]int32{"http": 8080}, readyEP("169.254.169.254")),
		upstream("a", "u", serviceRef("svc", 80, ""))))
	c := findUpstream(t, out, "a/u").Status.Conditions[0]
	if c.Status != metav1.ConditionFalse || c.Reason != ReasonForbiddenEndpoint || !strings.Contains(c.Message, "169.254.169.254") {
		t.Errorf("Ready = %+v, want False, %s, naming the address", c, ReasonForbiddenEndpoint)
	}
}

func checkDropWarning(t *testing.T, what string, ws []Warning, list string) {
	t.Helper()
	for _, w := range ws {
		if w.Reason == ReasonForbiddenEndpoint {
			if !strings.HasSuffix(w.Message, "dropped: "+list) {
				t.Errorf("%s warning %q, want it to end with %q", what, w.Message, list)
			}
			return
		}
	}
	t.Errorf("%s warnings %+v: none is %s", what, ws, ReasonForbiddenEndpoint)
}

func TestDropWarningListsFiveAddresses(t *testing.T) {
	f := forbiddenAddresses{}
	for _, a := range []string{"239.0.0.1", "239.0.0.2", "239.0.0.3", "239.0.0.4", "239.0.0.5", "239.0.0.6", "169.254.0.1"} {
		f.add(netip.MustParseAddr(a), forbiddenClass(netip.MustParseAddr(a), false))
	}
	want := "169.254.0.1 (link-local), 239.0.0.1 (multicast), 239.0.0.2 (multicast), 239.0.0.3 (multicast), " +
		"239.0.0.4 (multicast) and 2 more"
	if got := f.describe(); got != want {
		t.Errorf("describe() = %q, want %q", got, want)
	}
}

func TestRetriesAboveTheCRDMaximumAreInvalid(t *testing.T) {
	spec := static(staticEP("10.0.0.1", 80, 1))
	spec.Retries = v1alpha1.MaxRetries + 1
	res := findUpstream(t, Translate(input(upstream("a", "u", spec))), "a/u")
	if c := res.Status.Conditions[0]; c.Reason != v1alpha1.ReasonInvalidSpec || !strings.Contains(c.Message, "retries 11") {
		t.Errorf("Ready = %+v, want InvalidSpec about retries 11", c)
	}
}

// endpointAddrs maps each snapshot upstream to its endpoint addresses.
func endpointAddrs(out Output) map[string][]string {
	m := map[string][]string{}
	for _, u := range out.Snapshot.Upstreams {
		m[u.Name] = []string{}
		for _, e := range u.Endpoints {
			m[u.Name] = append(m[u.Name], e.Address)
		}
	}
	return m
}
