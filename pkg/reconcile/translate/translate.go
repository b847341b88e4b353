package translate

import (
	"cmp"
	"slices"
	"sort"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/baton-dev/baton/pkg/api/v1alpha1"
	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

// Input is everything Translate reads: the controller's identity and the
// cached objects of every watched kind, in any order.
type Input struct {
	// ControllerName is the IngressClass spec.controller Baton answers to,
	// such as "baton.dev/ingress-controller".
	ControllerName string
	// ClassName, when set, restricts Baton to the IngressClass of that name,
	// so two Baton installations can share one controller name.
	ClassName string
	// DefaultTLSSecret is served when no certificate matches SNI.
	DefaultTLSSecret *types.NamespacedName
	// LastGoodCertificates are the certificates the previous translation
	// served, by Secret (Output.GoodCertificates of that call). When one of
	// these Secrets is missing or invalid, its entry is served instead, with
	// a warning. Hosts are ignored. Translate does not modify the map.
	LastGoodCertificates map[types.NamespacedName]snapshot.Certificate
	// DefaultBackendService, when set, serves the hosts no Ingress names
	// instead of the oldest rule-less Ingress's defaultBackend.
	DefaultBackendService *DefaultBackendService
	// AllowLoopbackEndpoints lets Upstream and EndpointSlice endpoints be
	// loopback addresses, which are otherwise refused (see AllowLoopbackFlag);
	// for development only, since a loopback endpoint reaches Baton's own
	// host. Link-local, unspecified, multicast and broadcast addresses are
	// refused regardless.
	AllowLoopbackEndpoints bool

	IngressClasses []networkingv1.IngressClass
	Ingresses      []networkingv1.Ingress
	Services       []corev1.Service
	EndpointSlices []discoveryv1.EndpointSlice
	Secrets        []corev1.Secret
	Upstreams      []v1alpha1.Upstream
}

// Output is the snapshot to serve and what to report on each object.
type Output struct {
	// Snapshot has Version 0; the caller numbers snapshots.
	Snapshot *snapshot.Snapshot
	// Ingresses has one result per Ingress of our class, sorted by
	// namespace/name. Ingresses of other classes are absent.
	Ingresses IngressResults
	// Upstreams has one result per Upstream, sorted by namespace/name.
	Upstreams []UpstreamResult
	// Warnings concern no single Ingress or Upstream (the default
	// certificate); the caller logs them.
	Warnings []Warning
	// GoodCertificates holds, by Secret, every certificate this
	// translation serves (Hosts empty): loaded from its Secret, or kept
	// from Input.LastGoodCertificates. Secrets no Ingress of our class (nor
	// the default certificate) uses any more are absent, so passing this
	// map back as the next LastGoodCertificates also forgets them.
	GoodCertificates map[types.NamespacedName]snapshot.Certificate
}

// Warning is one problem, meant for a Kubernetes Event of type Warning.
type Warning struct {
	Reason  string
	Message string
}

// IngressResult reports on one Ingress. Ingress v1 has no status
// conditions, so the caller turns Conditions and Warnings into Events.
type IngressResult struct {
	Key        types.NamespacedName
	Generation int64
	// Conditions are Accepted and ResolvedRefs, LastTransitionTime zero.
	Conditions []metav1.Condition
	Warnings   []Warning
}

// UpstreamResult reports on one Upstream.
type UpstreamResult struct {
	Key types.NamespacedName
	// Status is the complete status to write; its conditions have a zero
	// LastTransitionTime (see the package documentation).
	Status   v1alpha1.UpstreamStatus
	Warnings []Warning
}

// Translate builds the routing snapshot and the per-object results.
func Translate(in Input) Output {
	return translate(in, nil)
}

// translate is Translate, reusing what cache (if not nil) holds.
func translate(in Input, cache *Cache) Output {
	t := newTranslator(in, cache)
	upstreams := t.translateUpstreams(in.Upstreams)
	ingresses := ourIngresses(in)
	results := make([]IngressResult, 0, len(ingresses))
	for _, ing := range ingresses {
		results = append(results, t.translateIngress(planIngress(ing)))
	}
	slices.SortFunc(results, func(a, b IngressResult) int {
		return cmp.Or(cmp.Compare(a.Key.Namespace, b.Key.Namespace), cmp.Compare(a.Key.Name, b.Key.Name))
	})
	return Output{
		Snapshot:  t.snapshot(),
		Ingresses: NewIngressResults(results),
		Upstreams: upstreams,
		Warnings:  t.warnings,

		GoodCertificates: t.good,
	}
}

// translator accumulates the snapshot while Ingresses are visited oldest
// first; the first claim on a host+path, TLS host or the default backend
// wins.
type translator struct {
	idx   *index
	cache *Cache // nil for a one-off translation
	// services holds this translation's resolved Service ports.
	services map[servicePortRef]*serviceUse

	// built holds every Upstream CR already translated, by object key.
	built map[types.NamespacedName]builtUpstream
	// used holds the upstreams routes refer to, by snapshot name.
	used map[string]*snapshot.Upstream

	routes     map[string][]snapshot.Route
	routeOwner map[routeKey]string
	// hostOwner is the namespace of the oldest Ingress naming each host
	// ("" for rules without a host); only it may set the host's default
	// backend, kept in hostDefaults.
	hostOwner      map[string]string
	hostDefaults   map[string]hostDefault
	defaultService *DefaultBackendService
	tlsOwner       map[string]tlsClaim
	certs          map[string]*snapshot.Certificate
	certCache      map[types.NamespacedName]cachedCert
	lastGood       map[types.NamespacedName]snapshot.Certificate
	good           map[types.NamespacedName]snapshot.Certificate
	defaultOwner   string
	defaultRoute   *snapshot.Route
	defaultCert    *snapshot.Certificate
	warnings       []Warning
}

type builtUpstream struct {
	upstream snapshot.Upstream
	ready    metav1.Condition
}

func newTranslator(in Input, cache *Cache) *translator {
	t := newPartTranslator(newIndex(in), &in, cache, len(in.Ingresses))
	t.defaultCertificate(in.DefaultTLSSecret)
	t.useDefaultService(in.DefaultBackendService)
	return t
}

// newPartTranslator translates some of in's Ingresses, about n, looking
// objects up in idx; it neither loads the default certificate nor routes
// the default backend Service.
func newPartTranslator(idx *index, in *Input, cache *Cache, n int) *translator {
	return &translator{
		idx:      idx,
		cache:    cache,
		services: map[servicePortRef]*serviceUse{},
		built:    map[types.NamespacedName]builtUpstream{},
		used:     map[string]*snapshot.Upstream{},
		// Sized for one host and two paths per Ingress: growing maps of
		// thousands of entries was a tenth of a rebuild.
		routes:     make(map[string][]snapshot.Route, n),
		routeOwner: make(map[routeKey]string, 2*n),
		hostOwner:  make(map[string]string, n),

		hostDefaults:   map[string]hostDefault{},
		defaultService: in.DefaultBackendService,
		tlsOwner:       map[string]tlsClaim{},
		certs:          map[string]*snapshot.Certificate{},
		certCache:      map[types.NamespacedName]cachedCert{},
		lastGood:       in.LastGoodCertificates,
		good:           map[types.NamespacedName]snapshot.Certificate{},
	}
}

// translateIngress adds one Ingress's default backend, routes and
// certificates, and reports what could not be used.
func (t *translator) translateIngress(p *ingressPlan) IngressResult {
	r := &report{}
	if p.badFilters != nil {
		r.add(p.badFilters)
	}
	for i := range p.rules {
		t.addRule(p, &p.rules[i], r)
	}
	t.addDefaultBackend(p, r) // after the rules: it needs their hosts
	t.addTLS(p, r)
	return IngressResult{
		Key:        p.key,
		Generation: p.generation,
		Conditions: t.ingressConditions(r, p.generation),
		Warnings:   r.warnings,
	}
}

// snapshot assembles the sorted, immutable result.
func (t *translator) snapshot() *snapshot.Snapshot {
	t.addHostDefaults()
	s := &snapshot.Snapshot{
		Hosts:              t.sortedHosts(),
		DefaultBackend:     t.defaultRoute,
		DefaultCertificate: t.defaultCert,
	}
	for _, u := range t.used {
		s.Upstreams = append(s.Upstreams, *u)
	}
	sort.Slice(s.Upstreams, func(i, j int) bool { return s.Upstreams[i].Name < s.Upstreams[j].Name })
	for _, c := range t.certs {
		sort.Strings(c.Hosts)
		s.Certificates = append(s.Certificates, *c)
	}
	sort.Slice(s.Certificates, func(i, j int) bool { return s.Certificates[i].Source < s.Certificates[j].Source })
	return s
}

func keyOf(obj metav1.Object) types.NamespacedName {
	return types.NamespacedName{Namespace: obj.GetNamespace(), Name: obj.GetName()}
}

func keyLess(a, b types.NamespacedName) bool {
	if a.Namespace != b.Namespace {
		return a.Namespace < b.Namespace
	}
	return a.Name < b.Name
}
