package controller

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/tideline-sim/tideline/cluster/config"
	"github.com/tideline-sim/tideline/cluster/internal/nodetest"
	"github.com/tideline-sim/tideline/cluster/metadata"
	"github.com/tideline-sim/tideline/cluster/node"
	"github.com/tideline-sim/tideline/cluster/protocol"
	"github.com/tideline-sim/tideline/sim"
)

// KIP-903, the controller's side: an ISR expansion that names a member's
// broker epoch from an earlier incarnation (a stale fetch of a broker that
// since rebooted) is refused with INELIGIBLE_REPLICA; one without epochs
// (-1: a leader before 3.5) cannot be checked and is taken. The leader's side:
// cluster.TestKIP903BrokerEpochInISRChanges.
func TestKIP903RejectsStaleBrokerEpoch(t *testing.T) {
	for _, tt := range []struct {
		name   string
		epochs []int64
		want   protocol.ErrorCode
	}{
		{"before 3.5: no epochs (-1)", []int64{-1, -1, -1}, protocol.None},
		{"current epochs", []int64{10, 11, 12}, protocol.None},
		{"broker 2's previous incarnation", []int64{10, 11, 7}, protocol.IneligibleReplica},
	} {
		ctl := New(config.DefaultBrokerConfig(), []config.TopicConfig{{Name: "orders", Partitions: 1, ReplicationFactor: 3}}, node.Directory{Controller: 3, Brokers: []sim.NodeID{0, 1, 2}}, nil)
		ctl.Start(nodetest.NewEnv())
		for i := range ctl.st.Brokers {
			ctl.st.Brokers[i] = metadata.BrokerRecord{Registered: true, Epoch: int64(10 + i)}
		}
		p := ctl.st.Partitions.At(0)
		p.ISR = []protocol.BrokerID{0, 1}
		ctl.st.Partitions.Set(0, p)
		resp := ctl.alterPartition(protocol.AlterPartitionRequest{RequestID: 1, Broker: 0, BrokerEpoch: 10, TP: p.TP, LeaderEpoch: p.LeaderEpoch,
			PartitionEpoch: p.PartitionEpoch, NewISR: []protocol.BrokerID{0, 1, 2}, ISREpochs: tt.epochs})
		assert.Equal(t, tt.want, resp.Err, tt.name)
	}
}
