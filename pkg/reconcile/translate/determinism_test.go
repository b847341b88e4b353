package translate

import (
	"math/rand/v2"
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/types"

	"github.com/baton-dev/baton/pkg/api/v1alpha1"
)

// everything mixes every feature, conflicts included, so that any order
// dependence shows up somewhere.
func everything() Input {
	full := fullSpec()
	in := input(with(contenders(3, 3), multi(), web("default"), web("a"), h2cService(),
		tlsSecret("default", "cert"), tlsSecret("team-a", "cert"), tlsSecret("team-b", "cert"),
		caSecret("a", "ca", "ca.crt", certPEM),
		upstream("a", "full", full),
		upstream("a", "svc", serviceRef("web", 80, "")),
		upstream("a", "broken", v1alpha1.UpstreamSpec{}),
		ingress("default", "x", 1, rule("a.com", prefix("/api", backend("multi", 90))), tlsFor("cert", "a.com"),
			defaultBackend(backend("web", 80))),
		ingress("team-a", "tls", 1, rule("a.com", exact("/t", backend("web", 80))), tlsFor("cert", "a.com")),
		ingress("team-b", "tls", 1, tlsFor("cert", "a.com", "b.com"), defaultBackend(backend("web", 80))),
		ingress("a", "ups", 2, rule("*.a.com", prefix("/", upstreamBackend("full")), prefix("/svc", upstreamBackend("svc")),
			prefix("/broken", upstreamBackend("broken")), prefix("/none", upstreamBackend("none")))),
		ingress("default", "grpc", 0, rule("", prefix("/grpc", backend("grpc", 80)))),
		ingress("default", "classless", 0, noClass(), rule("c.com", prefix("/", backend("web", 80)))),
	)...)
	in.IngressClasses = append(in.IngressClasses, ingressClass("other", "example.com/other", true))
	in.DefaultTLSSecret = &types.NamespacedName{Namespace: "default", Name: "cert"}
	return in
}

func shuffled(r *rand.Rand, in Input) Input {
	out := in
	out.IngressClasses = shuffle(r, in.IngressClasses)
	out.Ingresses = shuffle(r, in.Ingresses)
	out.Services = shuffle(r, in.Services)
	out.Secrets = shuffle(r, in.Secrets)
	out.Upstreams = shuffle(r, in.Upstreams)
	out.EndpointSlices = shuffle(r, in.EndpointSlices)
	for i := range out.EndpointSlices {
		// Endpoint order inside a slice is content, but meaningless.
		out.EndpointSlices[i].Endpoints = shuffle(r, out.EndpointSlices[i].Endpoints)
	}
	return out
}

func shuffle[T any](r *rand.Rand, s []T) []T {
	c := append([]T(nil), s...)
	r.Shuffle(len(c), func(i, j int) { c[i], c[j] = c[j], c[i] })
	return c
}

func TestSameInputInAnyOrderGivesAnEqualOutput(t *testing.T) {
	in := everything()
	want := Translate(in)
	if len(want.Snapshot.Hosts) < 3 || len(want.Snapshot.Upstreams) < 5 || len(want.Snapshot.Certificates) < 2 {
		t.Fatalf("fixture too small to prove anything: %d hosts, %d upstreams, %d certificates",
			len(want.Snapshot.Hosts), len(want.Snapshot.Upstreams), len(want.Snapshot.Certificates))
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200; i++ {
		got := Translate(shuffled(r, in))
		if !reflect.DeepEqual(got, want) {
			mustEqualJSON(t, "output after shuffle", got, want)
			t.Fatalf("output after shuffle %d is not reflect.DeepEqual (differs in nil/empty or order)", i)
		}
	}
}

func TestInputIsNotModified(t *testing.T) {
	in := everything()
	before := deepCopyInput(in)
	out := Translate(in)
	if !reflect.DeepEqual(in, before) {
		t.Fatal("Translate modified its input")
	}
	// Nor may the snapshot share byte slices with the cached Secrets.
	out.Snapshot.Certificates[0].CertPEM[0] ^= 0xff
	if !reflect.DeepEqual(in, before) {
		t.Fatal("the snapshot's certificate aliases the Secret's data")
	}
}

func deepCopyInput(in Input) Input {
	out := in
	out.IngressClasses = nil
	for _, o := range in.IngressClasses {
		out.IngressClasses = append(out.IngressClasses, *o.DeepCopy())
	}
	out.Ingresses = nil
	for _, o := range in.Ingresses {
		out.Ingresses = append(out.Ingresses, *o.DeepCopy())
	}
	out.Services = nil
	for _, o := range in.Services {
		out.Services = append(out.Services, *o.DeepCopy())
	}
	out.EndpointSlices = nil
	for _, o := range in.EndpointSlices {
		out.EndpointSlices = append(out.EndpointSlices, *o.DeepCopy())
	}
	out.Secrets = nil
	for _, o := range in.Secrets {
		out.Secrets = append(out.Secrets, *o.DeepCopy())
	}
	out.Upstreams = nil
	for _, o := range in.Upstreams {
		out.Upstreams = append(out.Upstreams, *o.DeepCopy())
	}
	return out
}
