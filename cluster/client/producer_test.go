package client

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tideline-sim/tideline/cluster/config"
	"github.com/tideline-sim/tideline/cluster/internal/nodetest"
	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/cluster/node"
	"github.com/tideline-sim/tideline/cluster/protocol"
	"github.com/tideline-sim/tideline/sim"
)

// The RF=1 wedge (issue 22): a batch waiting for its leader's connection
// when the leader vanished from the metadata backs off, and its backoff
// timer must send it again (Kafka's Sender retries a batch until
// delivery.timeout.ms). Before the fix the batch kept its awaiting-the-
// connection mark, took its own retry timer for a stale one, and only a
// metadata answer that changed the view could move it: a restarted
// broker's older answer ended that chain and the partition's writes stayed
// pending to the end of the run.
func TestBatchWaitingForAVanishedLeaderRetriesOnItsBackoff(t *testing.T) {
	env := nodetest.NewEnv()
	dir := node.Directory{Controller: 3, Brokers: []sim.NodeID{0, 1, 2}}
	cfg := config.DefaultProducerConfig("orders")
	cfg.Idempotence, cfg.PartitionsToProduce = false, []int32{0}
	p := NewProducer(0, cfg, dir, journal.HistoryOf(), &journal.ProducerMetrics{})
	p.Start(env)
	answer := func(version int64, leader protocol.BrokerID) {
		p.Receive(env, 1, protocol.MetadataResponse{RequestID: p.meta.request, Image: protocol.Image{Version: version,
			Partitions: protocol.TableOf(protocol.PartitionState{TP: protocol.TopicPartition{Topic: "orders"}, Replicas: []protocol.BrokerID{0}, ISR: []protocol.BrokerID{0}, Leader: leader})}})
	}
	answer(5, 0)
	p.produceOne() // the leader's connection is not open yet: the record waits for it
	require.Len(t, p.parts[0].queue, 1)

	answer(6, protocol.NoLeader) // the leader is fenced: the batch backs off
	answer(4, protocol.NoLeader) // a stale answer (a restarted broker's) changes nothing
	require.Zero(t, p.meta.request, "no metadata request left in flight")

	var retry *node.Timer
	for _, tm := range env.Armed {
		if t, ok := tm.(*node.Timer); ok && t.Kind == node.TLinger {
			retry = t
		}
	}
	require.NotNil(t, retry)
	env.Sent = nil
	p.Timer(env, retry)
	_, asked := nodetest.Last[protocol.MetadataRequest](env)
	assert.True(t, asked, "the backoff's end tries the batch again, asking who leads")
}
