package cluster_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tideline-sim/tideline/cluster"
	"github.com/tideline-sim/tideline/cluster/monitor"
	"github.com/tideline-sim/tideline/explore"
	"github.com/tideline-sim/tideline/report"
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
		{"admit-lagging", 60, "protocol-invariants", monitor.InvISRAdmittedBehind},
		{"hw-skips-follower", 20, "protocol-invariants", monitor.InvHWAboveISRLEO},
		{"ignore-min-isr", 60, "protocol-invariants", monitor.InvHWBelowMinISR},
		// Found as the rule it breaks, not as the monitor running off the
		// end of the log (which crashed the tool before).
		{"hw-past-leo", 60, "protocol-invariants", monitor.InvHWAboveOwnLEO},
		// Judged by the scenario's setting, not the broker's copy of it:
		// the lost override is itself the violation.
		{"lose-min-isr", 20, "protocol-invariants", monitor.InvConfigNotApplied},
		// Raft's election restriction dropped: a lagging controller's
		// campaign wins votes it should not.
		{"stale-vote", 100, "metadata-quorum", monitor.QuorumStaleVote},
		// Only a stall until the leader's lag-based shrink, and so unseen
		// before: the committed fencing is judged by itself.
		{"fenced-in-isr", 60, "protocol-invariants", monitor.InvFencedInISR},
		// Reachable only because the swarm draws short imbalance checks:
		// the preferred replica led back while it is out of the ISR.
		{"preferred-outside-isr", 100, "protocol-invariants", monitor.InvCleanOutsideISR},
		// Reachable only because the swarm draws RF 4 and 5: the HW
		// passes an ISR member the leader did not count.
		{"hw-first-three", 40, "protocol-invariants", monitor.InvHWAboveISRLEO},
		// Judged by the scenario's replication factor, not the
		// controller's assignment: a short assignment is itself the
		// violation, before any write is at risk.
		{"short-assignment", 20, "protocol-invariants", monitor.InvConfigNotApplied},
		// Elections the scenario forbids, judged by its setting; they lose
		// acknowledged writes only now and then, the rule every time; an
		// ISR emptied by faults is a rare path (11 of 10,000 baseline seeds).
		{"unclean-always", 1000, "protocol-invariants", monitor.InvUncleanNotEnabled}, // seed 727 since the sticky partitioner
		// The client's copy of acks lost: judged by the scenario's, at the
		// first request, rather than by the rare acknowledged write it loses.
		{"acks-one", 20, "protocol-invariants", monitor.InvConfigNotApplied},
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
			sc, err := explore.Scenario(base, found.Seed, found.Faults, found.Overrides(explore.Options{}))
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
	sc, err := explore.Scenario(base, found.Seed, found.Faults, found.Overrides(explore.Options{}))
	require.NoError(t, err)
	s, err := explore.Shrink("seed.yaml", sc.Text, "protocol-invariants", 80)
	require.NoError(t, err)
	t.Logf("seed %d: %d faults -> %d in %d runs:\n%s", found.Seed, s.FaultsBefore, s.FaultsAfter, s.Runs, strings.Join(s.Steps, "\n"))
	assert.LessOrEqual(t, s.FaultsAfter, 3)
	assert.NotEmpty(t, s.Steps)
	assert.Contains(t, string(s.Text), "isr-admitted-behind", "the shrunk scenario tells its story")
}

// A bug that panics is a finding of the seed that hit it: the run ends
// with the crash as its one failed check, the panic's value, the story up
// to it and the stack; exploration records the seed and shrinks it like
// any other violation, and goes on to the next seed.
func TestACrashIsAFinding(t *testing.T) {
	defer cluster.Plant("panic-on-fetch")()
	sc, err := scenarios.Builtin("leader-crash")
	require.NoError(t, err)
	res, err := runner.Run(sc, runner.Options{Seed: 1})
	require.NoError(t, err, "a panic is a finding, not an error of the tool")
	require.NotNil(t, res.Crash)
	assert.False(t, res.OK())
	require.Len(t, res.Checks, 1)
	crash := res.Checks[0]
	assert.Equal(t, "crash", crash.Checker)
	require.Len(t, crash.Violations, 1)
	v := crash.Violations[0]
	assert.Contains(t, v.Message, "the simulation panicked")
	assert.Contains(t, v.Message, "nil pointer dereference")
	assert.Contains(t, strings.Join(v.Story, "\n"), "handleReplicaFetch", "the stack names the handler")
	var text strings.Builder
	require.NoError(t, report.Text(&text, res, "simulate -scenario leader-crash"), "a crashed run is reported")
	assert.Contains(t, text.String(), "crash: 1 violations")
	dir := t.TempDir()
	require.NoError(t, report.Prepare(dir))
	out, err := report.Open(dir, false)
	require.NoError(t, err)
	require.NoError(t, out.Finish(res, "simulate -scenario leader-crash -out "+dir), "and written out")
	again, err := runner.Run(sc, runner.Options{Seed: 1})
	require.NoError(t, err)
	assert.Equal(t, v.Story, again.Checks[0].Violations[0].Story, "the finding is the same every time")

	base, err := scenarios.Builtin("baseline")
	require.NoError(t, err)
	outcomes := explore.Explore(base, []uint64{1, 2, 3}, 2, explore.Options{}, nil)
	require.Len(t, outcomes, 3, "every seed is explored")
	for _, o := range outcomes {
		assert.Equal(t, []string{"crash"}, o.Failed, "seed %d", o.Seed)
		assert.Empty(t, o.Err)
	}
	seed, err := explore.Scenario(base, outcomes[0].Seed, outcomes[0].Faults, nil)
	require.NoError(t, err)
	shrunk, err := explore.Shrink("seed.yaml", seed.Text, "crash", 20)
	require.NoError(t, err)
	assert.LessOrEqual(t, shrunk.FaultsAfter, shrunk.FaultsBefore)
}
