package runner

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tideline-sim/tideline/scenarios"
)

// The estimate bounds what every built-in scenario really takes, so that
// the event budget (four times the estimate) stops only a livelocked run.
func TestEstimateBoundsTheBuiltins(t *testing.T) {
	for _, name := range QuickBuiltins() {
		sc, err := scenarios.Builtin(name)
		require.NoError(t, err)
		res, err := Run(sc, Options{Seed: 1})
		require.NoError(t, err)
		est := Estimate(sc, 0)
		t.Logf("%-20s %8d events, estimated %8d (%.2f); memory estimate %d MB", name, res.Events, est.Events, float64(res.Events)/float64(est.Events), est.MemoryBytes>>20)
		assert.LessOrEqual(t, res.Events, est.Events, name)
	}
}
