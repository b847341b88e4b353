package translate

import (
	"slices"

	networkingv1 "k8s.io/api/networking/v1"
)

// LegacyClassAnnotation is the pre-IngressClass way of naming a class; it
// is honoured only on Ingresses without spec.ingressClassName.
const LegacyClassAnnotation = "kubernetes.io/ingress.class"

// ourIngresses returns the Ingresses Baton serves, oldest first.
func ourIngresses(in Input) []*networkingv1.Ingress {
	classes, isDefault := ourClasses(in)
	var ours []*networkingv1.Ingress
	sorted := sortedObjects(in.Ingresses)
	for i, ing := range sorted {
		// Like byKey, the first of objects sharing a key wins.
		duplicate := i > 0 && keyOf(sorted[i-1]) == keyOf(ing)
		if !duplicate && isOurs(ing, in.ClassName, classes, isDefault) {
			ours = append(ours, ing)
		}
	}
	slices.SortStableFunc(ours, func(a, b *networkingv1.Ingress) int { return compareAge(a, b) })
	return ours
}

// ourClasses returns the names of our IngressClasses and whether one of
// them is the cluster default.
func ourClasses(in Input) (map[string]bool, bool) {
	names := map[string]bool{}
	isDefault := false
	for i := range in.IngressClasses {
		c := &in.IngressClasses[i]
		if c.Spec.Controller != in.ControllerName || in.ControllerName == "" {
			continue
		}
		if in.ClassName != "" && c.Name != in.ClassName {
			continue
		}
		names[c.Name] = true
		if c.Annotations[networkingv1.AnnotationIsDefaultIngressClass] == "true" {
			isDefault = true
		}
	}
	return names, isDefault
}

// isOurs applies the selection rules of the package documentation. The
// legacy annotation predates IngressClass objects, so it also matches the
// configured class name when no such object exists.
func isOurs(ing *networkingv1.Ingress, className string, classes map[string]bool, isDefault bool) bool {
	if name := ing.Spec.IngressClassName; name != nil && *name != "" {
		return classes[*name]
	}
	if name, ok := ing.Annotations[LegacyClassAnnotation]; ok {
		return classes[name] || (className != "" && name == className)
	}
	return isDefault
}
