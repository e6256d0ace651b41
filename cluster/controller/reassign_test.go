package controller

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tideline-sim/tideline/cluster/config"
	"github.com/tideline-sim/tideline/cluster/internal/nodetest"
	"github.com/tideline-sim/tideline/cluster/metadata"
	"github.com/tideline-sim/tideline/cluster/node"
	"github.com/tideline-sim/tideline/cluster/protocol"
	"github.com/tideline-sim/tideline/sim"
)

// KIP-455 as KRaft's PartitionReassignmentReplicas does it: the replicas
// become the target followed by the removing ones, the ISR and the leader
// stay; the reassignment completes only when every target replica is in
// the ISR, dropping the removed replicas from replicas and ISR and handing
// a removed leader's partition to the first target replica in the ISR.
func TestReassignmentAddsReplicasThenDropsTheOldOnes(t *testing.T) {
	env := nodetest.NewEnv()
	ctl := New(config.DefaultBrokerConfig(), []config.TopicConfig{{Name: "orders", Partitions: 1, ReplicationFactor: 3}}, node.Directory{Controller: 6, Brokers: []sim.NodeID{0, 1, 2, 3, 4, 5}}, nil)
	ctl.Start(env)
	for i := range ctl.st.Brokers {
		ctl.st.Brokers[i] = metadata.BrokerRecord{Registered: true, Epoch: int64(10 + i)}
	}
	tp := ctl.st.Partitions.At(0).TP
	require.True(t, ctl.Reassign(tp, ids(3, 4, 5)))
	p := ctl.st.Partitions.At(0)
	assert.Equal(t, ids(3, 4, 5, 0, 1, 2), p.Replicas, "target first, then the removing replicas")
	assert.Equal(t, ids(3, 4, 5), p.Adding)
	assert.Equal(t, ids(0, 1, 2), p.Removing)
	assert.Equal(t, protocol.BrokerID(0), p.Leader, "the leader stays while the new replicas copy")
	epoch := p.LeaderEpoch

	grow := func(isr []protocol.BrokerID) protocol.AlterPartitionResponse {
		p := ctl.st.Partitions.At(0)
		return ctl.alterPartition(protocol.AlterPartitionRequest{RequestID: 1, Broker: p.Leader, BrokerEpoch: 10 + int64(p.Leader), TP: tp,
			LeaderEpoch: p.LeaderEpoch, PartitionEpoch: p.PartitionEpoch, NewISR: isr, ISREpochs: []int64{-1, -1, -1, -1, -1, -1}[:len(isr)]})
	}
	require.Equal(t, protocol.None, grow(ids(0, 1, 2, 3, 4)).Err)
	assert.Len(t, ctl.st.Partitions.At(0).Adding, 3, "not complete while broker 5 is out of the ISR")
	require.Equal(t, protocol.None, grow(ids(0, 1, 2, 3, 4, 5)).Err)
	p = ctl.st.Partitions.At(0)
	assert.Equal(t, ids(3, 4, 5), p.Replicas)
	assert.Equal(t, ids(3, 4, 5), p.ISR)
	assert.Empty(t, p.Adding)
	assert.Empty(t, p.Removing)
	assert.Equal(t, protocol.BrokerID(3), p.Leader, "the removed leader hands over to the first target replica")
	assert.Greater(t, p.LeaderEpoch, epoch)
}

// A target of the same replicas changes nothing.
func TestReassignmentToTheSameReplicasIsANoOp(t *testing.T) {
	ctl, _ := threeBrokers(t, config.DefaultBrokerConfig(), 2)
	assert.False(t, ctl.Reassign(ctl.st.Partitions.At(0).TP, ids(0, 1, 2)))
}
