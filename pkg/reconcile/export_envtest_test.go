//go:build envtest

package reconcile

import (
	"context"

	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// RunElector runs Baton's Lease elector alone, with lead in place of the
// status writer, until ctx ends.
func RunElector(ctx context.Context, cfg *rest.Config, le LeaderElection, lead func(context.Context) error) error {
	e, err := newElector(cfg, le, lead, ctrl.Log.WithName("leader-"+le.Identity))
	if err != nil {
		return err
	}
	return e.run(ctx)
}

// RebuildBurst is how many rebuilds may start back to back.
const RebuildBurst = rebuildBurst

// CachedObjects reads Baton's own informer cache, as the build loop and
// the status writer do.
func (c *Controller) CachedObjects() client.Reader { return c.cache }
