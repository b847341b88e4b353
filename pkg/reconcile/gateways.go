package reconcile

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/baton-dev/baton/pkg/api/v1alpha1"
	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
	"github.com/baton-dev/baton/pkg/reconcile/gateway"
)

// gatewayAPI says which Gateway API kinds the cluster serves. Baton
// translates Gateway API only when GatewayClass, Gateway and HTTPRoute
// are served; GRPCRoute, ReferenceGrant and BackendTLSPolicy each join
// when served. Installing the CRDs later needs a restart.
type gatewayAPI struct {
	enabled, grpc, grants, policies bool
}

// discoverGatewayAPI asks the API server (through the REST mapper, which
// uses discovery) which Gateway API kinds are installed.
func discoverGatewayAPI(mapper meta.RESTMapper, log logr.Logger) (gatewayAPI, error) {
	served := func(kind string) (bool, error) {
		_, err := mapper.RESTMapping(schema.GroupKind{Group: gatewayv1.GroupName, Kind: kind}, gatewayv1.GroupVersion.Version)
		if meta.IsNoMatchError(err) {
			return false, nil
		}
		return err == nil, err
	}
	var api gatewayAPI
	found := map[string]bool{}
	for _, kind := range []string{"GatewayClass", "Gateway", "HTTPRoute", "GRPCRoute", "ReferenceGrant", "BackendTLSPolicy"} {
		ok, err := served(kind)
		if err != nil {
			return api, fmt.Errorf("reconcile: discover Gateway API kind %s: %w", kind, err)
		}
		found[kind] = ok
	}
	api = gatewayAPI{enabled: found["GatewayClass"] && found["Gateway"] && found["HTTPRoute"],
		grpc: found["GRPCRoute"], grants: found["ReferenceGrant"], policies: found["BackendTLSPolicy"]}
	if !api.enabled {
		log.Info("Gateway API is off: its CRDs (GatewayClass, Gateway, HTTPRoute in " + gatewayv1.GroupVersion.String() +
			") are not installed; install them and restart Baton to serve Gateways")
		return api, nil
	}
	log.Info("Gateway API is on", "GRPCRoute", api.grpc, "ReferenceGrant", api.grants, "BackendTLSPolicy", api.policies)
	return api, nil
}

// objects are the kinds to watch for it: the Gateway API kinds served,
// Namespaces (allowedRoutes selectors) and, for BackendTLSPolicy CAs,
// ConfigMaps.
func (api gatewayAPI) objects() []client.Object {
	if !api.enabled {
		return nil
	}
	objs := []client.Object{&gatewayv1.GatewayClass{}, &gatewayv1.Gateway{}, &gatewayv1.HTTPRoute{}, &corev1.Namespace{}}
	if api.grpc {
		objs = append(objs, &gatewayv1.GRPCRoute{})
	}
	if api.grants {
		objs = append(objs, &gatewayv1.ReferenceGrant{})
	}
	if api.policies {
		objs = append(objs, &gatewayv1.BackendTLSPolicy{}, &corev1.ConfigMap{})
	}
	return objs
}

// gatewayCache is the Controller's gateway.Cache (named here so that
// controller.go need not import the gateway package).
type gatewayCache = gateway.Cache

// gatewayLists are the lists input fills for the Gateway API.
type gatewayLists struct {
	classes    gatewayv1.GatewayClassList
	gateways   gatewayv1.GatewayList
	http       gatewayv1.HTTPRouteList
	grpc       gatewayv1.GRPCRouteList
	grants     gatewayv1.ReferenceGrantList
	policies   gatewayv1.BackendTLSPolicyList
	namespaces corev1.NamespaceList
	configMaps corev1.ConfigMapList
}

// gatewaySettings is the gateway.Input of the Controller's options, no
// objects.
func (c *Controller) gatewaySettings() gateway.Input {
	return gateway.Input{
		ControllerName: gatewayv1.GatewayController(c.opts.GatewayControllerName),
		AddressPool:    c.opts.GatewayAddressPool,
		HTTPPorts:      c.opts.GatewayHTTPPorts, HTTPSPorts: c.opts.GatewayHTTPSPorts,
	}
}

// gatewayInput lists the Gateway API objects (the Cache resolves
// backends itself, from the objects of the Ingress side's Input).
func (c *Controller) gatewayInput(ctx context.Context) (gateway.Input, error) {
	var l gatewayLists
	lists := []client.ObjectList{&l.classes, &l.gateways, &l.http, &l.namespaces}
	if c.gatewayAPI.grpc {
		lists = append(lists, &l.grpc)
	}
	if c.gatewayAPI.grants {
		lists = append(lists, &l.grants)
	}
	if c.gatewayAPI.policies {
		lists = append(lists, &l.policies, &l.configMaps)
	}
	for _, list := range lists {
		if err := c.cache.List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
			return gateway.Input{}, fmt.Errorf("list %T: %w", list, err)
		}
	}
	in := c.gatewaySettings()
	in.Namespaces, in.ConfigMaps = l.namespaces.Items, l.configMaps.Items
	in.GatewayClasses, in.Gateways, in.HTTPRoutes, in.GRPCRoutes = l.classes.Items, l.gateways.Items, l.http.Items, l.grpc.Items
	in.ReferenceGrants, in.BackendTLSPolicies = l.grants.Items, l.policies.Items
	return in, nil
}

