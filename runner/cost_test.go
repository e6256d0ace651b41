package runner

import (
	"fmt"
	"runtime"
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

// A partition-heavy cluster costs more per event than a small one (every
// fetch of a session checks each of its partitions), so the estimate must
// bound it too: run one and compare its events and heap with the estimate,
// and hold the estimate above what larger shapes were measured to take
// (60 s, RF 3, a crash and a restart; `/usr/bin/time simulate -scenario
// SHAPE -q -max-memory 20GiB`, whole process, 2 cores shared with a CI run,
// counted at 1.6 M events a second — the rate BenchmarkCluster60s
// measures).
func TestEstimateBoundsPartitionHeavyClusters(t *testing.T) {
	shape := func(brokers, partitions, rate int, consumer bool, duration string) *scenarios.Scenario {
		consumers := ""
		if consumer {
			consumers = "\n  consumers: [{ topic: orders }]"
		}
		text := fmt.Sprintf("name: p%d\nduration: %s\nsettle: 5s\ncluster:\n  brokers: %d\n  topics: [{ name: orders, partitions: %d, replication.factor: 3, config: { min.insync.replicas: 2 } }]\n"+
			"workload:\n  producers: [{ topic: orders, rate: %d/s, acks: all }]%s\n"+
			"faults:\n  - { at: 3s, crash: broker-0 }\n  - { at: 8s, restart: crashed }\n", partitions, duration, brokers, partitions, rate, consumers)
		sc, err := scenarios.Load("shape.yaml", []byte(text))
		require.NoError(t, err)
		return sc
	}
	t.Run("run", func(t *testing.T) {
		sc := shape(3, 600, 500, true, "15s")
		runtime.GC()
		res, err := Run(sc, Options{Seed: 1})
		require.NoError(t, err)
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		est := Estimate(sc, 0)
		t.Logf("%d events, estimated %d; heap obtained %d MB, estimated %d MB", res.Events, est.Events, m.HeapSys>>20, est.MemoryBytes>>20)
		assert.LessOrEqual(t, res.Events, est.Events)
		assert.LessOrEqual(t, int64(m.HeapSys), est.MemoryBytes)
	})
	measured := []struct {
		brokers, partitions, rate int
		consumer                  bool
		wall                      float64 // seconds
		rss                       int64   // bytes
	}{
		{3, 1000, 500, true, 3.58, 121 << 20}, {3, 2000, 500, true, 7.53, 233 << 20}, {3, 3000, 500, true, 11.9, 342 << 20},
		{10, 300, 500, true, 1.02, 58 << 20}, {10, 1000, 500, true, 1.72, 76 << 20},
		{100, 1000, 10000, false, 4.65, 343 << 20}, {100, 10000, 10000, false, 19.6, 557 << 20},
	}
	for _, m := range measured {
		est := Estimate(shape(m.brokers, m.partitions, m.rate, m.consumer, "60s"), 0)
		t.Logf("%d brokers, %d partitions: estimated %.1f s, %d MB", m.brokers, m.partitions, float64(est.Events)/1.6e6, est.MemoryBytes>>20)
		assert.GreaterOrEqual(t, est.Events, int64(m.wall*1.6e6), "%d brokers, %d partitions", m.brokers, m.partitions)
		assert.GreaterOrEqual(t, est.MemoryBytes, m.rss, "%d brokers, %d partitions", m.brokers, m.partitions)
	}
}

// A reassignment adds replicas, which fetch and copy the log: the
// estimate counts them, so a move from one replica to five stays bounded.
func TestEstimateBoundsAReassignment(t *testing.T) {
	sc, err := scenarios.Load("grow.yaml", []byte(`name: grow
duration: 30s
settle: 5s
cluster:
  brokers: 5
  topics: [{ name: orders, partitions: 1, replication.factor: 1 }]
workload:
  producers: [{ topic: orders, rate: 2000/s, acks: all }]
  consumers: [{ topic: orders }]
faults:
  - { at: 20s, reassign: { partition: orders/0, replicas: [0, 1, 2, 3, 4] } }
`))
	require.NoError(t, err)
	res, err := Run(sc, Options{Seed: 1})
	require.NoError(t, err)
	require.Equal(t, 1, res.Reassignments)
	est := Estimate(sc, 0)
	t.Logf("%d events, estimated %d (%.2f)", res.Events, est.Events, float64(res.Events)/float64(est.Events))
	assert.LessOrEqual(t, res.Events, est.Events)
}
