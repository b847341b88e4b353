package reconcile

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/baton-dev/baton/pkg/api/v1alpha1"
)

func TestDebouncerCoalescesABurst(t *testing.T) {
	d := newDebouncer(20 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for range 50 {
		d.Trigger()
	}
	if err := d.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-d.kick:
		t.Fatal("a burst delivered before Wait left a second notification")
	default:
	}
}

func TestDebouncerRemembersChangesDuringARebuild(t *testing.T) {
	d := newDebouncer(time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d.Trigger()
	if err := d.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	d.Trigger() // arrives while the caller rebuilds
	if err := d.Wait(ctx); err != nil {
		t.Fatalf("the change made during the rebuild was lost: %v", err)
	}
}

func TestDebouncerMaxDelayUnderAConstantStream(t *testing.T) {
	d := newDebouncer(30 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stop := make(chan struct{})
	defer close(stop)
	d.Trigger()
	go func() { // a change every 5ms would postpone a pure quiet-period wait forever
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
				d.Trigger()
			}
		}
	}()
	if err := d.Wait(ctx); err != nil {
		t.Fatalf("Wait never returned under a constant stream: %v", err)
	}
}

// An isolated change after a quiet spell must not wait for a debounce
// period: with an interval of an hour, waiting at all would time out.
func TestDebouncerAppliesAnIsolatedChangeAtOnce(t *testing.T) {
	d := newDebouncer(time.Hour)
	d.lastStart = time.Now().Add(-2 * time.Hour) // the last rebuild was long ago
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d.Trigger()
	if err := d.Wait(ctx); err != nil {
		t.Fatalf("an isolated change was held back: %v", err)
	}
}

// A change right after a rebuild started is held until one interval after
// that start, and the changes that arrive meanwhile join it.
func TestDebouncerBatchesABurstWithABound(t *testing.T) {
	const interval = 40 * time.Millisecond
	d := newDebouncer(interval)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d.Trigger()
	if err := d.Wait(ctx); err != nil { // first change: at once
		t.Fatal(err)
	}
	first := d.lastStart
	d.Trigger()
	go d.Trigger() // more of the burst, while Wait holds
	if err := d.Wait(ctx); err != nil {
		t.Fatalf("a change in a burst was never rebuilt: %v", err)
	}
	if gap := d.lastStart.Sub(first); gap < interval {
		t.Fatalf("two rebuilds of one burst started %v apart, want at least %v", gap, interval)
	}
}

// With an hour's interval a change right after a rebuild is still held
// when a short context ends.
func TestDebouncerHoldsAChangeRightAfterARebuild(t *testing.T) {
	d := newDebouncer(time.Hour)
	first, cancelFirst := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelFirst()
	d.Trigger()
	if err := d.Wait(first); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	d.Trigger()
	if err := d.Wait(ctx); err == nil {
		t.Fatal("a change right after a rebuild was not held for the interval")
	}
}

func TestDebouncerStopsWithContext(t *testing.T) {
	d := newDebouncer(time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := d.Wait(ctx); err == nil {
		t.Fatal("Wait returned nil on a cancelled context")
	}
	d.Trigger()
	if err := d.Wait(ctx); err == nil {
		t.Fatal("Wait returned nil on a cancelled context after a change")
	}
}

func TestRelevantUpdate(t *testing.T) {
	meta := func(rv string, gen int64, ann map[string]string) metav1.ObjectMeta {
		return metav1.ObjectMeta{ResourceVersion: rv, Generation: gen, Annotations: ann}
	}
	class := map[string]string{"kubernetes.io/ingress.class": "baton"}
	tests := []struct {
		name     string
		old, new any
		want     bool
	}{
		{"resync of an unchanged object", &corev1.Secret{ObjectMeta: meta("1", 0, nil)}, &corev1.Secret{ObjectMeta: meta("1", 0, nil)}, false},
		{"secret data change", &corev1.Secret{ObjectMeta: meta("1", 0, nil)}, &corev1.Secret{ObjectMeta: meta("2", 0, nil)}, true},
		{"service status change", &corev1.Service{ObjectMeta: meta("1", 1, nil)}, &corev1.Service{ObjectMeta: meta("2", 1, nil)}, true},
		{"ingress status only", &networkingv1.Ingress{ObjectMeta: meta("1", 1, nil)}, &networkingv1.Ingress{ObjectMeta: meta("2", 1, nil)}, false},
		{"ingress spec", &networkingv1.Ingress{ObjectMeta: meta("1", 1, nil)}, &networkingv1.Ingress{ObjectMeta: meta("2", 2, nil)}, true},
		{"ingress class annotation", &networkingv1.Ingress{ObjectMeta: meta("1", 1, nil)}, &networkingv1.Ingress{ObjectMeta: meta("2", 1, class)}, true},
		{"upstream status only", &v1alpha1.Upstream{ObjectMeta: meta("1", 3, nil)}, &v1alpha1.Upstream{ObjectMeta: meta("2", 3, nil)}, false},
		{"upstream spec", &v1alpha1.Upstream{ObjectMeta: meta("1", 3, nil)}, &v1alpha1.Upstream{ObjectMeta: meta("2", 4, nil)}, true},
		{"not an object", "a", "b", true},
	}
	for _, tc := range tests {
		if got := relevantUpdate(tc.old, tc.new); got != tc.want {
			t.Errorf("%s: relevantUpdate = %v, want %v", tc.name, got, tc.want)
		}
	}
}
