package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupName is the API group of every Baton resource.
const GroupName = "baton.dev"

// UpstreamKind is the kind an Ingress backend.resource names to select an
// Upstream.
const UpstreamKind = "Upstream"

var (
	// GroupVersion is the group and version of this package's types.
	GroupVersion = schema.GroupVersion{Group: GroupName, Version: "v1alpha1"}

	// SchemeBuilder registers this package's types; built on apimachinery
	// rather than controller-runtime so the API package stays dependency-light.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the types of this group-version to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(scheme *runtime.Scheme) error {
	scheme.AddKnownTypes(GroupVersion, &Upstream{}, &UpstreamList{})
	metav1.AddToGroupVersion(scheme, GroupVersion)
	return nil
}
