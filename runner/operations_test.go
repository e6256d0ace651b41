package runner_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/cluster/protocol"
	"github.com/tideline-sim/tideline/runner"
	"github.com/tideline-sim/tideline/scenarios"
)

// KIP-966 (KAFKA-18635): a broker that stopped cleanly keeps its ELR
// membership and is elected from the ELR once it is back; one that
// crashed leaves the ELR when it registers again, and its partitions wait
// for their last leader. The built-in clean-vs-unclean-restart, on seeds
// 1-3.
func TestCleanRestartKeepsELRMembershipInARun(t *testing.T) {
	sc, err := scenarios.Builtin("clean-vs-unclean-restart")
	require.NoError(t, err)
	for seed := uint64(1); seed <= 3; seed++ {
		res, err := runner.Run(sc, runner.Options{Seed: seed})
		require.NoError(t, err)
		firstLeader := map[int32]journal.Event{} // after the leaders crash at 22 s
		for _, e := range res.Journal {
			if _, seen := firstLeader[e.TP.Partition]; e.Kind.Election() && e.Time.Since() > 22*time.Second && !seen {
				firstLeader[e.TP.Partition] = e
			}
		}
		for p, broker := range map[int32]protocol.BrokerID{0: 1, 1: 1} {
			e := firstLeader[p]
			assert.Equal(t, journal.EvELRElected, e.Kind, "seed %d orders/%d: the cleanly stopped broker is elected from the ELR", seed, p)
			assert.Equal(t, broker, e.Leader, "seed %d orders/%d", seed, p)
			assert.Less(t, e.Time.Since(), 35*time.Second, "seed %d orders/%d: soon after its restart at 28 s", seed, p)
		}
		for _, p := range []int32{2, 3} {
			assert.GreaterOrEqual(t, firstLeader[p].Time.Since(), 45*time.Second, "seed %d orders/%d: offline until its last leader returns", seed, p)
		}
	}
}

// reassign { all-partitions-of: broker-N } moves every partition off the
// broker (its replica there replaced by the next broker not already a
// replica) without loss: afterwards the broker hosts nothing.
func TestReassignAllPartitionsOffABroker(t *testing.T) {
	sc, err := scenarios.Load("off.yaml", []byte(`name: off
duration: 40s
cluster:
  brokers: 4
  topics: [{ name: orders, partitions: 4, replication.factor: 3, config: { min.insync.replicas: 2 } }]
workload:
  producers: [{ topic: orders, rate: 400/s, acks: all }]
faults:
  - { at: 10s, reassign: { all-partitions-of: broker-0 } }
`))
	require.NoError(t, err)
	res, err := runner.Run(sc, runner.Options{Seed: 1})
	require.NoError(t, err)
	assert.Equal(t, 3, res.Reassignments, "the three partitions with a replica on broker 0")
	for _, f := range res.Final {
		assert.NotContains(t, f.State.Replicas, protocol.BrokerID(0), "%v", f.TP)
		assert.Len(t, f.State.Replicas, 3, "%v", f.TP)
	}
	for _, ch := range res.Checks {
		assert.True(t, ch.OK(), "%s: %v", ch.Checker, ch.Violations)
	}
}

// A broker whose orderly stop is cut short by a crash (its controller out
// of reach, so the controlled shutdown waits) is restarted all the same:
// by the settle period here, as a stopped one would be.
func TestAStopCutShortByACrashStillRestarts(t *testing.T) {
	sc, err := scenarios.Load("stopcrash.yaml", []byte(`name: stopcrash
duration: 60s
settle: 15s
cluster:
  brokers: 3
  controllers: 1
  topics: [{ name: orders, partitions: 3, replication.factor: 3, config: { min.insync.replicas: 2 } }]
workload:
  producers: [{ topic: orders, rate: 100/s, acks: all }]
faults:
  - { at: 10s, isolate: controller, for: 20s }
  - { at: 11s, stop: broker-0, for: 5s }
  - { at: 13s, crash: broker-0 }
`))
	require.NoError(t, err)
	res, err := runner.Run(sc, runner.Options{Seed: 1})
	require.NoError(t, err)
	for _, f := range res.Final {
		assert.Len(t, f.State.ISR, 3, "%v: broker 0 back in the ISR", f.TP)
	}
	for _, ch := range res.Checks {
		assert.True(t, ch.OK(), "%s: %v", ch.Checker, ch.Violations)
	}
}
