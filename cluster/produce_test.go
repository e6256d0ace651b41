package cluster

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tideline-sim/tideline/cluster/config"
	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/cluster/node"
	"github.com/tideline-sim/tideline/cluster/protocol"
	"github.com/tideline-sim/tideline/sim"
)

// Kafka never answers an acks=0 produce; when one fails (here: this broker
// is not the leader) it closes the connection, which makes the client
// refresh its metadata (KafkaApis.handleProduceRequest, closeConnection).
func TestAcks0ErrorClosesTheConnectionInsteadOfAnswering(t *testing.T) {
	env := newFakeEnv()
	b, r := leaderWithLog(env, 3, nil)
	r.state.Leader, r.state.LeaderEpoch = 1, 4
	b.makeFollower(r)
	env.sent = nil
	b.handleProduce(7, protocol.ProduceRequest{RequestID: 1, Connection: 9, TP: orders0, Acks: 0, ProducerID: -1, Payloads: []int64{1}})
	require.Len(t, env.sent, 1)
	assert.Equal(t, protocol.ConnectionClosed{}, env.sent[0].msg)

	env.sent = nil
	b.handleProduce(7, protocol.ProduceRequest{RequestID: 2, Connection: 9, TP: orders0, Acks: 1, ProducerID: -1, Payloads: []int64{1}})
	resp, ok := last[*protocol.ProduceResponse](env)
	require.True(t, ok, "acks=1 is answered")
	assert.Equal(t, protocol.NotLeaderOrFollower, resp.Err)
}

// A successful acks=0 produce is appended and not answered.
func TestAcks0SuccessIsNotAnswered(t *testing.T) {
	env := newFakeEnv()
	b, r := leaderWithLog(env, 3, nil)
	env.sent = nil
	b.handleProduce(7, protocol.ProduceRequest{RequestID: 1, Connection: 9, TP: orders0, Acks: 0, ProducerID: -1, Payloads: []int64{1, 2}})
	assert.Equal(t, int64(2), r.log.leo())
	_, answered := last[*protocol.ProduceResponse](env)
	assert.False(t, answered)
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
	env := newFakeEnv()
	dir := node.Directory{Controller: 3, Brokers: []sim.NodeID{0, 1, 2}}
	cfg := config.DefaultProducerConfig("orders")
	cfg.Idempotence, cfg.PartitionsToProduce = false, []int32{0}
	p := NewProducer(0, cfg, dir, journal.HistoryOf())
	p.Start(env)
	answer := func(version int64, leader protocol.BrokerID) {
		p.Receive(env, 1, protocol.MetadataResponse{RequestID: p.meta.request, Image: protocol.Image{Version: version,
			Partitions: []protocol.PartitionState{{TP: orders0, Replicas: []protocol.BrokerID{0}, ISR: []protocol.BrokerID{0}, Leader: leader}}}})
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
	_, asked := last[protocol.MetadataRequest](env)
	assert.True(t, asked, "the backoff's end tries the batch again, asking who leads")
}
