package translate

import (
	"iter"
	"slices"

	"k8s.io/apimachinery/pkg/types"
)

// ingressSet is a set of Ingress keys, the value of the Cache's claim and
// dependency indexes. Almost every claim (a host) has one Ingress and
// most Services a few; a map per key cost about 750 bytes for a single
// member (7.5 MiB of the indexes at 10k Ingresses), so the first few
// members are kept in a slice and a map is made only past that.
type ingressSet struct {
	few  []types.NamespacedName
	many map[types.NamespacedName]struct{}
}

// fewIngresses is how many members the slice holds before the set turns
// into a map: beyond it, a linear search per add and remove costs more
// than the map saves.
const fewIngresses = 8

func (s *ingressSet) add(k types.NamespacedName) {
	switch {
	case s.many != nil:
		s.many[k] = struct{}{}
	case slices.Contains(s.few, k):
	case len(s.few) < fewIngresses:
		s.few = append(s.few, k)
	default:
		s.many = make(map[types.NamespacedName]struct{}, 2*fewIngresses)
		for _, m := range s.few {
			s.many[m] = struct{}{}
		}
		s.many[k] = struct{}{}
		s.few = nil
	}
}

func (s *ingressSet) remove(k types.NamespacedName) {
	if s.many != nil {
		delete(s.many, k)
		return
	}
	if i := slices.Index(s.few, k); i >= 0 {
		s.few = slices.Delete(s.few, i, i+1)
	}
}

func (s *ingressSet) len() int {
	if s == nil {
		return 0
	}
	return len(s.few) + len(s.many)
}

// all yields the members; a nil set has none.
func (s *ingressSet) all() iter.Seq[types.NamespacedName] {
	return func(yield func(types.NamespacedName) bool) {
		if s == nil {
			return
		}
		for _, k := range s.few {
			if !yield(k) {
				return
			}
		}
		for k := range s.many {
			if !yield(k) {
				return
			}
		}
	}
}
