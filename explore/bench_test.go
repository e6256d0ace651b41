package explore

import (
	"runtime/debug"
	"testing"

	"github.com/tideline-sim/tideline/runner"
	"github.com/tideline-sim/tideline/scenarios"
)

// BenchmarkExplore measures seeds per second over the baseline with
// one and two workers, with the collector set as simulate sets it: one op
// is one seed.
func BenchmarkExplore(b *testing.B) {
	defer debug.SetGCPercent(debug.SetGCPercent(runner.GCPercent))
	base, err := scenarios.Builtin("baseline")
	if err != nil {
		b.Fatal(err)
	}
	for _, workers := range []int{1, 2} {
		b.Run(map[int]string{1: "workers=1", 2: "workers=2"}[workers], func(b *testing.B) {
			Explore(base, seedRange(1, uint64(b.N)), workers, Options{}, nil)
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "seeds/s")
		})
	}
}
