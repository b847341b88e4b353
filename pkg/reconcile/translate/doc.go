// Package translate turns the Kubernetes objects Baton watches into one
// routing snapshot, plus the status and events each object should carry.
//
// Translate is a pure function: no client, no clock, no randomness and no
// dependence on map or input order. The same objects in any order give a
// reflect.DeepEqual result, so the reconciler can call it on every change
// and the table-driven tests need nothing but literals.
//
// Semantics beyond the Ingress v1 API text, decided here:
//
//   - An Ingress is ours when spec.ingressClassName names an IngressClass
//     whose spec.controller is Input.ControllerName (and whose name is
//     Input.ClassName, when that is set). Without ingressClassName the legacy
//     kubernetes.io/ingress.class annotation is honoured when it names one
//     of our classes or Input.ClassName (even with no IngressClass object);
//     an annotation naming another class wins over the default class.
//     Without either, the Ingress is ours when one of our classes carries
//     ingressclass.kubernetes.io/is-default-class: "true".
//   - ImplementationSpecific paths are Prefix paths; an empty
//     ImplementationSpecific path is "/". A Prefix path's trailing slash is
//     dropped ("/a/" is "/a"). Paths that no cleaned request path can match
//     (no leading '/', '?', '#', spaces, "//", dot segments) are refused
//     with an InvalidPath warning, whatever their type.
//   - The oldest Ingress (creationTimestamp, then namespace/name) owns a
//     host+path, a TLS host and the default backend, whether or not its
//     backend resolves. A broken backend therefore never hands its traffic
//     to another tenant's Ingress; its route is dropped instead.
//   - Default backends never cross tenants. The namespace of the oldest
//     Ingress naming a host owns that host's unrouted paths: the
//     defaultBackend of the oldest Ingress of that namespace that names the
//     host serves them, as the host's "/" prefix route (unless an Ingress
//     claims that path), else they answer 404. Only a rule-less Ingress's
//     defaultBackend (the oldest) becomes the catch-all for hosts no Ingress
//     names, and Input.DefaultBackendService (--default-backend-service)
//     replaces it; the data plane serves the catch-all to unnamed hosts only.
//   - Hosts, paths and routes are checked with the data plane's own rules
//     (snapshot.NormaliseHost, snapshot.CheckPath) before anything else:
//     what the data plane would refuse is dropped at its Ingress with a
//     warning, so it can never make a whole snapshot unusable.
//   - A backend whose Service, port or Upstream is missing drops only that
//     route. A Service without ready endpoints, or an Upstream that exists
//     but is not ready, keeps its route: the data plane answers 503.
//   - ExternalName Services are not supported (the data plane dials IP
//     addresses only); use an Upstream with static endpoints instead.
//   - A Service port with appProtocol kubernetes.io/h2c is spoken to with
//     H2C; anything else with HTTP/1.1. HTTPS backends need an Upstream.
//   - A TLS entry without hosts covers the hosts of the Ingress's rules; a
//     TLS entry without secretName is served the default certificate.
//   - A TLS Secret (of an Ingress or the default certificate) that goes
//     missing or invalid keeps serving the certificate last built from it,
//     when the caller passes that in Input.LastGoodCertificates; the
//     warning (SecretNotFound or InvalidSecret, ResolvedRefs False) names
//     the kept certificate's serial and notAfter. Without one the
//     certificate is dropped and its hosts get the default certificate.
//   - References never leave the referring object's namespace.
//   - Endpoint addresses, static or from EndpointSlices, pass one policy
//     (forbiddenClass): never unspecified, multicast, broadcast or
//     link-local (the cloud metadata service); loopback only with
//     Input.AllowLoopbackEndpoints. A forbidden static endpoint fails its
//     Upstream closed (ForbiddenEndpoint); a forbidden slice address is
//     dropped with a ForbiddenEndpoint warning and changes no condition.
//   - Annotations baton.dev/ssl-redirect, rewrite-target, rewrite-host,
//     request-headers and response-headers (annotations.go) give an
//     Ingress's rule paths the snapshot.RouteFilters Gateway API routes
//     have; the data plane has one implementation of them. A bad one is an
//     InvalidAnnotation warning (Accepted False): the Ingress's rule paths
//     stay claimed but are not served. baton.dev/canary gives them the
//     weighted Backends of a Gateway API rule with two backendRefs: the
//     path's own upstream and a canary Service (a dependency of the
//     Ingress, like its backends); a canary Service that cannot be used
//     answers its share with 500 (WeightedBackend.Invalid).
//
// Condition LastTransitionTime is left zero: the status writer merges
// conditions with k8s.io/apimachinery/pkg/api/meta.SetStatusCondition,
// which stamps the time only when a status actually changes.
package translate
