package translate

import (
	"bytes"
	"maps"
	"reflect"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/types"

	"github.com/baton-dev/baton/pkg/api/v1alpha1"
	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

// group is the translation of Ingresses that share claims (see claimsOf),
// made together in age order as Translate would make them, and kept until
// one of them or an object they read changes.
//
// Its parts are in slices, not maps: most groups are one Ingress, and a
// small map costs several times its content (ten thousand groups of maps
// were 40 MiB).
type group struct {
	members []types.NamespacedName
	// results are in members' order.
	results []IngressResult
	// hosts are the routes of each host the group names, sorted by name.
	hosts []snapshot.VirtualHost
	// certs have the hosts this group serves them for.
	certs []*snapshot.Certificate
	good  []goodCertificate
	// used point into the Cache's resolved Services and Upstreams: a copy
	// per group was 300 bytes an Ingress.
	used []*snapshot.Upstream
	// catchAll is the rule-less Ingresses' default backend, if they won it.
	catchAll *snapshot.Route
}

type goodCertificate struct {
	key  types.NamespacedName
	cert snapshot.Certificate
}

// result is member k's result.
func (g *group) result(k types.NamespacedName) IngressResult {
	return g.results[slices.Index(g.members, k)]
}

// routes are host h's routes.
func (g *group) routes(h string) []snapshot.Route {
	i, _ := slices.BinarySearchFunc(g.hosts, h, func(v snapshot.VirtualHost, h string) int { return strings.Compare(v.Name, h) })
	return g.hosts[i].Routes
}

// cert is the certificate of Source src.
func (g *group) cert(src string) *snapshot.Certificate {
	i := slices.IndexFunc(g.certs, func(c *snapshot.Certificate) bool { return c.Source == src })
	return g.certs[i]
}

// fill takes what t found, for the Ingresses of results.
func (g *group) fill(t *translator) {
	for name, routes := range t.routes {
		g.hosts = append(g.hosts, snapshot.VirtualHost{Name: name, Routes: routes})
	}
	slices.SortFunc(g.hosts, func(a, b snapshot.VirtualHost) int { return strings.Compare(a.Name, b.Name) })
	for _, c := range t.certs {
		g.certs = append(g.certs, c)
	}
	for k, c := range t.good {
		g.good = append(g.good, goodCertificate{k, c})
	}
	for _, u := range t.used {
		g.used = append(g.used, u)
	}
}

// settings are the parts of an Input that, when they change, make every
// Ingress worth translating again.
type settings struct {
	controller, class string
	defaultTLS        types.NamespacedName
	hasDefaultTLS     bool
	defaultService    DefaultBackendService
	hasDefaultService bool
	allowLoopback     bool
	classes           map[string]bool
	isDefault         bool
}

func settingsOf(in *Input) settings {
	s := settings{controller: in.ControllerName, class: in.ClassName, allowLoopback: in.AllowLoopbackEndpoints}
	if in.DefaultTLSSecret != nil {
		s.defaultTLS, s.hasDefaultTLS = *in.DefaultTLSSecret, true
	}
	if in.DefaultBackendService != nil {
		s.defaultService, s.hasDefaultService = *in.DefaultBackendService, true
	}
	s.classes, s.isDefault = ourClasses(*in)
	return s
}

// incremental is a Cache's memory of the last translation.
type incremental struct {
	w        *world
	idx      *index
	settings settings
	lastGood map[types.NamespacedName]snapshot.Certificate
	built    map[types.NamespacedName]builtUpstream

	// plans of our Ingresses, and who claims what and reads what.
	plans  map[types.NamespacedName]*ingressPlan
	claims map[string]*ingressSet
	refs   map[dependency]*ingressSet

	groupOf   map[types.NamespacedName]*group
	hostGroup map[string]*group
	certUsers map[string]map[*group]bool
	upCount   map[string]int
	upValue   map[string]snapshot.Upstream
	goodCount map[types.NamespacedName]int
	goodValue map[types.NamespacedName]snapshot.Certificate
	catchAll  *group
	global    *group // the default backend Service's upstream

	// The last output's sorted lists, patched where groups changed; hosts
	// and upstreams are persistent lists the snapshot shares, and results,
	// handed out as Output.Ingresses, are patched in a copy.
	hosts     snapshot.HostList
	results   IngressResults
	upstreams snapshot.UpstreamList
	certList  []snapshot.Certificate
	snap      *snapshot.Snapshot

	dirty dirtyParts
}

// dirtyParts are the keys of the output lists a call must patch.
type dirtyParts struct {
	hosts     map[string]bool
	results   map[types.NamespacedName]bool
	upstreams map[string]bool
	certs     map[string]bool
}

func newIncremental() *incremental {
	return &incremental{
		w:         newWorld(),
		built:     map[types.NamespacedName]builtUpstream{},
		plans:     map[types.NamespacedName]*ingressPlan{},
		claims:    map[string]*ingressSet{},
		refs:      map[dependency]*ingressSet{},
		groupOf:   map[types.NamespacedName]*group{},
		hostGroup: map[string]*group{},
		certUsers: map[string]map[*group]bool{},
		upCount:   map[string]int{},
		upValue:   map[string]snapshot.Upstream{},
		goodCount: map[types.NamespacedName]int{},
		goodValue: map[types.NamespacedName]snapshot.Certificate{},
		global:    &group{},
	}
}

// translate is Translate(*in), reusing the groups no change touched. It
// returns false for an input holding a key twice.
func (x *incremental) translate(in *Input, c *Cache) (Output, bool) {
	x.w.update(in, c.epoch)
	if x.w.changed.duplicate {
		return Output{}, false
	}
	return x.build(in, in.Upstreams, c), true
}

// build translates the world after an update, given its Upstreams.
func (x *incremental) build(in *Input, upstreamObjects []v1alpha1.Upstream, c *Cache) Output {
	x.dirty = dirtyParts{hosts: map[string]bool{}, results: map[types.NamespacedName]bool{},
		upstreams: map[string]bool{}, certs: map[string]bool{}}
	x.idx = x.w.index(x.idx, in.AllowLoopbackEndpoints)
	g := newPartTranslator(x.idx, in, c, 0)
	g.defaultCertificate(in.DefaultTLSSecret)
	g.useDefaultService(in.DefaultBackendService)
	upstreams := g.translateUpstreams(upstreamObjects)

	changed := x.changedIngresses(in, g.built)
	global := &group{}
	global.fill(g)
	x.replaceGroup(x.global, global)
	x.regroup(x.affected(changed), in, g)
	return Output{
		Snapshot:         x.patch(g),
		Ingresses:        x.patchResults(),
		Upstreams:        upstreams,
		Warnings:         g.warnings,
		GoodCertificates: maps.Clone(x.goodValue),
	}
}

// changedIngresses updates the plans and returns the keys of the Ingresses
// to translate again: those that changed, and those reading an object that
// did.
func (x *incremental) changedIngresses(in *Input, built map[types.NamespacedName]builtUpstream) map[types.NamespacedName]bool {
	s := settingsOf(in)
	everything := !reflect.DeepEqual(s, x.settings)
	x.settings = s
	keys := maps.Clone(x.w.changed.ingresses)
	if everything {
		for k := range x.w.ingresses {
			keys[k] = true
		}
		for k := range x.plans {
			keys[k] = true
		}
	}
	x.addReaders(keys, dependsOnService, x.w.changed.services)
	x.addReaders(keys, dependsOnSecret, x.w.changed.secrets)
	x.addReaders(keys, dependsOnSecret, x.changedLastGood(in.LastGoodCertificates))
	x.addReaders(keys, dependsOnUpstream, x.changedUpstreams(built))
	for k := range keys {
		x.replan(k)
	}
	return keys
}

func (x *incremental) addReaders(keys map[types.NamespacedName]bool, kind dependencyKind, objects map[types.NamespacedName]bool) {
	for k := range objects {
		for ing := range x.refs[dependency{kind, k}].all() {
			keys[ing] = true
		}
	}
}

// changedLastGood are the Secrets whose last good certificate the caller
// passes differs from the one it passed last time.
func (x *incremental) changedLastGood(now map[types.NamespacedName]snapshot.Certificate) map[types.NamespacedName]bool {
	changed := map[types.NamespacedName]bool{}
	for k, c := range now {
		if old, ok := x.lastGood[k]; !ok || !sameCertificate(old, c) {
			changed[k] = true
		}
	}
	for k := range x.lastGood {
		if _, ok := now[k]; !ok {
			changed[k] = true
		}
	}
	x.lastGood = maps.Clone(now)
	return changed
}

func sameCertificate(a, b snapshot.Certificate) bool {
	return bytes.Equal(a.CertPEM, b.CertPEM) && bytes.Equal(a.KeyPEM, b.KeyPEM) && reflect.DeepEqual(a, b)
}

// changedUpstreams are the Upstreams whose translation differs from the
// last call's.
func (x *incremental) changedUpstreams(built map[types.NamespacedName]builtUpstream) map[types.NamespacedName]bool {
	changed := map[types.NamespacedName]bool{}
	for k, b := range built {
		if old, ok := x.built[k]; !ok || !reflect.DeepEqual(old, b) {
			changed[k] = true
		}
	}
	for k := range x.built {
		if _, ok := built[k]; !ok {
			changed[k] = true
		}
	}
	x.built = built
	return changed
}

// replan brings the plan of Ingress k, and the claim and reader indexes,
// up to date with the world.
func (x *incremental) replan(k types.NamespacedName) {
	old := x.plans[k]
	var p *ingressPlan
	if t, ok := x.w.ingresses[k]; ok && isOurs(&t.obj, x.settings.class, x.settings.classes, x.settings.isDefault) {
		p = old
		if p == nil || p.uid != t.obj.UID || p.version != t.obj.ResourceVersion || p.version == "" {
			p = planIngress(&t.obj)
		}
	}
	if p == old {
		return
	}
	if old != nil {
		removeFromIndex(x.claims, old.claims, k)
		removeFromIndex(x.refs, old.deps, k)
		delete(x.plans, k)
	}
	if p != nil {
		addToIndex(x.claims, p.claims, k)
		addToIndex(x.refs, p.deps, k)
		x.plans[k] = p
	}
}

func addToIndex[K comparable](m map[K]*ingressSet, keys []K, ing types.NamespacedName) {
	for _, key := range keys {
		s := m[key]
		if s == nil {
			s = &ingressSet{}
			m[key] = s
		}
		s.add(ing)
	}
}

func removeFromIndex[K comparable](m map[K]*ingressSet, keys []K, ing types.NamespacedName) {
	for _, key := range keys {
		s := m[key]
		if s == nil {
			continue
		}
		s.remove(ing)
		if s.len() == 0 {
			delete(m, key)
		}
	}
}

// affected widens the changed Ingresses to every Ingress whose group they
// were in or share a claim with, transitively.
func (x *incremental) affected(changed map[types.NamespacedName]bool) map[types.NamespacedName]bool {
	set := map[types.NamespacedName]bool{}
	var queue []types.NamespacedName
	add := func(k types.NamespacedName) {
		if !set[k] {
			set[k] = true
			queue = append(queue, k)
		}
	}
	for k := range changed {
		add(k)
	}
	for len(queue) > 0 {
		k := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		if g := x.groupOf[k]; g != nil {
			for _, m := range g.members {
				add(m)
			}
		}
		if p := x.plans[k]; p != nil {
			for _, c := range p.claims {
				for m := range x.claims[c].all() {
					add(m)
				}
			}
		}
	}
	return set
}

// regroup drops the groups of the affected Ingresses and translates them
// again, in new groups.
func (x *incremental) regroup(set map[types.NamespacedName]bool, in *Input, g *translator) {
	for k := range set {
		if old := x.groupOf[k]; old != nil {
			x.removeGroup(old)
		}
		x.dirty.results[k] = true
	}
	done := map[types.NamespacedName]bool{}
	for k := range set {
		if x.plans[k] == nil || done[k] {
			continue
		}
		members := x.connected(k, done)
		x.addGroup(x.translateGroup(members, in, g))
	}
}

// connected returns the plans sharing claims with k's, transitively,
// oldest first, marking them done.
func (x *incremental) connected(k types.NamespacedName, done map[types.NamespacedName]bool) []*ingressPlan {
	var plans []*ingressPlan
	done[k] = true
	queue := []types.NamespacedName{k}
	for len(queue) > 0 {
		p := x.plans[queue[0]]
		queue = queue[1:]
		plans = append(plans, p)
		for _, c := range p.claims {
			for m := range x.claims[c].all() {
				if !done[m] {
					done[m] = true
					queue = append(queue, m)
				}
			}
		}
	}
	slices.SortFunc(plans, comparePlans)
	return plans
}

// translateGroup translates plans as Translate would, sharing g's resolved
// Services and Upstreams.
func (x *incremental) translateGroup(plans []*ingressPlan, in *Input, g *translator) *group {
	t := newPartTranslator(x.idx, in, g.cache, len(plans))
	t.services, t.built, t.lastGood, t.defaultService = g.services, g.built, in.LastGoodCertificates, in.DefaultBackendService
	gr := &group{members: make([]types.NamespacedName, 0, len(plans)), results: make([]IngressResult, 0, len(plans))}
	for _, p := range plans {
		gr.members = append(gr.members, p.key)
		gr.results = append(gr.results, t.translateIngress(p))
	}
	t.addHostDefaults()
	for _, routes := range t.routes {
		slices.SortFunc(routes, func(a, b snapshot.Route) int { return compareRoutes(&a, &b) })
	}
	gr.fill(t)
	if t.defaultOwner != "" {
		gr.catchAll = t.defaultRoute
	}
	return gr
}

func compareRoutes(a, b *snapshot.Route) int {
	switch {
	case routeLess(a, b):
		return -1
	case routeLess(b, a):
		return 1
	}
	return 0
}

func (x *incremental) replaceGroup(old, next *group) {
	x.removeGroup(old)
	*old = *next
	x.addGroup(old)
}

func (x *incremental) addGroup(g *group) {
	for _, k := range g.members {
		x.groupOf[k] = g
	}
	for _, vh := range g.hosts {
		x.hostGroup[vh.Name] = g
		x.dirty.hosts[vh.Name] = true
	}
	for _, c := range g.certs {
		src := c.Source
		if x.certUsers[src] == nil {
			x.certUsers[src] = map[*group]bool{}
		}
		x.certUsers[src][g] = true
		x.dirty.certs[src] = true
	}
	for _, u := range g.used {
		x.upCount[u.Name]++
		x.upValue[u.Name] = *u
		x.dirty.upstreams[u.Name] = true
	}
	for _, gc := range g.good {
		x.goodCount[gc.key]++
		x.goodValue[gc.key] = gc.cert
	}
	if g.catchAll != nil {
		x.catchAll = g
	}
}

func (x *incremental) removeGroup(g *group) {
	for _, k := range g.members {
		if x.groupOf[k] == g {
			delete(x.groupOf, k)
		}
	}
	for _, vh := range g.hosts {
		if x.hostGroup[vh.Name] == g {
			delete(x.hostGroup, vh.Name)
			x.dirty.hosts[vh.Name] = true
		}
	}
	for _, c := range g.certs {
		delete(x.certUsers[c.Source], g)
		x.dirty.certs[c.Source] = true
	}
	for _, u := range g.used {
		if x.upCount[u.Name]--; x.upCount[u.Name] == 0 {
			delete(x.upCount, u.Name)
			delete(x.upValue, u.Name)
		}
		x.dirty.upstreams[u.Name] = true
	}
	for _, gc := range g.good {
		if x.goodCount[gc.key]--; x.goodCount[gc.key] == 0 {
			delete(x.goodCount, gc.key)
			delete(x.goodValue, gc.key)
		}
	}
	if x.catchAll == g {
		x.catchAll = nil
	}
}
