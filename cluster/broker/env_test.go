package broker

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tideline-sim/tideline/cluster/config"
	"github.com/tideline-sim/tideline/cluster/internal/nodetest"
	"github.com/tideline-sim/tideline/cluster/node"
	"github.com/tideline-sim/tideline/cluster/protocol"
	"github.com/tideline-sim/tideline/cluster/storage"
	"github.com/tideline-sim/tideline/sim"
)

// leaderWithLog returns broker 0 leading orders/0 at epoch with the given
// records in its log, ISR {0,1,2}.
func leaderWithLog(env *nodetest.Env, epoch int32, recs []protocol.Record) (*Broker, *replica) {
	dir := node.Directory{Controller: 3, Brokers: []sim.NodeID{0, 1, 2}}
	b := New(0, config.DefaultBrokerConfig(), nil, dir, nil)
	b.env, b.epoch = env, 1
	b.parts = map[protocol.TopicPartition]*replica{}
	b.sessions = map[sim.NodeID]*produceSession{}
	tp := protocol.TopicPartition{Topic: "orders", Partition: 0}
	r := b.replica(tp)
	appendRecords(r.log, recs)
	r.state = protocol.PartitionState{TP: tp, Replicas: []protocol.BrokerID{0, 1, 2}, ISR: []protocol.BrokerID{0, 1, 2}, Leader: 0, LeaderEpoch: epoch}
	b.makeLeader(r)
	return b, r
}

// appendRecords appends recs to l, a batch a record.
func appendRecords(l *storage.Log, recs []protocol.Record) {
	for _, r := range recs {
		l.Append(&protocol.Batch{BaseOffset: r.Offset, ProducerID: r.ProducerID, Payloads: []int64{r.Payload}, BaseSequence: r.Sequence,
			Epoch: r.Epoch, ProducerEpoch: r.ProducerEpoch})
	}
}

// records returns n records from offset at epoch.
func records(offset int64, n int, epoch int32) []protocol.Record {
	recs := make([]protocol.Record, n)
	for i := range recs {
		recs[i] = protocol.Record{Offset: offset + int64(i), Epoch: epoch, ProducerID: -1, Sequence: -1, Payload: offset + int64(i)}
	}
	return recs
}

// replicaFetch sends leader b one follower's sessionless fetch of one
// partition (no wait) and returns the answer for it.
func replicaFetch(t *testing.T, env *nodetest.Env, b *Broker, p protocol.FetchRequest) protocol.FetchResponse {
	t.Helper()
	b.handleReplicaFetch(1, &protocol.ReplicaFetchRequest{RequestID: p.RequestID, ReplicaID: p.ReplicaID, BrokerEpoch: p.BrokerEpoch,
		SessionEpoch: protocol.FinalEpoch, MaxRecords: 1000, Partitions: []protocol.FetchRequest{p}})
	resp, ok := nodetest.Last[*protocol.ReplicaFetchResponse](env)
	require.True(t, ok)
	require.Len(t, resp.Partitions, 1)
	return resp.Partitions[0]
}
