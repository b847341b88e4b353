package cluster

import "testing"

// cleanIptables deletes rules from the machine's built-in chains, shared
// with everything else on it: only jumps into owned chains may match.
func TestJumpToOwned(t *testing.T) {
	for line, want := range map[string]string{
		`1    KUBE-SERVICES  all  --  0.0.0.0/0  0.0.0.0/0  /* kubernetes service portals */`:  "1",
		`12   CNI-HOSTPORT-DNAT  all  --  0.0.0.0/0  0.0.0.0/0  ADDRTYPE match dst-type LOCAL`: "12",
		`2    ACCEPT     all  --  0.0.0.0/0  0.0.0.0/0  /* KUBE-SERVICES */`:                   "",
		`3    DOCKER     all  --  0.0.0.0/0  0.0.0.0/0`:                                        "",
		`num  target     prot opt source               destination`:                            "",
		`Chain PREROUTING (policy ACCEPT)`:                                                     "",
	} {
		if got, _ := jumpToOwned(line); got != want {
			t.Errorf("%q: got %q, want %q", line, got, want)
		}
	}
}
