package broker

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tideline-sim/tideline/cluster/config"
	"github.com/tideline-sim/tideline/cluster/internal/nodetest"
	"github.com/tideline-sim/tideline/cluster/node"
	"github.com/tideline-sim/tideline/cluster/protocol"
	"github.com/tideline-sim/tideline/sim"
)

// Kafka never answers an acks=0 produce; when one fails (here: this broker
// is not the leader) it closes the connection, which makes the client
// refresh its metadata (KafkaApis.handleProduceRequest, closeConnection).
func TestAcks0ErrorClosesTheConnectionInsteadOfAnswering(t *testing.T) {
	env := nodetest.NewEnv()
	b, r := leaderWithLog(env, 3, nil)
	r.state.Leader, r.state.LeaderEpoch = 1, 4
	b.makeFollower(r)
	env.Sent = nil
	b.handleProduce(7, protocol.ProduceRequest{RequestID: 1, Connection: 9, Ordinal: 1, Acks: 0, ProducerID: -1, Partitions: []protocol.ProducePartition{{TP: orders0, BaseSequence: -1, Payloads: []int64{1}}}})
	require.Len(t, env.Sent, 1)
	assert.Equal(t, protocol.ConnectionClosed{}, env.Sent[0].Msg)

	env.Sent = nil
	b.handleProduce(7, protocol.ProduceRequest{RequestID: 2, Connection: 9, Ordinal: 2, Acks: 1, ProducerID: -1, Partitions: []protocol.ProducePartition{{TP: orders0, BaseSequence: -1, Payloads: []int64{1}}}})
	resp, ok := nodetest.Last[*protocol.ProduceResponse](env)
	require.True(t, ok, "acks=1 is answered")
	assert.Equal(t, protocol.NotLeaderOrFollower, resp.Partitions[0].Err)
}

// A successful acks=0 produce is appended and not answered.
func TestAcks0SuccessIsNotAnswered(t *testing.T) {
	env := nodetest.NewEnv()
	b, r := leaderWithLog(env, 3, nil)
	env.Sent = nil
	b.handleProduce(7, protocol.ProduceRequest{RequestID: 1, Connection: 9, Ordinal: 1, Acks: 0, ProducerID: -1, Partitions: []protocol.ProducePartition{{TP: orders0, BaseSequence: -1, Payloads: []int64{1, 2}}}})
	assert.Equal(t, int64(2), r.log.LEO())
	_, answered := nodetest.Last[*protocol.ProduceResponse](env)
	assert.False(t, answered)
}

// One request carries a batch for each partition the broker leads, as
// Kafka's Sender drains them; an acks=all request is answered once every
// partition's high watermark has passed its batch, each with its own
// offset or error.
func TestProduceRequestCarriesAPartitionEach(t *testing.T) {
	env := nodetest.NewEnv()
	b, r := leaderWithLog(env, 3, nil)
	other := protocol.TopicPartition{Topic: "orders", Partition: 9} // not hosted here
	env.Sent = nil
	b.handleProduce(7, protocol.ProduceRequest{RequestID: 1, Connection: 9, Ordinal: 1, Acks: 1, ProducerID: -1, Timeout: 30000,
		Partitions: []protocol.ProducePartition{{TP: orders0, BaseSequence: -1, Payloads: []int64{1, 2}}, {TP: other, BaseSequence: -1, Payloads: []int64{3}}}})
	resp, ok := nodetest.Last[*protocol.ProduceResponse](env)
	require.True(t, ok)
	require.Len(t, resp.Partitions, 2)
	assert.Equal(t, protocol.None, resp.Partitions[0].Err)
	assert.Equal(t, int64(0), resp.Partitions[0].BaseOffset)
	assert.Equal(t, protocol.UnknownTopicOrPartition, resp.Partitions[1].Err)
	assert.Equal(t, int64(2), r.log.LEO())
	// The same request again (a retransmission): answered, not appended.
	env.Sent = nil
	b.handleProduce(7, protocol.ProduceRequest{RequestID: 1, Connection: 9, Ordinal: 1, Acks: 1, ProducerID: -1,
		Partitions: []protocol.ProducePartition{{TP: orders0, BaseSequence: -1, Payloads: []int64{1, 2}}}})
	assert.Equal(t, int64(2), r.log.LEO())
	_, answered := nodetest.Last[*protocol.ProduceResponse](env)
	assert.True(t, answered)
}

// Kafka's SocketServer mutes a connection once it reads a request and
// unmutes it when the response is sent: an acks=all request waiting for
// its followers holds the requests behind it on the same connection,
// however many the client keeps in flight, while another connection's go
// on.
func TestBrokerTakesOneRequestPerConnectionAtATime(t *testing.T) {
	env := nodetest.NewEnv()
	b, r := leaderWithLog(env, 3, nil)
	produce := func(from sim.NodeID, id, conn, ordinal uint64, acks int) {
		b.Receive(env, from, &protocol.ProduceRequest{RequestID: id, Connection: conn, Ordinal: ordinal, Acks: acks, ProducerID: -1, Timeout: 30000,
			Partitions: []protocol.ProducePartition{{TP: orders0, BaseSequence: -1, Payloads: []int64{int64(id)}}}})
	}
	produce(7, 1, 9, 1, config.AcksAll)
	produce(7, 2, 9, 2, config.AcksAll)
	assert.Equal(t, int64(1), r.log.LEO(), "the second request waits: the connection is muted")
	produce(8, 3, 5, 1, 1)
	assert.Equal(t, int64(2), r.log.LEO(), "another connection is not")

	require.Len(t, b.delayed, 1)
	b.Timer(env, &node.Timer{Kind: node.TProduceExpire, ID: b.delayed[0].id}) // the first is answered
	assert.Equal(t, int64(3), r.log.LEO(), "its answer unmutes the connection: the second is taken")
}
