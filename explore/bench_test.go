package explore

import (
	"runtime/debug"
	"runtime/metrics"
	"testing"

	"github.com/tideline-sim/tideline/runner"
	"github.com/tideline-sim/tideline/scenarios"
)

// BenchmarkExplore measures seeds per second over the baseline with
// one and two workers, with the collector set as simulate sets it: one op
// is one seed. It also reports the cores the process kept busy: one
// worker keeps a little more than one, for the collector runs beside it on
// the other, so seeds/s from one worker to two understates how the work
// itself scales.
func BenchmarkExplore(b *testing.B) {
	defer debug.SetGCPercent(debug.SetGCPercent(runner.GCPercent))
	base, err := scenarios.Builtin("baseline")
	if err != nil {
		b.Fatal(err)
	}
	for _, workers := range []int{1, 2} {
		b.Run(map[int]string{1: "workers=1", 2: "workers=2"}[workers], func(b *testing.B) {
			before := busyCPUSeconds()
			Explore(base, seedRange(1, uint64(b.N)), workers, Options{}, nil)
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "seeds/s")
			b.ReportMetric((busyCPUSeconds()-before)/b.Elapsed().Seconds(), "cores")
		})
	}
}

// busyCPUSeconds is the runtime's estimate of the CPU time Go code and
// the runtime have used so far: all there was, less what stood idle.
func busyCPUSeconds() float64 {
	s := []metrics.Sample{{Name: "/cpu/classes/total:cpu-seconds"}, {Name: "/cpu/classes/idle:cpu-seconds"}}
	metrics.Read(s)
	return s[0].Value.Float64() - s[1].Value.Float64()
}