// withGateways returns s, the Ingress translation's snapshot, with the
// Gateway API translation added: its Gateways, and the upstreams its routes
// use that the Ingress routes do not (an upstream both use has one name and
// the same content, so it is listed once). The result is a new snapshot: s
// belongs to the translate Cache, which hands it out again while no
// Ingress-side object changes. The first translation lists every object;
// later ones read only the objects whose keys the informers reported (see
// translateGateways). While no GatewayClass names our controller (and the
// last translation had nothing of ours), none of that runs, and changes
// are not tracked: the first translation after lists again.
func (c *Controller) withGateways(ctx context.Context, s *snapshot.Snapshot) (*snapshot.Snapshot, *gateway.Output, error) {
	if !c.gatewayAPI.enabled {
		return s, nil, nil
	}
	if c.gatewaysIdle {
		ours, err := c.hasClassOfOurs(ctx)
		if err != nil || !ours {
			c.gatewayTranslations, c.gatewayJoin = nil, gatewayJoin{}
			c.gatewayChanged.take()
			return s, &gateway.Output{}, err
		}
	}
	out, err := c.translateGateways(ctx)
	if err != nil {
		c.gatewayTranslations, c.gatewayJoin = nil, gatewayJoin{} // start again from a full list
		return nil, nil, err
	}
	c.gatewaysIdle = out.Empty()
	return c.gatewayJoin.join(s, &out), &out, nil
}

// translateGateways lists every object on the first call, and afterwards
// hands the gateway Cache only the objects that changed: one route's
// change costs that route and its Gateway, not every route.
func (c *Controller) translateGateways(ctx context.Context) (gateway.Output, error) {
	if c.gatewayTranslations == nil {
		c.gatewayChanged.take() // the lists below see every change so far
		in, err := c.input(ctx)
		if err != nil {
			return gateway.Output{}, err
		}
		gwIn, err := c.gatewayInput(ctx)
		if err != nil {
			return gateway.Output{}, err
		}
		c.gatewayTranslations = gateway.NewCache()
		return c.gatewayTranslations.Translate(gwIn, &in), nil
	}
	ch, err := c.readGateway(ctx, c.gatewayChanged.take())
	if err != nil {
		return gateway.Output{}, err
	}
	return c.gatewayTranslations.TranslateChanges(c.gatewaySettings(), c.opts.AllowLoopbackEndpoints, &ch), nil
}

// hasClassOfOurs reports whether a GatewayClass names our controller:
// without one, no Gateway, route or policy can be ours. Clusters often
// have the Gateway API installed for another implementation; listing every
// object and resolving every Service on each Ingress change would then
// cost work that grows with the cluster, for nothing.
func (c *Controller) hasClassOfOurs(ctx context.Context) (bool, error) {
	var classes gatewayv1.GatewayClassList
	if err := c.cache.List(ctx, &classes, client.UnsafeDisableDeepCopy); err != nil {
		return false, fmt.Errorf("list GatewayClasses: %w", err)
	}
	for i := range classes.Items {
		if string(classes.Items[i].Spec.ControllerName) == c.opts.GatewayControllerName {
			return true, nil
		}
	}
	return false, nil
}

// joinGateways is s with g's Gateways and upstreams, as a new snapshot.
func joinGateways(s *snapshot.Snapshot, g *gateway.Output) *snapshot.Snapshot {
	var j gatewayJoin
	return j.join(s, g)
}

// gatewayJoin is the last join: the Ingress snapshot and Gateway API
// upstreams it was made of, and the snapshot it made. The next join
// patches that snapshot's upstream list where either side changed and
// says so in its Changes, so that an Ingress change with Gateways present
// costs what it touches, as it does without them.
type gatewayJoin struct {
	ingress   *snapshot.Snapshot
	gatewayUp []snapshot.Upstream
	joined    *snapshot.Snapshot
}

