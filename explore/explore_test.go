package explore

import (
	"fmt"
	"regexp"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tideline-sim/tideline/scenarios"
)

func seedRange(from, n uint64) []uint64 {
	var s []uint64
	for i := range n {
		s = append(s, from+i)
	}
	return s
}

func TestResultsDoNotDependOnWorkers(t *testing.T) {
	base, err := scenarios.Builtin("baseline")
	require.NoError(t, err)
	seeds := seedRange(1, 12)
	one := Explore(base, seeds, 1, Options{BeyondClaims: true}, nil)
	two := Explore(base, seeds, 2, Options{BeyondClaims: true}, nil)
	assert.Empty(t, cmp.Diff(one, two))
	for i, o := range one {
		assert.Equal(t, seeds[i], o.Seed, "outcomes come back in seed order")
		assert.Empty(t, o.Err)
	}
}

// The safety phase draws overlapping faults, faults close behind each
// other and faults timed to protocol events, never power loss; only seeds
// whose faults came one at a time are held to liveness.
func TestDrawStaysWithinTheSafetyClaims(t *testing.T) {
	base, err := scenarios.Builtin("baseline")
	require.NoError(t, err)
	var overlapping, timed, close, liveness int
	for seed := uint64(1); seed <= 200; seed++ {
		faults := Draw(base, seed, Options{})
		for i, f := range faults {
			assert.NotEqual(t, "power-loss", f.Action, "seed %d", seed)
			assert.LessOrEqual(t, f.At+f.For, base.FaultWindowEnd().Seconds()+1e-9, "seed %d", seed)
			if f.After != "" {
				timed++
			}
			if i > 0 {
				prev := faults[i-1]
				if f.At < prev.At+prev.For {
					overlapping++
				}
				if f.At > prev.At && f.At-prev.At <= 0.1 {
					close++
				}
			}
		}
		if LivenessClaimed(faults) {
			liveness++
		}
		// Every drawn schedule is a valid scenario, and asserts liveness
		// only within its claim.
		sc, err := Scenario(base, seed, faults, nil)
		require.NoError(t, err, "seed %d", seed)
		anyDelivery := slices.ContainsFunc(sc.Expect, func(e scenarios.Expectation) bool { return e.Name == "eventual-delivery" && e.Any })
		assert.Equal(t, !LivenessClaimed(faults), anyDelivery, "seed %d", seed)
	}
	t.Logf("200 seeds: %d overlapping faults, %d timed to events, %d within 100 ms of the one before; %d seeds within the liveness claim", overlapping, timed, close, liveness)
	assert.Positive(t, overlapping)
	assert.Positive(t, timed)
	assert.Positive(t, close)
	assert.Positive(t, liveness)
	assert.Equal(t, Draw(base, 7, Options{}), Draw(base, 7, Options{}), "a seed always draws the same faults")
}

func TestPowerLossOnlyBeyondTheClaims(t *testing.T) {
	base, err := scenarios.Builtin("baseline")
	require.NoError(t, err)
	powerLoss := 0
	for seed := uint64(1); seed <= 100; seed++ {
		for _, f := range Draw(base, seed, Options{BeyondClaims: true}) {
			if f.Action == "power-loss" {
				powerLoss++
			}
		}
	}
	assert.Positive(t, powerLoss)
}

func TestExploreFindsAcks1LossAndShrinksIt(t *testing.T) {
	base, err := scenarios.Open("../examples/explore-acks1.yaml")
	require.NoError(t, err)
	outcomes := Explore(base, seedRange(1, 120), 2, Options{}, nil)
	first, found := FirstFailures(outcomes)["acked-durability"]
	require.True(t, found, "acks=1 must lose acknowledged writes within 120 seeds")
	t.Logf("acks=1 loss first found at seed %d with %d faults", first.Seed, len(first.Faults))

	sc, err := Scenario(base, first.Seed, first.Faults, first.Overrides(Options{})) // the cluster and settings the seed drew
	require.NoError(t, err)
	s, err := Shrink("seed.yaml", sc.Text, "acked-durability", 60)
	require.NoError(t, err)
	assert.LessOrEqual(t, s.FaultsAfter, s.FaultsBefore)
	assert.LessOrEqual(t, s.FaultsAfter, 3)
	assert.LessOrEqual(t, s.Scenario.Duration, s.DurationBefore)

	// Each fault keeps one name through every step: F3 is the original
	// file's third fault wherever a step mentions it.
	stepRE := regexp.MustCompile(`fault (F[0-9]+) \(([^)]*)\)`)
	original := map[string]string{}
	for i, f := range sc.Faults {
		original[fmt.Sprintf("F%d", i+1)] = f.Text
	}
	for _, st := range s.Steps {
		for _, m := range stepRE.FindAllStringSubmatch(st, -1) {
			require.Contains(t, original, m[1], st)
		}
		t.Log(st)
	}

	// The shrunk file, loaded afresh, still loses acknowledged writes.
	again, err := scenarios.Load("shrunk.yaml", s.Text)
	require.NoError(t, err)
	assert.Len(t, again.Faults, s.FaultsAfter)
	res, err := runFor(again)
	require.NoError(t, err)
	assert.False(t, res.Checks[0].OK(), "the shrunk scenario still fails")
}

func TestShrinkRefusesAScenarioThatDoesNotFail(t *testing.T) {
	base, err := scenarios.Builtin("baseline")
	require.NoError(t, err)
	_, err = Shrink("baseline.yaml", base.Text, "acked-durability", 5)
	assert.ErrorIs(t, err, ErrDoesNotFail)
}
