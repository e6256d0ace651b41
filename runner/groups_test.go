package runner_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tideline-sim/tideline/check"
	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/runner"
	"github.com/tideline-sim/tideline/scenarios"
)

// truncationScenario: orders/0's leader is cut off from its followers,
// goes on alone (min.insync.replicas 1), then dies; a stale follower is
// elected uncleanly and writes new records at offsets the group had
// already passed.
const truncationScenario = `
name: consumer-truncation
duration: 70s
settle: 20s
cluster:
  brokers: 3
  config: { unclean.leader.election.enable: true, replica.lag.time.max.ms: 5000 }
  topics: [{ name: orders, partitions: 1, replication.factor: 3, config: { min.insync.replicas: 1 } }]
workload:
  producers: [{ topic: orders, rate: 200/s, acks: all }]
  consumers: [{ topic: orders, group.id: readers, config: { auto.offset.reset: earliest } }]
faults:
  - { at: 5s, partition: [[broker-0], [broker-1, broker-2]] }
  - { at: 20s, crash: broker-0 }
  - { at: 20s, heal: all }
  - { at: 40s, restart: crashed }
expect:
  acked-durability: fail
`

// TestConsumerDetectsTruncationAfterUncleanElection is KIP-320 on the
// consumer: after the leader change the member validates its position
// with OffsetsForLeaderEpoch, finds the epoch of its last record ends
// before its position on the new leader, and seeks back to where the logs
// diverge — so it processes the new leader's records at those offsets
// instead of silently reading past them.
func TestConsumerDetectsTruncationAfterUncleanElection(t *testing.T) {
	sc, err := scenarios.Load("truncation.yaml", []byte(truncationScenario))
	require.NoError(t, err)
	res, err := runner.Run(sc, runner.Options{Seed: 1})
	require.NoError(t, err)
	detected := 0
	for _, op := range res.History.All() {
		if op.F == journal.OpReset && op.Type == journal.Info && strings.Contains(op.Note, "log truncation detected") {
			detected++
		}
	}
	assert.Positive(t, detected, "the member detects the truncation")
	require.Len(t, res.Groups, 1)
	assert.Zero(t, res.Groups[0].Unprocessed, "every record of the new leader's log is processed")
	e2e := res.Checks[len(res.Checks)-1]
	require.Equal(t, check.EndToEndName, e2e.Checker)
	assert.True(t, e2e.OK(), "end-to-end: %v", e2e.Violations)
}

const staticScenario = `
name: static-bounce
duration: 60s
settle: 15s
cluster:
  brokers: 3
  topics: [{ name: orders, partitions: 6, replication.factor: 3, config: { min.insync.replicas: 2 } }]
workload:
  producers: [{ topic: orders, rate: 100/s, acks: all }]
  consumers: [{ topic: orders, group.id: readers, instances: 3, config: { auto.offset.reset: earliest, group.instance.id: reader } }]
faults:
  - { at: 20s, crash: consumer-1 }
  - { at: 25s, restart: consumer-1 }
expect:
  end-to-end: pass
`

// TestStaticMemberRejoinsWithoutRebalance is KIP-345: a static member that
// comes back within session.timeout.ms takes its old place under its
// group.instance.id, with no rebalance; a dynamic one joins as a new
// member, and the rebalance waits for the crashed member it replaces
// until that one's session times out.
func TestStaticMemberRejoinsWithoutRebalance(t *testing.T) {
	for _, static := range []bool{true, false} {
		text := staticScenario
		if !static {
			text = strings.Replace(text, ", group.instance.id: reader", "", 1)
		}
		sc, err := scenarios.Load("static.yaml", []byte(text))
		require.NoError(t, err)
		res, err := runner.Run(sc, runner.Options{Seed: 1})
		require.NoError(t, err)
		require.Len(t, res.Groups, 1)
		if static {
			assert.Empty(t, res.Groups[0].Rebalances, "static: the bounce causes no rebalance")
			assert.Zero(t, res.Groups[0].Unprocessed)
		} else {
			// The join phase waits for the crashed member until its
			// session times out (45 s): the group stalls to the end.
			assert.NotEmpty(t, res.Groups[0].Rebalances, "dynamic: the restarted member joins anew")
			assert.Positive(t, res.Groups[0].Unprocessed)
		}
	}
}

// TestMemberBacksOffAResetToADeadLeader replays explore's seed 576 of
// group-baseline: a member's ListOffsets to a leader that had just died
// was re-sent on every connection reset, without a backoff, until the
// event budget ran out.
func TestMemberBacksOffAResetToADeadLeader(t *testing.T) {
	sc, err := scenarios.Open("../testdata/scenarios/found/reset-to-dead-leader.yaml")
	require.NoError(t, err)
	res, err := runner.Run(sc, runner.Options{Seed: sc.Seed})
	require.NoError(t, err)
	assert.Less(t, res.Events, int64(600_000))
	for _, ch := range res.Checks {
		assert.True(t, ch.OK() || ch.Checker == check.EventualDeliveryName || ch.Checker == check.EndToEndName, "%s: %v", ch.Checker, ch.Violations)
	}
}
