package sweep

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tideline-sim/tideline/scenarios"
)

func newGrid(t *testing.T, seeds int, axes ...string) *Grid {
	t.Helper()
	base, err := scenarios.Builtin("leader-crash")
	require.NoError(t, err)
	g := &Grid{Base: base, Seeds: seeds}
	for _, a := range axes {
		axis, err := ParseAxis(a)
		require.NoError(t, err)
		g.Axes = append(g.Axes, axis)
	}
	return g
}

// Each setting lands where Kafka reads it: topic properties on every topic
// (they override the broker's), broker properties in the cluster's config,
// client properties on every producer or consumer.
func TestSettingsLandWhereKafkaReadsThem(t *testing.T) {
	g := newGrid(t, 1, "min.insync.replicas=1", "replication.factor=2", "acks=1", "linger.ms=5", "max.poll.records=10", "replica.lag.time.max.ms=3000", "faults=none")
	require.NoError(t, g.Validate())
	sc, err := g.Scenario(g.Cells()[0], 1)
	require.NoError(t, err)
	topic := sc.Cluster.Topics[0]
	require.NotNil(t, topic.MinInsyncReplicas)
	assert.Equal(t, 1, *topic.MinInsyncReplicas, "the topic's override, which wins over the broker's")
	assert.Equal(t, 1, sc.Cluster.Broker.MinInsyncReplicas)
	assert.Equal(t, 2, topic.ReplicationFactor)
	p := sc.Cluster.Producers[0]
	assert.Equal(t, 1, p.Acks)
	assert.False(t, p.Idempotence, "acks=1 takes Kafka's default idempotence (off) unless the grid varies it")
	assert.Equal(t, int64(5), p.Linger.Milliseconds())
	assert.Equal(t, 10, sc.Cluster.Consumers[0].MaxPollRecords)
	assert.Equal(t, int64(3000), sc.Cluster.Broker.ReplicaLagTimeMax.Milliseconds())
	assert.Empty(t, sc.Faults)
}

func TestFaultsFromAnotherScenario(t *testing.T) {
	g := newGrid(t, 1, "faults=none,follower-crash,drawn")
	require.NoError(t, g.Validate())
	cells := g.Cells()
	none, err := g.Scenario(cells[0], 1)
	require.NoError(t, err)
	follower, err := g.Scenario(cells[1], 1)
	require.NoError(t, err)
	assert.Empty(t, none.Faults)
	require.NotEmpty(t, follower.Faults)
	assert.Contains(t, follower.Faults[0].Text, "follower(orders/0)")
	drawn1, err := g.Scenario(cells[2], 1)
	require.NoError(t, err)
	drawn2, err := g.Scenario(cells[2], 2)
	require.NoError(t, err)
	assert.NotEqual(t, string(drawn1.Text), string(drawn2.Text), "drawn faults differ by seed")
}

func TestBadGridsAreRefused(t *testing.T) {
	for _, c := range []struct {
		axes []string
		want string
	}{
		{[]string{"min.insync.replica=1,2"}, `did you mean "min.insync.replicas"?`},
		{[]string{"acks=2"}, "want 0, 1 or all"},
		{[]string{"replication.factor=0"}, "want a whole number"},
		{[]string{"faults=no-such-scenario"}, "faults"},
		{[]string{"acks=1", "acks=all"}, "given twice"},
		{[]string{"replication.factor=4"}, "no cell of the grid can run"},
	} {
		g := newGrid(t, 1, c.axes...)
		err := g.Validate()
		require.Error(t, err, "%v", c.axes)
		assert.Contains(t, err.Error(), c.want)
	}
	_, err := ParseAxis("acks")
	assert.Error(t, err)
	_, err = ParseAxis("acks=1,1")
	assert.Error(t, err)
}

// A combination invalid as a whole is a cell not run, with the reason.
func TestInvalidCombinationIsACellNotRun(t *testing.T) {
	g := newGrid(t, 1, "replication.factor=1,3")
	runs := RunAll(g, g.Jobs(1, 1), 2, nil)
	sums := Summarise(g, runs)
	require.Len(t, sums, 2)
	assert.Contains(t, sums[0].Skipped, "min.insync.replicas 2 is more than replication.factor 1")
	assert.Empty(t, sums[1].Skipped)
	assert.Zero(t, sums[1].LostMax)
}

// The summary's numbers, on handmade runs.
func TestSummaryOverSeeds(t *testing.T) {
	g := newGrid(t, 4, "acks=1")
	runs := []Run{
		{Cell: 0, Seed: 1, Lost: 0, Available: 0.9, LongestOutage: 8, P99LatencyMs: 100, Throughput: 500},
		{Cell: 0, Seed: 2, Lost: 30, Available: 0.8, LongestOutage: 9, P99LatencyMs: 200, Throughput: 490, Failed: []string{"acked-durability"}},
		{Cell: 0, Seed: 3, Lost: 10, Available: 0.95, LongestOutage: 2, P99LatencyMs: math.NaN(), Throughput: 510},
		{Cell: 0, Seed: 4, Error: "boom"},
	}
	s := Summarise(g, runs)[0]
	assert.InDelta(t, 40.0/3, s.LostMean, 1e-9)
	assert.Equal(t, 30, s.LostMax)
	assert.Equal(t, uint64(2), s.WorstSeed)
	assert.InDelta(t, 2.0/3, s.LossShare, 1e-9)
	assert.InDelta(t, 0.9, s.AvailMedian, 1e-9)
	assert.InDelta(t, 0.8, s.AvailP99, 1e-9, "the worst seed of three")
	assert.InDelta(t, 9, s.OutageP99, 1e-9)
	assert.InDelta(t, 100, s.P99Latency, 1e-9, "a run without acknowledged writes has no latency")
	assert.Equal(t, []string{"acked-durability"}, s.Failed)
	assert.Equal(t, 1, s.Errors)
}

func TestJobsShardEveryRunOnce(t *testing.T) {
	g := newGrid(t, 5, "acks=1,all", "replication.factor=2,3")
	seen := map[[2]uint64]int{}
	for k := 1; k <= 3; k++ {
		for _, j := range g.Jobs(k, 3) {
			seen[[2]uint64{uint64(j.Cell.Index), j.Seed}]++
		}
	}
	assert.Len(t, seen, 4*5)
	for key, n := range seen {
		assert.Equal(t, 1, n, "%v", key)
	}
}
