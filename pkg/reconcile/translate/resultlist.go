package translate

import (
	"cmp"

	"k8s.io/apimachinery/pkg/types"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

// IngressResults are the results of Output.Ingresses, sorted by key, as a
// persistent list: the Cache adds, changes or removes one result of
// 30,000 by copying one chunk of the list instead of all of it (2.6 MB
// per new Ingress). A list handed out is never changed; Put and Delete
// make changed copies.
type IngressResults = snapshot.SortedList[IngressResult, byIngressKey]

// byIngressKey orders results by namespace, then name.
type byIngressKey struct{}

func (byIngressKey) Compare(a, b *IngressResult) int { return compareKeys(a.Key, b.Key) }

func compareKeys(a, b types.NamespacedName) int {
	return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
}

// NewIngressResults is the list of results, which must be sorted by key.
func NewIngressResults(sorted []IngressResult) IngressResults {
	return snapshot.NewSortedList[IngressResult, byIngressKey](sorted)
}

// FindResult is the result of the Ingress key in l, or nil.
func FindResult(l IngressResults, key types.NamespacedName) *IngressResult {
	r, _, _ := l.Find(&IngressResult{Key: key})
	return r
}
