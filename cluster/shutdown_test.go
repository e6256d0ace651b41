package cluster_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tideline-sim/tideline/clock"
	"github.com/tideline-sim/tideline/cluster"
	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/cluster/node"
	"github.com/tideline-sim/tideline/cluster/protocol"
)

// longestAckGap is the longest time, from from to to, in which no write
// was acknowledged.
func longestAckGap(r *run, from, to time.Duration) time.Duration {
	last, gap := clock.At(from), time.Duration(0)
	for _, op := range r.c.History.Ops() {
		if op.F == journal.OpSend && op.Type == journal.Ok && op.Time >= clock.At(from) && op.Time <= clock.At(to) {
			gap = max(gap, op.Time.Sub(last))
			last = op.Time
		}
	}
	return max(gap, clock.At(to).Sub(last))
}

// stopLeader runs a 3-broker RF=3 cluster under acks=all load and asks
// the leader of orders/0 to stop at 10 s, restarting it at 20 s.
func stopLeader(t *testing.T, controlled bool) (*run, protocol.BrokerID) {
	var stopped protocol.BrokerID
	r := twice(t, func() *run {
		r := newRun(t, setup{seed: 3, duration: 40 * time.Second, brokers: 3, rf: 3, parts: 1, minISR: 2, acks: -1, idem: true, rate: 300,
			configure: func(s *cluster.Spec) { s.Broker.ControlledShutdown = controlled }})
		r.at(10*time.Second, "stop the leader", func() {
			stopped = r.leader(orders0)
			r.w.Signal(r.node(stopped), node.Terminate{})
		})
		r.at(20*time.Second, "start it again", func() { r.w.Restart(r.node(stopped)) })
		return r
	})
	return r, stopped
}

// Kafka's controlled shutdown: a broker asked to stop first has the
// controller move its leaderships to other ISR members, and only then
// exits — cleanly: logs flushed, the clean-shutdown marker written — so
// writes pause for a metadata round trip, not for a session timeout, and
// the restart is clean.
func TestControlledShutdownKeepsWritesFlowing(t *testing.T) {
	r, stopped := stopLeader(t, true)
	moved := events(r, journal.EvShutdownElected, orders0)
	require.Len(t, moved, 1, "the leadership moved by the controlled shutdown")
	assert.NotEqual(t, stopped, moved[0].Leader)
	down := events(r, journal.EvStopped, protocol.TopicPartition{})
	require.Len(t, down, 1)
	assert.Less(t, moved[0].Time, down[0].Time, "the leadership moves before the broker exits")
	assert.Empty(t, events(r, journal.EvFenced, protocol.TopicPartition{})[1:], "fenced once, as its shutdown ended: no session ran out")
	assert.Len(t, events(r, journal.EvCleanStart, protocol.TopicPartition{}), 1, "the restart found the clean-shutdown marker")
	assert.Less(t, longestAckGap(r, 9*time.Second, 25*time.Second), time.Second, "writes kept flowing")
	assert.True(t, r.durability().OK())
	assert.Empty(t, r.c.Monitor.Violations())
}

// controlled.shutdown.enable=false: the broker exits at once, still
// cleanly, and its leaderships move only when its session expires.
func TestStopWithoutControlledShutdownWaitsForTheSession(t *testing.T) {
	r, _ := stopLeader(t, false)
	assert.Empty(t, events(r, journal.EvShutdownElected, orders0))
	down := events(r, journal.EvStopped, protocol.TopicPartition{})
	require.Len(t, down, 1)
	assert.Equal(t, clock.At(10*time.Second), down[0].Time, "stopped at once")
	fenced := events(r, journal.EvFenced, protocol.TopicPartition{})
	require.NotEmpty(t, fenced)
	assert.GreaterOrEqual(t, fenced[len(fenced)-1].Time.Sub(down[0].Time), 7*time.Second, "fenced when broker.session.timeout.ms (9 s from its last heartbeat) ran out")
	assert.Len(t, events(r, journal.EvCleanStart, protocol.TopicPartition{}), 1, "still a clean stop")
	assert.Greater(t, longestAckGap(r, 9*time.Second, 25*time.Second), 8*time.Second, "writes waited for the session to expire")
	assert.True(t, r.durability().OK())
}
