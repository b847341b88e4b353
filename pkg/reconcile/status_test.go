package reconcile

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/baton-dev/baton/pkg/api/v1alpha1"
)

func TestMergeUpstreamStatusKeepsTransitionTimes(t *testing.T) {
	then := metav1.NewTime(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC))
	cur := v1alpha1.UpstreamStatus{ObservedGeneration: 1, Conditions: []metav1.Condition{
		{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: "Ready", LastTransitionTime: then, ObservedGeneration: 1},
		{Type: v1alpha1.ConditionResolvedRefs, Status: metav1.ConditionTrue, Reason: "Resolved", LastTransitionTime: then, ObservedGeneration: 1},
		{Type: "Stale", Status: metav1.ConditionTrue, Reason: "Old", LastTransitionTime: then},
	}}
	next := v1alpha1.UpstreamStatus{ObservedGeneration: 2, ReadyEndpoints: 0, TotalEndpoints: 2, Endpoints: "0/2", Conditions: []metav1.Condition{
		{Type: v1alpha1.ConditionReady, Status: metav1.ConditionFalse, Reason: "NoReadyEndpoints", ObservedGeneration: 2},
		{Type: v1alpha1.ConditionResolvedRefs, Status: metav1.ConditionTrue, Reason: "Resolved", ObservedGeneration: 2},
	}}
	got := mergeUpstreamStatus(cur, next)
	if len(got.Conditions) != 2 {
		t.Fatalf("conditions = %+v, want Ready and ResolvedRefs only", got.Conditions)
	}
	ready, resolved := got.Conditions[0], got.Conditions[1]
	if ready.Status != metav1.ConditionFalse || ready.LastTransitionTime.Equal(&then) || ready.LastTransitionTime.IsZero() {
		t.Errorf("Ready flipped but kept its time: %+v", ready)
	}
	if !resolved.LastTransitionTime.Equal(&then) || resolved.ObservedGeneration != 2 {
		t.Errorf("ResolvedRefs did not flip; want old time and generation 2: %+v", resolved)
	}
	if got.ObservedGeneration != 2 || got.Endpoints != "0/2" || got.TotalEndpoints != 2 {
		t.Errorf("counts or generation not taken from the new status: %+v", got)
	}
	if cur.Conditions[0].Status != metav1.ConditionTrue {
		t.Error("mergeUpstreamStatus modified the cached status")
	}
}
