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
	for range d.burst { // a burst long ago emptied the bucket, which has refilled since
		d.started(time.Now().Add(-10 * time.Hour))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d.Trigger()
	if err := d.Wait(ctx); err != nil {
		t.Fatalf("an isolated change was held back: %v", err)
	}
}

// A few changes in a row (three manifests applied together) are each
// rebuilt at once: with an interval of an hour, any hold would time out.
func TestDebouncerStartsAShortBurstAtOnce(t *testing.T) {
	d := newDebouncer(time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := range rebuildBurst {
		d.Trigger()
		if err := d.Wait(ctx); err != nil {
			t.Fatalf("change %d of a burst of %d was held back: %v", i+1, rebuildBurst, err)
		}
	}
}

// Once the burst is spent, a change is held until a token comes back,
// one interval after the run began, and changes arriving meanwhile join it.
func TestDebouncerBatchesABurstWithABound(t *testing.T) {
	const interval = 40 * time.Millisecond
	d := newDebouncer(interval)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	began := time.Now()
	for range d.burst { // the burst: at once
		d.Trigger()
		if err := d.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	d.Trigger()
	go d.Trigger() // more of the run, while Wait holds
	if err := d.Wait(ctx); err != nil {
		t.Fatalf("a change in a burst was never rebuilt: %v", err)
	}
	if gap := time.Since(began); gap < interval {
		t.Fatalf("%d rebuilds started within %v, want the last at least %v after the first", d.burst+1, gap, interval)
	}
}

// With an hour's interval a change right after a spent burst is still
// held when a short context ends.
func TestDebouncerHoldsAChangeRightAfterABurst(t *testing.T) {
	d := newDebouncer(time.Hour)
	first, cancelFirst := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelFirst()
	for range d.burst {
		d.Trigger()
		if err := d.Wait(first); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	d.Trigger()
	if err := d.Wait(ctx); err == nil {
		t.Fatal("a change right after a spent burst was not held for the interval")
	}
}

// replay runs the build loop's arithmetic on a synthetic clock: changes
// arrive every period from 0 to span, each rebuild takes rebuild and serves
// every change that arrived before it started. It returns the rebuild
// starts and the longest any change waited for one.
func replay(d *debouncer, period, span, rebuild time.Duration) (starts []time.Duration, maxWait time.Duration) {
	epoch := time.Unix(1e9, 0)
	free := time.Duration(0) // when the loop is next free to wait
	for arrival := time.Duration(0); arrival <= span; {
		at := max(free, arrival)
		start := at + max(d.hold(epoch.Add(at)), 0)
		d.started(epoch.Add(start))
		starts = append(starts, start)
		for ; arrival <= start; arrival += period { // all served by this rebuild
			maxWait = max(maxWait, start-arrival)
		}
		free = start + rebuild
		d.rebuilt(rebuild)
	}
	return starts, maxWait
}

// However long and dense the stream, no change waits more than one
// interval plus the rebuild in progress, and after the burst rebuilds
// start at most once per interval.
func TestDebouncerBoundsTheDelayOfAContinuousStream(t *testing.T) {
	const interval, rebuild, span = 20 * time.Millisecond, 2 * time.Millisecond, 5 * time.Second
	for _, period := range []time.Duration{time.Millisecond / 10, time.Millisecond, 5 * time.Millisecond,
		10 * time.Millisecond, 19 * time.Millisecond, 21 * time.Millisecond, 50 * time.Millisecond} {
		d := newDebouncer(interval)
		starts, maxWait := replay(d, period, span, rebuild)
		if maxWait > interval+rebuild {
			t.Errorf("a change every %v: one waited %v, want at most %v", period, maxWait, interval+rebuild)
		}
		for i := d.burst; i < len(starts); i++ {
			if gap := starts[i] - starts[i-d.burst]; gap < interval {
				t.Errorf("a change every %v: rebuilds %d and %d started %v apart, want at least %v", period, i-d.burst, i, gap, interval)
				break
			}
		}
		if limit := d.burst + int(span/interval) + 1; len(starts) > limit {
			t.Errorf("a change every %v: %d rebuilds in %v, want at most %d", period, len(starts), span, limit)
		}
	}
}

// Endpoint churn, 100 changes a second, is batched: at most one rebuild
// per interval after the burst, each taking in the changes since.
func TestDebouncerBatchesChurn(t *testing.T) {
	const interval = 20 * time.Millisecond
	starts, _ := replay(newDebouncer(interval), 10*time.Millisecond, 10*time.Second, time.Millisecond)
	if changes := 1001; len(starts) > changes/2+rebuildBurst {
		t.Fatalf("%d changes in 10 s made %d rebuilds, want at most %d", changes, len(starts), changes/2+rebuildBurst)
	}
}

// A rebuild slower than the interval paces the loop by itself: no hold
// on top of it once the bucket has refilled during the rebuild.
func TestDebouncerAddsNoHoldAfterASlowRebuild(t *testing.T) {
	const interval = 20 * time.Millisecond
	starts, maxWait := replay(newDebouncer(interval), time.Millisecond, time.Second, 3*interval)
	if maxWait > 3*interval {
		t.Fatalf("a change waited %v behind rebuilds of %v", maxWait, 3*interval)
	}
	for i := 1; i < len(starts); i++ {
		if gap := starts[i] - starts[i-1]; gap != 3*interval {
			t.Fatalf("rebuilds %d and %d started %v apart, want back to back (%v)", i-1, i, gap, 3*interval)
		}
	}
}

// The controller's debouncer paces a stream by what rebuilds cost: cheap
// (incremental) rebuilds of a stream of changes start every few
// milliseconds instead of every interval, while rebuilds still take about
// a quarter of the time at most.
func TestPacedDebouncerFollowsCheapRebuilds(t *testing.T) {
	const interval, rebuild, span = 20 * time.Millisecond, time.Millisecond, 5 * time.Second
	starts, maxWait := replay(newPacedDebouncer(interval), time.Millisecond, span, rebuild)
	if want := rebuildCostFactor*rebuild + rebuild; maxWait > want {
		t.Errorf("a change waited %v behind rebuilds of %v, want at most %v", maxWait, rebuild, want)
	}
	if busy := time.Duration(len(starts)) * rebuild; busy > span/rebuildCostFactor+interval {
		t.Errorf("rebuilds of %v took %v of %v, want at most a %dth", rebuild, busy, span, rebuildCostFactor)
	}
}

// A rebuild whose cost times the factor exceeds the interval is paced by
// the interval, as an unpaced debouncer is.
func TestPacedDebouncerKeepsTheIntervalForCostlyRebuilds(t *testing.T) {
	const interval, rebuild = 20 * time.Millisecond, 10 * time.Millisecond
	d := newPacedDebouncer(interval)
	starts, _ := replay(d, time.Millisecond, time.Second, rebuild)
	for i := d.burst; i < len(starts); i++ {
		if gap := starts[i] - starts[i-d.burst]; gap < interval {
			t.Fatalf("rebuilds %d and %d started %v apart, want at least %v", i-d.burst, i, gap, interval)
		}
	}
}

// Wait measures the rebuild as the time since it last returned, which is
// what the build loop spends between two Waits.
func TestPacedDebouncerMeasuresTheRebuild(t *testing.T) {
	const interval, rebuild = 2 * time.Second, 100 * time.Millisecond
	d := newPacedDebouncer(interval)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d.Trigger()
	if err := d.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(rebuild) // stands for the rebuild
	d.Trigger()
	if err := d.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if d.period < rebuildCostFactor*rebuild || d.period >= interval {
		t.Fatalf("token period %v after a rebuild of %v, want %d times it, under %v", d.period, rebuild, rebuildCostFactor, interval)
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
