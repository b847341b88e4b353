package reconcile

import (
	"bytes"
	"fmt"
	"maps"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/baton-dev/baton/pkg/api/v1alpha1"
)

// objectCache is the controller's own informer cache. Owning it, rather
// than using the manager's, keeps the namespace limits and the Secret
// transform in one place whatever options the manager was built with.
// GetCache makes the manager start it with the other caches, before any
// runnable, and wait for it to sync.
type objectCache struct {
	cache.Cache
}

func (c objectCache) GetCache() cache.Cache { return c.Cache }

func newObjectCache(mgr ctrl.Manager, opts Options, api gatewayAPI) (objectCache, error) {
	c, err := cache.New(mgr.GetConfig(), cacheOptions(mgr, opts, api))
	if err != nil {
		return objectCache{}, fmt.Errorf("reconcile: create cache: %w", err)
	}
	return objectCache{c}, nil
}

func cacheOptions(mgr ctrl.Manager, opts Options, api gatewayAPI) cache.Options {
	co := cache.Options{
		HTTPClient:       mgr.GetHTTPClient(),
		Scheme:           mgr.GetScheme(),
		Mapper:           mgr.GetRESTMapper(),
		DefaultTransform: objectTransform,
	}
	// ByObject is keyed by pointer, so each kind must get exactly one entry:
	// two entries for Secret would be merged in map order, and the one
	// without the extra namespace would win at random.
	secrets := cache.ByObject{Transform: secretTransform}
	// Slices not owned by a Service can never be referenced.
	slices := cache.ByObject{Label: hasServiceName(), Transform: sliceTransform}
	co.ByObject = map[client.Object]cache.ByObject{&discoveryv1.EndpointSlice{}: slices}
	if ns := opts.WatchNamespace; ns != "" {
		co.DefaultNamespaces = map[string]cache.Config{ns: {}}
		// The default certificate and the publish Service usually live in
		// the controller's own namespace, not the watched one.
		secrets.Namespaces = namespaces(ns, opts.DefaultTLSSecret)
		var fallback *types.NamespacedName
		if d := opts.DefaultBackendService; d != nil {
			fallback = &d.Key
		}
		co.ByObject[&corev1.Service{}] = cache.ByObject{Namespaces: namespaces(ns, opts.PublishService, fallback)}
		slices.Namespaces = namespaces(ns, fallback)
		co.ByObject[&discoveryv1.EndpointSlice{}] = slices
	}
	co.ByObject[&corev1.Secret{}] = secrets
	if api.policies {
		// Only BackendTLSPolicy reads ConfigMaps (CA bundles); without it
		// Baton neither watches nor needs the right to list them.
		co.ByObject[&corev1.ConfigMap{}] = cache.ByObject{Transform: configMapTransform}
	}
	return co
}

// namespaces is the watched namespace plus those the extras live in.
func namespaces(ns string, extras ...*types.NamespacedName) map[string]cache.Config {
	m := map[string]cache.Config{ns: {}}
	for _, extra := range extras {
		if extra != nil && extra.Namespace != "" {
			m[extra.Namespace] = cache.Config{}
		}
	}
	return m
}

func hasServiceName() labels.Selector {
	req, err := labels.NewRequirement(discoveryv1.LabelServiceName, selection.Exists, nil)
	if err != nil {
		panic(err) // a constant label key is always valid
	}
	return labels.NewSelector().Add(*req)
}

// lastApplied is where kubectl apply keeps the full object, Secret data
// included, in clear text.
const lastApplied = corev1.LastAppliedConfigAnnotation

// objectTransform drops from every cached object what Baton never reads
// and what can be as large as the rest of the object: its managed fields,
// and the copy of the whole object kubectl apply keeps in an annotation.
func objectTransform(obj any) (any, error) {
	o, ok := obj.(client.Object)
	if !ok {
		return obj, nil // tombstones pass through
	}
	o.SetManagedFields(nil)
	if a := o.GetAnnotations(); a[lastApplied] != "" {
		a = maps.Clone(a)
		delete(a, lastApplied)
		o.SetAnnotations(a)
	}
	return obj, nil
}

// sliceTransform is objectTransform, and drops from each endpoint what
// routing never reads: the Pod it is, its node, zone and topology hints,
// about half of what an endpoint holds, times every endpoint of the
// cluster.
func sliceTransform(obj any) (any, error) {
	if s, ok := obj.(*discoveryv1.EndpointSlice); ok {
		for i := range s.Endpoints {
			e := &s.Endpoints[i]
			e.TargetRef, e.NodeName, e.Zone, e.Hints, e.DeprecatedTopology = nil, nil, nil, nil, nil
		}
	}
	return objectTransform(obj)
}

// secretTransform keeps in memory only what Baton can use: the certificate
// and key of kubernetes.io/tls Secrets, and from Secrets of any other type
// only values holding PEM certificates (an Upstream's caSecretRef may name
// an Opaque Secret). Tokens, passwords and Helm releases are dropped as
// they arrive, so a cluster full of them costs little memory and no
// credential Baton does not need sits in its heap. A field selector on
// type=kubernetes.io/tls would be cheaper still, but would hide the CA
// Secrets that Upstreams reference.
func secretTransform(obj any) (any, error) {
	s, ok := obj.(*corev1.Secret)
	if !ok {
		return obj, nil // tombstones pass through
	}
	s.ManagedFields = nil
	if _, ok := s.Annotations[lastApplied]; ok {
		s.Annotations = maps.Clone(s.Annotations)
		delete(s.Annotations, lastApplied)
	}
	s.StringData = nil
	s.Data = keptSecretData(s)
	return s, nil
}

var pemCertificate = []byte("-----BEGIN CERTIFICATE-----")

func keptSecretData(s *corev1.Secret) map[string][]byte {
	var kept map[string][]byte
	for k, v := range s.Data {
		tlsKey := s.Type == corev1.SecretTypeTLS && (k == corev1.TLSCertKey || k == corev1.TLSPrivateKeyKey)
		if !tlsKey && !bytes.Contains(v, pemCertificate) {
			continue
		}
		if kept == nil {
			kept = make(map[string][]byte, len(s.Data))
		}
		kept[k] = v
	}
	return kept
}

// watchedObjects are the kinds whose changes trigger a rebuild.
func watchedObjects() []client.Object {
	return []client.Object{
		&networkingv1.IngressClass{},
		&networkingv1.Ingress{},
		&corev1.Service{},
		&discoveryv1.EndpointSlice{},
		&corev1.Secret{},
		&v1alpha1.Upstream{},
	}
}
