package node_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tideline-sim/tideline/cluster/node"
	"github.com/tideline-sim/tideline/explore"
	"github.com/tideline-sim/tideline/runner"
	"github.com/tideline-sim/tideline/scenarios"
)

// Recycled messages and timers must change nothing: a handler that kept
// one and read it after the world handed it back would read zeros or a
// later value, and the run would differ from one where every value is left
// untouched to the collector. Built-ins with loss, duplication, crashes
// and controller failover, and explored seeds with overlapping faults.
func TestRecyclingChangesNothing(t *testing.T) {
	var runs []*scenarios.Scenario
	for _, name := range []string{"leader-crash", "flaky-network", "controller-failover", "rolling-restart", "kip101-divergence"} {
		sc, err := scenarios.Builtin(name)
		require.NoError(t, err)
		runs = append(runs, sc)
	}
	base, err := scenarios.Builtin("baseline")
	require.NoError(t, err)
	for seed := uint64(1); seed <= 6; seed++ {
		sc, err := explore.Scenario(base, seed, explore.Draw(base, seed, explore.Options{}), nil)
		require.NoError(t, err)
		runs = append(runs, sc)
	}
	hashes := func() []uint64 {
		var hs []uint64
		for i, sc := range runs {
			res, err := runner.Run(sc, runner.Options{Seed: uint64(i + 1)})
			require.NoError(t, err)
			hs = append(hs, res.TraceHash)
		}
		return hs
	}
	recycled := hashes()
	restart := node.StopRecycling()
	defer restart()
	assert.Equal(t, hashes(), recycled)
}
