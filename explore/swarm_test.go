package explore

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tideline-sim/tideline/cluster/config"
	"github.com/tideline-sim/tideline/scenarios"
)

// Every drawn configuration lies within the swarm's ranges and the safety
// claim, composes into a scenario that loads, and that scenario holds
// exactly what was drawn; over many seeds every range is reached at both
// ends.
func TestSwarmDrawsWithinRanges(t *testing.T) {
	base, err := scenarios.Builtin("baseline")
	require.NoError(t, err)
	seen := map[string]map[int]bool{}
	note := func(what string, v int) {
		if seen[what] == nil {
			seen[what] = map[int]bool{}
		}
		seen[what][v] = true
	}
	for seed := uint64(1); seed <= 400; seed++ {
		d := DrawConfig(base, seed)
		sc, err := Scenario(base, seed, nil, Outcome{Drawn: d}.Overrides(Options{}))
		require.NoError(t, err, "seed %d", seed)
		c := sc.Cluster
		topic := c.Topics[0]
		minISR := *topic.MinInsyncReplicas
		assert.Equal(t, d["cluster.brokers"], c.Brokers, "seed %d", seed)
		assert.Equal(t, d["cluster.topics.0:replication.factor"], topic.ReplicationFactor, "seed %d", seed)
		assert.Equal(t, d["cluster.topics.0.config:min.insync.replicas"], minISR, "seed %d", seed)
		assert.Equal(t, d["cluster.topics.0.partitions"], topic.Partitions, "seed %d", seed)
		assert.Equal(t, d["cluster.controllers"], c.Controllers, "seed %d", seed)
		assert.True(t, 3 <= topic.ReplicationFactor && topic.ReplicationFactor <= min(5, c.Brokers), "seed %d: RF %d of %d brokers", seed, topic.ReplicationFactor, c.Brokers)
		assert.True(t, 2 <= minISR && minISR < topic.ReplicationFactor, "seed %d: min ISR %d at RF %d", seed, minISR, topic.ReplicationFactor)
		assert.LessOrEqual(t, 3*c.Broker.HeartbeatInterval, c.Broker.SessionTimeout, "seed %d", seed)
		assert.False(t, c.Broker.UncleanLeaderElection, "seed %d: within the safety claim", seed)
		for _, p := range c.Producers {
			assert.Equal(t, config.AcksAll, p.Acks, "seed %d: within the safety claim", seed)
		}
		extra := 2*max(0, c.Broker.SessionTimeout-9*time.Second) + max(0, c.Broker.ReplicaLagTimeMax-5*time.Second)
		assert.Equal(t, base.Settle+extra, sc.Settle, "seed %d: the settle period grows with the timing drawn", seed)
		assert.Equal(t, min(base.FaultWindowEnd(), max(base.FaultWindowEnd()-extra, minFaultWindow)), sc.FaultWindowEnd(), "seed %d: the fault window gives the settle period what it can spare", seed)
		note("brokers", c.Brokers)
		note("rf", topic.ReplicationFactor)
		note("minisr", minISR)
		note("partitions", topic.Partitions)
		note("controllers", c.Controllers)
		note("idempotence", map[bool]int{false: 0, true: 1}[c.Producers[0].Idempotence])
		note("rebalance", map[bool]int{false: 0, true: 1}[c.Broker.AutoLeaderRebalance])
		note("elr", map[bool]int{false: 0, true: 1}[c.Broker.ELR])
	}
	for what, ends := range map[string][2]int{"brokers": {3, 7}, "rf": {3, 5}, "minisr": {2, 4}, "partitions": {1, 6}, "controllers": {1, 5}, "idempotence": {0, 1}, "rebalance": {0, 1}, "elr": {0, 1}} {
		assert.True(t, seen[what][ends[0]] && seen[what][ends[1]], "%s reaches %d and %d: %v", what, ends[0], ends[1], seen[what])
	}
}

// -base-only draws no configuration: the seed's scenario is the base's
// cluster with drawn faults, as before the swarm.
func TestBaseOnlyKeepsTheBase(t *testing.T) {
	base, err := scenarios.Builtin("baseline")
	require.NoError(t, err)
	out, sc := Seed(base, 7, Options{BaseOnly: true})
	require.Empty(t, out.Err)
	assert.Nil(t, out.Drawn)
	assert.Equal(t, base.Cluster.Brokers, sc.Cluster.Brokers)
	assert.Equal(t, base.Settle, sc.Settle)
	assert.Equal(t, Draw(base, 7, Options{}), out.Faults)
}
