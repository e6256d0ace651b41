package explore

import (
	"fmt"
	"runtime/debug"
	"runtime/metrics"
	"testing"

	"github.com/tideline-sim/tideline/runner"
	"github.com/tideline-sim/tideline/scenarios"
)

// BenchmarkExplore measures seeds per second over the baseline with
// one and two workers, with the collector set as simulate sets it: one op
// is one seed. It also reports the cores the process kept busy (one
// worker keeps a little more than one, for the collector runs beside it on
// the other, so seeds/s from one worker to two understates how the work
// itself scales) and the simulated events per second. The swarm draws
// larger clusters and longer runs than the base on average; base-only is
// the draw before the swarm, for comparison.
func BenchmarkExplore(b *testing.B) {
	defer debug.SetGCPercent(debug.SetGCPercent(runner.GCPercent))
	base, err := scenarios.Builtin("baseline")
	if err != nil {
		b.Fatal(err)
	}
	for _, mode := range []string{"swarm", "base-only"} {
		for _, workers := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/workers=%d", mode, workers), func(b *testing.B) {
				before := busyCPUSeconds()
				outcomes := Explore(base, seedRange(1, uint64(b.N)), workers, Options{BaseOnly: mode == "base-only"}, nil)
				var events int64
				for _, o := range outcomes {
					events += o.Events
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "seeds/s")
				b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
				b.ReportMetric((busyCPUSeconds()-before)/b.Elapsed().Seconds(), "cores")
			})
		}
	}
}

// busyCPUSeconds is the runtime's estimate of the CPU time Go code and
// the runtime have used so far: all there was, less what stood idle.
func busyCPUSeconds() float64 {
	s := []metrics.Sample{{Name: "/cpu/classes/total:cpu-seconds"}, {Name: "/cpu/classes/idle:cpu-seconds"}}
	metrics.Read(s)
	return s[0].Value.Float64() - s[1].Value.Float64()
}