// join is s with g's Gateways and upstreams, as a new snapshot (s belongs
// to the translate Cache, which hands it out again), or the last one when
// neither side changed. An upstream of a name both sides have is the
// Ingress side's: one name, one content (see mergeUpstreams).
func (j *gatewayJoin) join(s *snapshot.Snapshot, g *gateway.Output) *snapshot.Snapshot {
	if j.joined != nil && s == j.ingress && sameSlice(j.gatewayUp, g.Upstreams) && sameSlice(j.joined.Gateways, g.Gateways) {
		return j.joined
	}
	joined := *s
	joined.Gateways = g.Gateways
	joined.Upstreams = nil
	if names, ok := j.ingressChanges(s); ok {
		names = append(names, changedUpstreams(j.gatewayUp, g.Upstreams)...)
		joined.SetUpstreamList(patchJoined(j.joined.UpstreamList(), s, g.Upstreams, names))
		joined.Changes = &snapshot.Changes{Base: j.joined.Version, Hosts: hostChanges(s, j.ingress), Upstreams: names}
	} else {
		joined.SetUpstreamList(snapshot.NewUpstreamList(mergeUpstreams(s.UpstreamSlice(), g.Upstreams)))
		joined.Changes = nil // they do not cover the Gateway API's part
	}
	*j = gatewayJoin{ingress: s, gatewayUp: g.Upstreams, joined: &joined}
	return &joined
}

// ingressChanges are the upstreams s changed since the Ingress snapshot
// of the last join, or false when that is not known: no last join, or s's
// Changes are since another snapshot (or since one without a version).
func (j *gatewayJoin) ingressChanges(s *snapshot.Snapshot) ([]string, bool) {
	switch {
	case j.joined == nil || j.joined.Version == 0:
		return nil, false
	case s == j.ingress: // handed out again: nothing changed
		return nil, true
	case s.Changes == nil || s.Changes.Base == 0 || s.Changes.Base != j.ingress.Version:
		return nil, false
	}
	return slices.Clone(s.Changes.Upstreams), true
}

// hostChanges are the hosts s changed since last, the Ingress snapshot
// ingressChanges accepted.
func hostChanges(s, last *snapshot.Snapshot) []string {
	if s == last {
		return nil
	}
	return s.Changes.Hosts
}

// changedUpstreams names the upstreams in only one of prev and next (both
// sorted by name) or different in the two.
func changedUpstreams(prev, next []snapshot.Upstream) []string {
	if sameSlice(prev, next) {
		return nil
	}
	var names []string
	i, k := 0, 0
	for i < len(prev) || k < len(next) {
		switch {
		case k == len(next) || i < len(prev) && prev[i].Name < next[k].Name:
			names = append(names, prev[i].Name)
			i++
		case i == len(prev) || next[k].Name < prev[i].Name:
			names = append(names, next[k].Name)
			k++
		default:
			if !reflect.DeepEqual(&prev[i], &next[k]) {
				names = append(names, next[k].Name)
			}
			i, k = i+1, k+1
		}
	}
	return names
}

// patchJoined is the last joined list with each named upstream replaced
// by the Ingress side's, else the Gateway API side's (gw, sorted by
// name), else removed.
func patchJoined(list snapshot.UpstreamList, s *snapshot.Snapshot, gw []snapshot.Upstream, names []string) snapshot.UpstreamList {
	for _, name := range names {
		if u, ok, _ := s.FindUpstream(name); ok {
			list = list.Put(*u)
		} else if i, ok := slices.BinarySearchFunc(gw, name, func(u snapshot.Upstream, n string) int { return strings.Compare(u.Name, n) }); ok {
			list = list.Put(gw[i])
		} else {
			list = list.Delete(&snapshot.Upstream{Name: name})
		}
	}
	return list
}

// sameSlice tells whether b is a's very slice.
func sameSlice[T any](a, b []T) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// mergeUpstreams returns ups with the extra ones it lacks (both sorted by
// name), in a new slice: ups is never written. One pass over both: an
// insert per extra upstream would move the rest of the list each time,
// which at 10,000 of each took seconds.
func mergeUpstreams(ups, extra []snapshot.Upstream) []snapshot.Upstream {
	out := make([]snapshot.Upstream, 0, len(ups)+len(extra))
	i := 0
	for _, u := range extra {
		for i < len(ups) && ups[i].Name < u.Name {
			out = append(out, ups[i])
			i++
		}
		if i < len(ups) && ups[i].Name == u.Name {
			continue // the same upstream: one name, one content
		}
		out = append(out, u)
	}
	if len(out) == i { // nothing added
		return slices.Clip(ups)
	}
	return append(out, ups[i:]...)
}

// configMapTransform keeps only the CA bundle a BackendTLSPolicy can
// name: other ConfigMap data is none of Baton's business.
func configMapTransform(obj any) (any, error) {
	cm, ok := obj.(*corev1.ConfigMap)
	if !ok {
		return obj, nil
	}
	cm.ManagedFields = nil
	cm.BinaryData = nil
	if ca, ok := cm.Data[v1alpha1.DefaultCAKey]; ok {
		cm.Data = map[string]string{v1alpha1.DefaultCAKey: ca}
	} else {
		cm.Data = nil
	}
	if _, ok := cm.Annotations[lastApplied]; ok {
		cm.Annotations = maps.Clone(cm.Annotations)
		delete(cm.Annotations, lastApplied)
	}
	return cm, nil
}
