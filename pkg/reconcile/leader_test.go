package reconcile

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// fakeLock succeeds or fails every write as told.
type fakeLock struct {
	resourcelock.Interface // nil: only the methods below are called
	fail                   error
}

func (f *fakeLock) Identity() string { return "me" }
func (f *fakeLock) Create(context.Context, resourcelock.LeaderElectionRecord) error {
	return f.fail
}
func (f *fakeLock) Update(context.Context, resourcelock.LeaderElectionRecord) error {
	return f.fail
}

var mine = resourcelock.LeaderElectionRecord{HolderIdentity: "me"}

// A term lasts RenewDeadline from the start of the last successful
// renewal; failed renewals do not extend it, and a release ends it.
func TestLeaseGuardDeadline(t *testing.T) {
	lock := &fakeLock{}
	g := &leaseGuard{Interface: lock, renewDeadline: time.Hour}
	if !g.deadline().IsZero() {
		t.Fatal("a guard that never acquired has a deadline")
	}
	before := time.Now()
	if err := g.Create(context.Background(), mine); err != nil {
		t.Fatal(err)
	}
	first := g.deadline()
	if first.Before(before.Add(time.Hour)) || first.After(time.Now().Add(time.Hour)) {
		t.Fatalf("deadline %v is not an hour after the acquisition", first)
	}
	lock.fail = errors.New("API server unreachable")
	if err := g.Update(context.Background(), mine); err == nil {
		t.Fatal("the lock's error was swallowed")
	}
	if !g.deadline().Equal(first) {
		t.Fatal("a failed renewal moved the deadline")
	}
	lock.fail = nil
	if err := g.Update(context.Background(), mine); err != nil || !g.deadline().After(first) {
		t.Fatalf("a successful renewal did not extend the deadline: %v", err)
	}
	if err := g.Update(context.Background(), resourcelock.LeaderElectionRecord{}); err != nil || !g.deadline().IsZero() {
		t.Fatalf("a release did not end the term: %v", err)
	}
}

// The leading context ends at the deadline unless a renewal extends it.
// Renewals come at a quarter of the deadline: a loaded machine oversleeps
// by much less than the three quarters left.
func TestLeaseGuardContextEndsWhenRenewalsStop(t *testing.T) {
	const renewDeadline = time.Second
	lock := &fakeLock{}
	g := &leaseGuard{Interface: lock, renewDeadline: renewDeadline}
	if err := g.Update(context.Background(), mine); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := g.leading(context.Background())
	defer cancel()
	start := time.Now()
	for range 8 { // renew for ~2 deadlines
		time.Sleep(renewDeadline / 4)
		if err := g.Update(context.Background(), mine); err != nil {
			t.Fatal(err)
		}
		if ctx.Err() != nil {
			t.Fatalf("term ended after %v although renewals succeed", time.Since(start))
		}
	}
	lock.fail = errors.New("API server unreachable")
	renewedAt := time.Now()
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("term did not end after renewals stopped")
	}
	if waited := time.Since(renewedAt); waited > renewDeadline*3/2 {
		t.Errorf("term ended %v after the last renewal; want about the renew deadline (%v)", waited, renewDeadline)
	}
}

func TestLeaderElectionDefaultsAndLimits(t *testing.T) {
	le, err := LeaderElection{Namespace: "ns", Name: "lease"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if le.LeaseDuration != DefaultLeaseDuration || le.RenewDeadline != DefaultRenewDeadline || le.RetryPeriod != DefaultRetryPeriod {
		t.Errorf("defaults: %+v", le)
	}
	if !strings.Contains(le.Identity, "_") {
		t.Errorf("identity %q is not hostname_uuid", le.Identity)
	}
	for _, bad := range []LeaderElection{
		{Name: "lease"},
		{Namespace: "ns", Name: "lease", LeaseDuration: 3 * time.Second, RenewDeadline: 3 * time.Second},
		{Namespace: "ns", Name: "lease", RenewDeadline: 2 * time.Second, RetryPeriod: 2 * time.Second},
	} {
		if _, err := bad.withDefaults(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
