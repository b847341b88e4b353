package router

import "testing"

// The routes and expectations below are those of the Gateway API v1.6.3
// conformance tests named after each function, translated by hand the way
// a producer does: one Route per match, Order by rule then match index,
// a rule without a path matching the prefix "/".

func TestConformanceHeaderMatching(t *testing.T) {
	s := snap(host("a.test",
		gwRoute(pfx, "/", "v1", withHeader("version", "one", false), withOrder(0)),
		gwRoute(pfx, "/", "v2", withHeader("version", "two", false), withOrder(10)),
		gwRoute(pfx, "/", "v1", withHeader("version", "two", false), withHeader("color", "orange", false), withOrder(20)),
		gwRoute(pfx, "/", "v1", withHeader("color", "blue", false), withOrder(30)),
		gwRoute(pfx, "/", "v1", withHeader("color", "green", false), withOrder(31)),
		gwRoute(pfx, "/", "v2", withHeader("color", "red", false), withOrder(40)),
		gwRoute(pfx, "/", "v2", withHeader("color", "yellow", false), withOrder(41)),
	))
	runMatchCases(t, s, []matchCase{
		{name: "version one", target: "/", header: []string{"Version", "one"}, want: "v1"},
		{name: "version two", target: "/", header: []string{"Version", "two"}, want: "v2"},
		{name: "two headers beat one", target: "/", header: []string{"Version", "two", "Color", "orange"}, want: "v1"},
		{name: "equal count: the earlier rule", target: "/", header: []string{"Version", "two", "Color", "blue"}, want: "v2"},
		{name: "orange alone", target: "/", header: []string{"Color", "orange"}, want: ""},
		{name: "other header", target: "/", header: []string{"Some-Other-Header", "one"}, want: ""},
		{name: "blue", target: "/", header: []string{"Color", "blue"}, want: "v1"},
		{name: "green", target: "/", header: []string{"Color", "green"}, want: "v1"},
		{name: "red", target: "/", header: []string{"Color", "red"}, want: "v2"},
		{name: "yellow", target: "/", header: []string{"Color", "yellow"}, want: "v2"},
		{name: "purple", target: "/", header: []string{"Color", "purple"}, want: ""},
	})
}

func TestConformanceQueryParamMatching(t *testing.T) {
	q := func(name, value string) routeOpt { return withQuery(name, value, false) }
	h := func(name, value string) routeOpt { return withHeader(name, value, false) }
	s := snap(host("a.test",
		gwRoute(pfx, "/", "v1", q("animal", "whale"), withOrder(0)),
		gwRoute(pfx, "/", "v2", q("animal", "dolphin"), withOrder(10)),
		gwRoute(pfx, "/", "v3", q("animal", "dolphin"), q("color", "blue"), withOrder(20)),
		gwRoute(pfx, "/", "v3", q("ANIMAL", "Whale"), withOrder(21)),
		gwRoute(pfx, "/path1", "v1", q("animal", "whale"), withOrder(30)),
		gwRoute(pfx, "/", "v2", h("version", "one"), q("animal", "whale"), withOrder(40)),
		gwRoute(pfx, "/path2", "v3", h("version", "two"), q("animal", "whale"), withOrder(50)),
		gwRoute(pfx, "/path3", "v1", q("animal", "shark"), withOrder(60)),
		gwRoute(pfx, "/path4", "v1", h("version", "three"), q("animal", "kraken"), withOrder(61)),
		gwRoute(pfx, "/path5", "v1", withOrder(70)),
		gwRoute(pfx, "/", "v2", q("animal", "hydra"), withOrder(80)),
		gwRoute(pfx, "/", "v3", h("version", "four"), withOrder(90)),
	))
	runMatchCases(t, s, []matchCase{
		{name: "whale", target: "/?animal=whale", want: "v1"},
		{name: "dolphin", target: "/?animal=dolphin", want: "v2"},
		{name: "dolphin and blue", target: "/?animal=dolphin&color=blue", want: "v3"},
		{name: "ANIMAL=Whale", target: "/?ANIMAL=Whale", want: "v3"},
		{name: "irrelevant parameter", target: "/?animal=whale&otherparam=irrelevant", want: "v1"},
		{name: "dolphin and yellow", target: "/?animal=dolphin&color=yellow", want: "v2"},
		{name: "blue alone", target: "/?color=blue", want: ""},
		{name: "dog", target: "/?animal=dog", want: ""},
		{name: "whaledolphin", target: "/?animal=whaledolphin", want: ""},
		{name: "no query", target: "/", want: ""},
		{name: "path and query", target: "/path1?animal=whale", want: "v1"},
		{name: "header and query", target: "/?animal=whale", header: []string{"version", "one"}, want: "v2"},
		{name: "path, header and query", target: "/path2?animal=whale", header: []string{"version", "two"}, want: "v3"},
		{name: "first of two matches", target: "/path3?animal=shark", want: "v1"},
		{name: "second of two matches", target: "/path4?animal=kraken", header: []string{"version", "three"}, want: "v1"},
		{name: "shark without its path", target: "/?animal=shark", want: ""},
		{name: "kraken without its header", target: "/path4?animal=kraken", want: ""},
		{name: "a longer path beats a query", target: "/path5?animal=hydra", want: "v1"},
		{name: "a header beats a query", target: "/?animal=hydra", header: []string{"version", "four"}, want: "v3"},
	})
}

