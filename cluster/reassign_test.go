package cluster_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tideline-sim/tideline/cluster"
	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/cluster/protocol"
)

// reassignUnderLoad moves orders/0 from brokers 0, 1, 2 to 3, 4, 5 at 20 s
// under 1000 acks=all records/s, with the throttle given (nil: none).
func reassignUnderLoad(t *testing.T, throttle func(*cluster.Spec)) *run {
	return twice(t, func() *run {
		r := newRun(t, setup{seed: 2, duration: 70 * time.Second, brokers: 6, rf: 3, parts: 1, minISR: 2, acks: -1, idem: true, rate: 1000,
			configure: throttle})
		r.at(20*time.Second, "reassign", func() {
			require.True(t, r.c.Reassign(orders0, []protocol.BrokerID{3, 4, 5}))
		})
		return r
	})
}

// KIP-455 under load: the new replicas copy the log from its start, join
// the ISR only once caught up (the monitor's ISR admission rule), the old
// ones are dropped and delete their logs, leadership moves to a new
// replica, and no acknowledged write is lost. A follower throttle bounds
// the copy: 20 s of 1 KiB records at 1000/s is 20 MB, which takes at least
// 10 s at 2 MB/s.
func TestReassignmentMovesAPartitionWithoutLoss(t *testing.T) {
	for _, tt := range []struct {
		name     string
		throttle func(*cluster.Spec)
		atLeast  time.Duration
	}{
		{"unthrottled", nil, 0},
		{"follower.replication.throttled.rate 2 MB/s", func(s *cluster.Spec) { s.Broker.FollowerThrottle = 2_000_000 }, 10 * time.Second},
		// The leader serves three new replicas from one bucket.
		{"leader.replication.throttled.rate 6 MB/s", func(s *cluster.Spec) { s.Broker.LeaderThrottle = 6_000_000 }, 10 * time.Second},
	} {
		r := reassignUnderLoad(t, tt.throttle)
		done := events(r, journal.EvReassignCompleted, orders0)
		require.Len(t, done, 1, tt.name)
		took := done[0].Time.Since() - 20*time.Second
		assert.GreaterOrEqual(t, took, tt.atLeast, tt.name)
		st := r.c.State(orders0)
		assert.Equal(t, []protocol.BrokerID{3, 4, 5}, st.Replicas, tt.name)
		assert.Contains(t, []protocol.BrokerID{3, 4, 5}, st.Leader, tt.name)
		assert.Len(t, events(r, journal.EvReplicaDeleted, orders0), 3, "%s: the old replicas deleted their logs", tt.name)
		assert.True(t, r.durability().OK(), tt.name)
		assert.Empty(t, r.c.Monitor.Violations(), tt.name)
		t.Logf("%s: completed %v after the request", tt.name, took)
	}
}

// A reassignment interrupted by a crash of a new replica resumes: its
// state is in the metadata, the restarted replica copies the rest and
// joins the ISR, and the move completes — without loss.
func TestReassignmentResumesAfterACrash(t *testing.T) {
	r := twice(t, func() *run {
		r := newRun(t, setup{seed: 3, duration: 60 * time.Second, brokers: 6, rf: 3, parts: 1, minISR: 2, acks: -1, idem: true, rate: 500,
			configure: func(s *cluster.Spec) { s.Broker.FollowerThrottle = 1_000_000 }})
		r.at(20*time.Second, "reassign", func() { require.True(t, r.c.Reassign(orders0, []protocol.BrokerID{3, 4, 5})) })
		r.at(21*time.Second, "crash a new replica", func() { r.w.Crash(r.node(5)) })
		r.at(35*time.Second, "restart it", func() { r.w.Restart(r.node(5)) })
		return r
	})
	done := events(r, journal.EvReassignCompleted, orders0)
	require.Len(t, done, 1)
	assert.Greater(t, done[0].Time.Since(), 35*time.Second, "completed only once the crashed replica was back")
	assert.Equal(t, []protocol.BrokerID{3, 4, 5}, r.c.State(orders0).Replicas)
	assert.True(t, r.durability().OK())
	assert.Empty(t, r.c.Monitor.Violations())
}
