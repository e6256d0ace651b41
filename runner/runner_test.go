package runner

import (
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tideline-sim/tideline/scenarios"
)

// seeds is how many seeds every built-in scenario is checked on.
const seeds = 5

// mustDetectLoss are the scenarios that demonstrate a loss: their
// acked-durability checker has to fire.
var mustDetectLoss = []string{"acks1-leader-crash", "unclean-election", "single-broker", "kip101-divergence", "power-loss-all"}

func TestBuiltinScenariosMeetTheirExpectations(t *testing.T) {
	for _, name := range scenarios.BuiltinNames() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sc, err := scenarios.Builtin(name)
			require.NoError(t, err)
			for seed := uint64(1); seed <= seeds; seed++ {
				res, err := Run(sc, Options{Seed: seed})
				require.NoError(t, err)
				for _, o := range res.Expectations {
					assert.True(t, o.OK, "seed %d: %s: want %s, got %s", seed, o.Name, o.Want, o.Got)
				}
				if slices.Contains(mustDetectLoss, name) {
					require.NotEmpty(t, res.Checks)
					assert.False(t, res.Checks[0].OK(), "seed %d: the loss must be detected", seed)
				}
			}
		})
	}
}

func TestEveryScenarioIsDeterministic(t *testing.T) {
	for _, name := range scenarios.BuiltinNames() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sc, err := scenarios.Builtin(name)
			require.NoError(t, err)
			a, err := Run(sc, Options{Seed: 77})
			require.NoError(t, err)
			b, err := Run(sc, Options{Seed: 77})
			require.NoError(t, err)
			assert.Equal(t, fmt.Sprintf("%016x", a.TraceHash), fmt.Sprintf("%016x", b.TraceHash))
			assert.Equal(t, a.Sends, b.Sends)
			c, err := Run(sc, Options{Seed: 78})
			require.NoError(t, err)
			assert.NotEqual(t, a.TraceHash, c.TraceHash, "another seed, another run")
		})
	}
}