func TestConformanceMethodMatching(t *testing.T) {
	m, h := withMethod, func(name, value string) routeOpt { return withHeader(name, value, false) }
	s := snap(host("a.test",
		gwRoute(pfx, "/", "v1", m("POST"), withOrder(0)),
		gwRoute(pfx, "/", "v2", m("GET"), withOrder(10)),
		gwRoute(pfx, "/path1", "v1", m("GET"), withOrder(20)),
		gwRoute(pfx, "/", "v2", h("version", "one"), m("PUT"), withOrder(30)),
		gwRoute(pfx, "/path2", "v3", h("version", "two"), m("POST"), withOrder(40)),
		gwRoute(pfx, "/path3", "v1", m("PATCH"), withOrder(50)),
		gwRoute(pfx, "/path4", "v1", h("version", "three"), m("DELETE"), withOrder(51)),
		gwRoute(pfx, "/path5", "v1", withOrder(60)),
		gwRoute(pfx, "/", "v2", m("PATCH"), withOrder(70)),
		gwRoute(pfx, "/", "v3", h("version", "four"), withOrder(80)),
	))
	runMatchCases(t, s, []matchCase{
		{name: "POST", method: "POST", target: "/", want: "v1"},
		{name: "GET", method: "GET", target: "/", want: "v2"},
		{name: "HEAD", method: "HEAD", target: "/", want: ""},
		{name: "path and method", method: "GET", target: "/path1", want: "v1"},
		{name: "header and method", method: "PUT", target: "/", header: []string{"version", "one"}, want: "v2"},
		{name: "path, header and method", method: "POST", target: "/path2", header: []string{"version", "two"}, want: "v3"},
		{name: "first of two matches", method: "PATCH", target: "/path3", want: "v1"},
		{name: "second of two matches", method: "DELETE", target: "/path4", header: []string{"version", "three"}, want: "v1"},
		{name: "PUT without its header", method: "PUT", target: "/", want: ""},
		{name: "DELETE without its header", method: "DELETE", target: "/path4", want: ""},
		{name: "a longer path beats a method", method: "PATCH", target: "/path5", want: "v1"},
		{name: "a method beats a header", method: "PATCH", target: "/", header: []string{"version", "four"}, want: "v2"},
	})
}

func TestConformancePathMatchOrder(t *testing.T) {
	s := snap(host("a.test",
		gwRoute(exa, "/match", "v1", withOrder(0)),
		gwRoute(exa, "/match/exact", "v2", withOrder(10)),
		gwRoute(exa, "/match/exact/one", "v3", withOrder(20)),
		gwRoute(pfx, "/match/", "v3", withOrder(30)),
		gwRoute(pfx, "/match/prefix/", "v1", withOrder(40)),
		gwRoute(pfx, "/match/prefix/one", "v2", withOrder(50)),
	))
	runMatchCases(t, s, []matchCase{
		{name: "exact three elements", target: "/match/exact/one", want: "v3"},
		{name: "exact two elements", target: "/match/exact", want: "v2"},
		{name: "exact one element", target: "/match", want: "v1"},
		{name: "longest prefix", target: "/match/prefix/one/any", want: "v2"},
		{name: "middle prefix", target: "/match/prefix/any", want: "v1"},
		{name: "shortest prefix", target: "/match/any", want: "v3"},
	})
}
