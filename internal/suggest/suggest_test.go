package suggest

import "testing"

func TestNearest(t *testing.T) {
	known := []string{"target", "start", "unclean.leader.election.enable", "min.insync.replicas"}
	cases := []struct{ name, want string }{
		{"targt", "target"},
		{"unclean.leader.elction.enable", "unclean.leader.election.enable"},
		{"min.isr", ""},
		{"xyz", ""},
	}
	for _, c := range cases {
		if got := Nearest(c.name, known); got != c.want {
			t.Errorf("Nearest(%q) = %q, want %q", c.name, got, c.want)
		}
	}
}
