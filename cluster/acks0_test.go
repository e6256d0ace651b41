package cluster_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tideline-sim/tideline/clock"
	"github.com/tideline-sim/tideline/cluster"
	"github.com/tideline-sim/tideline/cluster/config"
	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/cluster/protocol"
)

// Kafka completes an acks=0 send as soon as it is written to the
// connection, with offset -1, so acked-durability must judge it by payload.
// When the leader's process dies, its host resets the connection; the
// producer refreshes its metadata and sends nothing more until a connection
// to a leader is ready again — records wait in the accumulator instead of
// being "acknowledged" into a dead broker. What was written to the socket
// just before the crash is lost, and the checker says so.
func TestAcks0IsAcknowledgedOnWriteAndItsLossIsSeen(t *testing.T) {
	r := twice(t, func() *run {
		r := newRun(t, setup{seed: 2, duration: 40 * time.Second, brokers: 3, rf: 3, parts: 1, minISR: 1, acks: 0, rate: 500})
		r.at(10*time.Second, "crash leader", func() { r.w.Crash(r.node(r.leader(orders0))) })
		r.at(20*time.Second, "restart", func() { r.w.Restart(r.node(0)) })
		return r
	})
	n := r.count()
	assert.Zero(t, n[journal.Info], "acks=0 sends are acknowledged, not unknown")
	require.Positive(t, n[journal.Ok])
	elected := events(r, journal.EvElected, orders0)
	require.NotEmpty(t, elected)
	var whileDead int
	for _, op := range r.c.History.Ops() {
		if op.F == journal.OpSend && op.Type == journal.Ok {
			assert.Equal(t, int64(-1), op.Offset, "acks=0 has no offset")
			if op.Time > clock.At(10*time.Second+50*time.Millisecond) && op.Time < elected[0].Time {
				whileDead++
			}
		}
	}
	assert.Zero(t, whileDead, "no acks=0 write is acknowledged into a dead leader once the connection is reset")
	res := r.durability()
	logViolations(t, r)
	assert.False(t, res.OK(), "what was written to the socket just before the crash is lost")
	assert.Less(t, len(res.Violations), 100, "only the few records in flight at the crash")
}

// An isolated leader that still reaches its clients keeps their requests:
// Kafka's producer waits on a live connection until request.timeout.ms
// (30 s) and the leader's purgatory answers REQUEST_TIMED_OUT, whatever the
// metadata says meanwhile; it does not move the request to the new leader
// after one broker session.
func TestIsolatedLeaderTimesOutRequestsOnALiveConnection(t *testing.T) {
	r := twice(t, func() *run {
		r := newRun(t, setup{seed: 1, duration: 70 * time.Second, stopAt: 45 * time.Second, brokers: 3, rf: 3, parts: 1, minISR: 2, acks: config.AcksAll, idem: true, rate: 100,
			configure: func(s *cluster.Spec) {
				// One attempt per batch: the first timeout is the outcome.
				s.Producers[0].DeliveryTimeout = 30*time.Second + 5*time.Millisecond
			}})
		r.at(10*time.Second, "cut the leader off from the controller and its followers", func() {
			leader := r.node(r.leader(orders0))
			for _, other := range []protocol.BrokerID{1, 2} {
				r.w.Network().Block(leader, r.node(other))
				r.w.Network().Block(r.node(other), leader)
			}
			r.w.Network().Block(leader, r.c.Dir.Controller)
			r.w.Network().Block(r.c.Dir.Controller, leader)
		})
		r.at(50*time.Second, "heal", func() { r.w.Network().Heal() })
		return r
	})
	var timedOut, okBetween int
	firstTimeout := clock.Time(-1)
	for _, op := range r.c.History.Ops() {
		if op.F != journal.OpSend {
			continue
		}
		switch {
		case op.Type == journal.Info && op.Err == protocol.RequestTimedOut:
			timedOut++
			if firstTimeout < 0 {
				firstTimeout = op.Time
			}
		case op.Type == journal.Ok && op.Time > clock.At(10100*time.Millisecond) && op.Time < clock.At(39*time.Second):
			okBetween++
		}
	}
	require.Positive(t, timedOut, "writes on the isolated leader end REQUEST_TIMED_OUT")
	assert.GreaterOrEqual(t, firstTimeout, clock.At(39500*time.Millisecond), "30 s after the send, not after one session")
	assert.Zero(t, okBetween, "nothing resumes before the timeout")
}
