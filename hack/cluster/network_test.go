package cluster

import (
	"strings"
	"testing"
)

// cleanIptables deletes rules from the machine's built-in chains, shared
// with everything else on it: only jumps into owned chains may match.
func TestJumpsToOwned(t *testing.T) {
	for rule, want := range map[string]bool{
		"-A PREROUTING -m comment --comment kubernetes -j KUBE-SERVICES": true,
		"-A POSTROUTING -s 10.88.0.0/24 -g CNI-abc":                      true,
		"-A FORWARD -j ACCEPT":                                           false,
		"-A FORWARD -m comment --comment KUBE-SERVICES -j DOCKER":        false,
		"-A POSTROUTING -j MASQUERADE":                                   false,
	} {
		if got := jumpsToOwned(strings.Fields(rule)); got != want {
			t.Errorf("%q: got %v, want %v", rule, got, want)
		}
	}
}
