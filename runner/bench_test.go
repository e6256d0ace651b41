package runner

import (
	"fmt"
	"math"
	"runtime"
	"testing"
	"time"

	"github.com/tideline-sim/tideline/check"
	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/scenarios"
)

// BenchmarkSimulateLeaderCrash is the simulation alone of leader-crash
// (60 s at 500 records/s): the yardstick for the checkers' cost.
func BenchmarkSimulateLeaderCrash(b *testing.B) {
	sc, err := scenarios.Builtin("leader-crash")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, _, err := simulate(sc, Options{Seed: 1}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckLeaderCrash is every checker over one leader-crash run.
func BenchmarkCheckLeaderCrash(b *testing.B) {
	benchmarkChecks(b, func(in check.Input) { check.All(in) })
}

func benchmarkChecks(b *testing.B, run func(check.Input)) {
	sc, err := scenarios.Builtin("leader-crash")
	if err != nil {
		b.Fatal(err)
	}
	_, in, err := simulate(sc, Options{Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		run(in)
	}
}

// BenchmarkSoak runs the soak-hour scenario's shape for 10 simulated
// minutes (1,000 records/s, 3 partitions at RF=3, a consumer) and reports
// what a long run keeps: live heap per record per replica at the end of
// the simulation, the peak heap in use, and the simulated seconds per
// second. One op is one run.
func BenchmarkSoak(b *testing.B) {
	sc, err := scenarios.Builtin("soak-hour")
	if err != nil {
		b.Fatal(err)
	}
	const simulated = 10 * time.Minute
	var live, peak uint64
	var records float64
	for b.Loop() {
		var ms runtime.MemStats
		peak = 0
		sample := func() {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
		}
		opts := Options{Seed: 1, Duration: simulated, Progress: func(now, _ time.Duration) {
			if now%time.Minute == 0 {
				sample()
			}
		}}
		opts.Simulated = func() {
			runtime.GC()
			runtime.ReadMemStats(&ms)
			live = ms.HeapInuse
			peak = max(peak, live)
		}
		res, _, err := simulate(sc, opts)
		if err != nil {
			b.Fatal(err)
		}
		records = 0
		for _, op := range res.History.All() {
			if op.F == journal.OpSend && op.Type == journal.Invoke {
				records++
			}
		}
	}
	perRun := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(float64(live)/(records*3), "live-B/record/replica")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
	b.ReportMetric(simulated.Seconds()/perRun, "sim-s/s")
}

// largeCluster is issue 28's yardstick: 100 brokers, the given number of
// partitions at RF 3, 10,000 records/s of acks=all, one broker crashed and
// restarted.
const largeCluster = `name: large-cluster-bench
duration: 60s
settle: 10s
cluster:
  brokers: 100
  topics:
    - name: orders
      partitions: %d
      replication.factor: 3
      config: { min.insync.replicas: 2 }
workload:
  producers: [{ topic: orders, rate: 10000/s, acks: all }]
faults:
  - { at: 20s, crash: broker-0 }
  - { at: 35s, restart: crashed }
`

// BenchmarkLargeCluster runs largeCluster with 1,000, 10,000 and 100,000
// partitions for 60 simulated seconds (the simulation alone, past the
// cost caps) and reports the simulated seconds per second and the peak
// heap in use, sampled every simulated second: at a fixed load, what ten
// times the partitions cost. One op is one run: run it with -benchtime 1x.
func BenchmarkLargeCluster(b *testing.B) {
	for _, partitions := range []int{1000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("partitions=%d", partitions), func(b *testing.B) {
			sc, err := scenarios.Load("large-cluster-bench.yaml", fmt.Appendf(nil, largeCluster, partitions))
			if err != nil {
				b.Fatal(err)
			}
			var peak uint64
			var events int64
			for b.Loop() {
				var ms runtime.MemStats
				opts := Options{Seed: 1, MaxEvents: math.MaxInt64, MaxMemory: math.MaxInt64, Progress: func(time.Duration, time.Duration) {
					runtime.ReadMemStats(&ms)
					peak = max(peak, ms.HeapInuse)
				}}
				res, _, err := simulate(sc, opts)
				if err != nil {
					b.Fatal(err)
				}
				events = res.Events
			}
			perRun := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(sc.Duration.Seconds()/perRun, "sim-s/s")
			b.ReportMetric(float64(events), "events/run")
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
		})
	}
}
