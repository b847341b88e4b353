// Package v1alpha1 holds the baton.dev/v1alpha1 API: the Upstream custom
// resource, which describes a group of backends richer than a Service can
// (static addresses, load-balancing policy, upstream protocol and TLS, header
// edits, timeouts, retries and health checks).
//
// The package depends on apimachinery only; config/crd is generated from the
// markers here with controller-gen, so a validation rule lives next to the
// field it guards.
//
// +kubebuilder:object:generate=true
// +groupName=baton.dev
package v1alpha1
