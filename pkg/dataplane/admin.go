package dataplane

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"syscall"

	"github.com/baton-dev/baton/pkg/dataplane/server"
)

// AdminListener is a side listener (health probes, metrics) that travels
// with the handoff like the ingress listeners. In hostNetwork mode the
// successor shares the node's ports with its predecessor: had it to bind
// these itself, it would fail with "address already in use" until the
// predecessor exited.
type AdminListener struct {
	Name string // unique among all listeners, e.g. "probe", "metrics"
	Addr string
}

// StartAdmin serves Options.AdminListeners at once, before the first
// snapshot, so that liveness is answered while caches sync. A port held by
// a predecessor (only tolerated with a handoff socket) is left for Start
// to take over.
func (d *DataPlane) StartAdmin() error {
	if d.opts.AdminHandler == nil || len(d.opts.AdminListeners) == 0 {
		return nil
	}
	own := make(map[string]net.Listener)
	for _, al := range d.opts.AdminListeners {
		l, err := net.Listen("tcp", al.Addr)
		switch {
		case err == nil:
			own[al.Name] = l
		case errors.Is(err, syscall.EADDRINUSE) && d.opts.HandoffSocket != "":
			d.opts.Logger.Info("admin: listener held by the previous process; taking it over in the handoff",
				slog.String("listener", al.Name), slog.String("addr", al.Addr))
			d.adminPending = append(d.adminPending, al)
		default:
			closeAll(own)
			return fmt.Errorf("admin listener %q: %w", al.Name, err)
		}
	}
	return d.serveAdmin(d.opts.AdminListeners, own, false)
}

// startPendingAdmin serves the admin listeners StartAdmin left to the
// handoff, on the predecessor's sockets if it offered them, else afresh.
func (d *DataPlane) startPendingAdmin(taken map[string]net.Listener) {
	if len(d.adminPending) == 0 {
		return
	}
	if err := d.serveAdmin(d.adminPending, taken, true); err != nil {
		// Serving traffic matters more than probes and metrics.
		d.opts.Logger.Error("admin: serving the listeners taken in the handoff failed", slog.Any("err", err))
	}
	d.adminPending = nil
}

// serveAdmin serves those of wanted that are in socks, or all of wanted
// afresh when fresh is set.
func (d *DataPlane) serveAdmin(wanted []AdminListener, socks map[string]net.Listener, fresh bool) error {
	svc := server.Service{Name: "admin", Handler: d.opts.AdminHandler}
	for _, al := range wanted {
		if socks[al.Name] != nil || fresh {
			svc.Listeners = append(svc.Listeners, server.Listener{Name: al.Name, Addr: al.Addr})
		}
	}
	if len(svc.Listeners) == 0 {
		return nil
	}
	inherited := make(map[string]net.Listener)
	for _, l := range svc.Listeners {
		if s := socks[l.Name]; s != nil {
			inherited[l.Name] = s
		}
	}
	s := server.New(d.serverOptions(inherited), svc)
	if err := s.Start(); err != nil {
		return err
	}
	d.admin = append(d.admin, s)
	return nil
}

// adminNames are the listener names that belong to the admin service.
func (d *DataPlane) adminNames() map[string]bool {
	out := make(map[string]bool, len(d.opts.AdminListeners))
	for _, al := range d.opts.AdminListeners {
		out[al.Name] = true
	}
	return out
}

// split separates taken listeners into the ingress ones and the admin ones
// still pending; taken admin sockets this process already serves on its own
// are closed, not leaked.
func (d *DataPlane) split(taken map[string]net.Listener) (ingress, admin map[string]net.Listener) {
	ingress, admin = make(map[string]net.Listener), make(map[string]net.Listener)
	pending := make(map[string]bool)
	for _, al := range d.adminPending {
		pending[al.Name] = true
	}
	isAdmin := d.adminNames()
	for name, l := range taken {
		switch {
		case pending[name]:
			admin[name] = l
		case isAdmin[name]:
			_ = l.Close()
		default:
			ingress[name] = l
		}
	}
	return ingress, admin
}

func closeAll(ls map[string]net.Listener) {
	for _, l := range ls {
		_ = l.Close()
	}
}
