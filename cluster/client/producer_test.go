package client

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tideline-sim/tideline/clock"
	"github.com/tideline-sim/tideline/cluster/config"
	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/cluster/node"
	"github.com/tideline-sim/tideline/cluster/protocol"
	"github.com/tideline-sim/tideline/sim"
)

// recordingEnv is a client's world reduced to what a unit test needs: the
// messages sent and the timers armed are kept for the test to read and
// fire by hand; time stands still.
type recordingEnv struct {
	sent  []sim.Message
	armed []sim.Timer
}

func (e *recordingEnv) Now() clock.Time                  { return 0 }
func (e *recordingEnv) Self() sim.NodeID                 { return 9 }
func (e *recordingEnv) Name() string                     { return "producer-0" }
func (e *recordingEnv) Send(_ sim.NodeID, m sim.Message) { e.sent = append(e.sent, m) }
func (e *recordingEnv) CancelTimer(sim.TimerID)          {}
func (e *recordingEnv) Rand() *rand.Rand                 { return rand.New(rand.NewPCG(1, 2)) }
func (e *recordingEnv) Disk() *sim.Disk                  { return nil }
func (e *recordingEnv) Log(string, ...any)               {}
func (e *recordingEnv) SetTimer(_ time.Duration, t sim.Timer) sim.TimerID {
	e.armed = append(e.armed, t)
	return sim.TimerID(len(e.armed))
}

// The RF=1 wedge (issue 22): a batch waiting for its leader's connection
// when the leader vanished from the metadata backs off, and its backoff
// timer must send it again (Kafka's Sender retries a batch until
// delivery.timeout.ms). Before the fix the batch kept its awaiting-the-
// connection mark, took its own retry timer for a stale one, and only a
// metadata answer that changed the view could move it: a restarted
// broker's older answer ended that chain and the partition's writes stayed
// pending to the end of the run.
func TestBatchWaitingForAVanishedLeaderRetriesOnItsBackoff(t *testing.T) {
	env := &recordingEnv{}
	dir := node.Directory{Controller: 3, Brokers: []sim.NodeID{0, 1, 2}}
	cfg := config.DefaultProducerConfig("orders")
	cfg.Idempotence, cfg.PartitionsToProduce = false, []int32{0}
	p := NewProducer(0, cfg, dir, journal.HistoryOf())
	p.Start(env)
	answer := func(version int64, leader protocol.BrokerID) {
		p.Receive(env, 1, protocol.MetadataResponse{RequestID: p.meta.request, Image: protocol.Image{Version: version,
			Partitions: []protocol.PartitionState{{TP: protocol.TopicPartition{Topic: "orders"}, Replicas: []protocol.BrokerID{0}, ISR: []protocol.BrokerID{0}, Leader: leader}}}})
	}
	answer(5, 0)
	p.produceOne() // the leader's connection is not open yet: the batch waits for it
	require.NotNil(t, p.parts[0].inflight)
	require.True(t, p.parts[0].inflight.awaitingConn)

	answer(6, protocol.NoLeader) // the leader is fenced: the batch backs off
	answer(4, protocol.NoLeader) // a stale answer (a restarted broker's) changes nothing
	require.Zero(t, p.meta.request, "no metadata request left in flight")

	var retry *node.Timer
	for _, tm := range env.armed {
		if t, ok := tm.(*node.Timer); ok && t.Kind == node.TProduceRetry {
			retry = t
		}
	}
	require.NotNil(t, retry)
	env.sent = nil
	p.Timer(env, retry)
	asked := slices.ContainsFunc(env.sent, func(m sim.Message) bool { _, ok := m.(protocol.MetadataRequest); return ok })
	assert.True(t, asked, "the backoff's end tries the batch again, asking who leads")
}
