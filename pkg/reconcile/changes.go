package reconcile

import (
	"context"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/baton-dev/baton/pkg/api/v1alpha1"
	"github.com/baton-dev/baton/pkg/reconcile/translate"
)

// changedKeys collects the keys of the objects the informers saw change
// since the last rebuild, so that a rebuild reads those objects only
// instead of listing every object of every kind.
type changedKeys struct {
	mu   sync.Mutex
	keys map[changedKey]bool
}

type changedKey struct {
	kind string // a watchedObjects kind, as kindOf names it
	key  types.NamespacedName
}

func (c *changedKeys) add(kind string, obj any) {
	if d, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	o, ok := obj.(client.Object)
	if !ok {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.keys == nil {
		c.keys = map[changedKey]bool{}
	}
	c.keys[changedKey{kind, client.ObjectKeyFromObject(o)}] = true
}

// take returns the keys collected so far and starts a new collection.
func (c *changedKeys) take() map[changedKey]bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	keys := c.keys
	c.keys = nil
	return keys
}

func kindOf(obj client.Object) string { return fmt.Sprintf("%T", obj) }

// read fetches the objects of keys from the cache, as they are now: a
// key whose object is gone is reported deleted. The cache's objects are
// shared, not copied; translate never modifies them.
func (c *Controller) read(ctx context.Context, keys map[changedKey]bool) (translate.Changes, error) {
	ch := translate.Changes{
		Ingresses: map[types.NamespacedName]*networkingv1.Ingress{}, Services: map[types.NamespacedName]*corev1.Service{},
		EndpointSlices: map[types.NamespacedName]*discoveryv1.EndpointSlice{}, Secrets: map[types.NamespacedName]*corev1.Secret{},
		Upstreams: map[types.NamespacedName]*v1alpha1.Upstream{},
	}
	for k := range keys {
		var err error
		switch k.kind {
		case kindOf(&networkingv1.Ingress{}):
			err = get(ctx, c.cache, k.key, ch.Ingresses)
		case kindOf(&corev1.Service{}):
			err = get(ctx, c.cache, k.key, ch.Services)
		case kindOf(&discoveryv1.EndpointSlice{}):
			err = get(ctx, c.cache, k.key, ch.EndpointSlices)
		case kindOf(&corev1.Secret{}):
			err = get(ctx, c.cache, k.key, ch.Secrets)
		case kindOf(&v1alpha1.Upstream{}):
			err = get(ctx, c.cache, k.key, ch.Upstreams)
		}
		if err != nil {
			return ch, err
		}
	}
	return ch, nil
}

func get[T any, P interface {
	*T
	client.Object
}](ctx context.Context, r client.Reader, key types.NamespacedName, into map[types.NamespacedName]P) error {
	obj := P(new(T))
	err := r.Get(ctx, key, obj, client.UnsafeDisableDeepCopy)
	switch {
	case apierrors.IsNotFound(err):
		into[key] = nil
	case err != nil:
		return fmt.Errorf("get %T %s: %w", obj, key, err)
	default:
		into[key] = obj
	}
	return nil
}
