package cluster_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tideline-sim/tideline/cluster"
	"github.com/tideline-sim/tideline/explore"
	"github.com/tideline-sim/tideline/runner"
	"github.com/tideline-sim/tideline/scenarios"
)

// Each bug is one line of the kind an implementer writes; exploring the
// baseline with overlapping faults and the protocol monitor must find it
// within a few dozen seeds, by the rule it breaks, before (or without) any
// acknowledged write being lost.
func TestExploreFindsPlantedBugs(t *testing.T) {
	base, err := scenarios.Builtin("baseline")
	require.NoError(t, err)
	tests := []struct {
		bug      string
		within   uint64
		checker  string // the first checker that must see it
		violated string // and, for protocol-invariants, the rule
	}{
		{"admit-lagging", 60, "protocol-invariants", cluster.InvISRAdmittedBehind},
		{"hw-skips-follower", 20, "protocol-invariants", cluster.InvHWAboveISRLEO},
		{"ignore-min-isr", 60, "protocol-invariants", cluster.InvHWBelowMinISR},
		// A follower that never truncates never catches up: a liveness
		// failure, seen once the faults stay within the liveness claim.
		{"skip-truncation", 120, "eventual-delivery", ""},
	}
	for _, tt := range tests {
		t.Run(tt.bug, func(t *testing.T) {
			defer cluster.Plant(tt.bug)()
			found, ok := firstFailure(base, tt.within, tt.checker)
			require.True(t, ok, "%s not found by %s within %d seeds", tt.bug, tt.checker, tt.within)
			t.Logf("%s found by %s at seed %d with %d faults", tt.bug, tt.checker, found.Seed, len(found.Faults))
			if tt.violated == "" {
				return
			}
			sc, err := explore.Scenario(base, found.Seed, found.Faults, nil)
			require.NoError(t, err)
			res, err := runner.Run(sc, runner.Options{Seed: sc.Seed})
			require.NoError(t, err)
			var rules []string
			for _, ch := range res.Checks {
				if ch.Checker == tt.checker {
					for _, v := range ch.Violations {
						rules = append(rules, v.Kind)
					}
				}
			}
			assert.Contains(t, rules, tt.violated)
		})
	}
}

// firstFailure explores seeds in small batches until checker fails.
func firstFailure(base *scenarios.Scenario, within uint64, checker string) (explore.Outcome, bool) {
	const batch = 20
	for from := uint64(1); from <= within; from += batch {
		var seeds []uint64
		for s := from; s < from+batch && s <= within; s++ {
			seeds = append(seeds, s)
		}
		for _, o := range explore.Explore(base, seeds, 2, explore.Options{}, nil) {
			for _, c := range o.Failed {
				if c == checker {
					return o, true
				}
			}
		}
	}
	return explore.Outcome{}, false
}

// A failure found among many overlapping faults shrinks to its essence —
// at most three faults — and the shrunk scenario keeps the steps it took
// and the story of its violation.
func TestShrinkAPlantedBugToItsEssence(t *testing.T) {
	defer cluster.Plant("admit-lagging")()
	base, err := scenarios.Builtin("baseline")
	require.NoError(t, err)
	found, ok := firstFailure(base, 60, "protocol-invariants")
	require.True(t, ok)
	sc, err := explore.Scenario(base, found.Seed, found.Faults, nil)
	require.NoError(t, err)
	s, err := explore.Shrink("seed.yaml", sc.Text, "protocol-invariants", 80)
	require.NoError(t, err)
	t.Logf("seed %d: %d faults -> %d in %d runs:\n%s", found.Seed, s.FaultsBefore, s.FaultsAfter, s.Runs, strings.Join(s.Steps, "\n"))
	assert.LessOrEqual(t, s.FaultsAfter, 3)
	assert.NotEmpty(t, s.Steps)
	assert.Contains(t, string(s.Text), "isr-admitted-behind", "the shrunk scenario tells its story")
}
