package controller

import (
	"slices"
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

// threeBrokers is a lone controller of three registered, unfenced brokers
// (epochs 10, 11, 12) and one partition of RF 3 led by broker 0.
func threeBrokers(t *testing.T, cfg config.BrokerConfig, minISR int) (*Controller, *nodetest.Env) {
	t.Helper()
	env := nodetest.NewEnv()
	ctl := New(cfg, []config.TopicConfig{{Name: "orders", Partitions: 1, ReplicationFactor: 3, MinInsyncReplicas: &minISR}}, node.Directory{Controller: 3, Brokers: []sim.NodeID{0, 1, 2}}, nil)
	ctl.Start(env)
	for i := range ctl.st.Brokers {
		ctl.st.Brokers[i] = metadata.BrokerRecord{Registered: true, Incarnation: uint64(100 + i), Epoch: int64(10 + i)}
	}
	require.Equal(t, protocol.BrokerID(0), ctl.st.Partitions.At(0).Leader)
	return ctl, env
}

func heartbeat(ctl *Controller, env *nodetest.Env, b protocol.BrokerID, version int64, shutdown bool) protocol.BrokerHeartbeatResponse {
	ctl.Receive(env, sim.NodeID(b), protocol.BrokerHeartbeat{Broker: b, BrokerEpoch: int64(10 + b), MetadataVersion: version, WantShutDown: shutdown})
	resp, _ := nodetest.Last[protocol.BrokerHeartbeatResponse](env)
	return resp
}

// KRaft's controlled shutdown (BrokerHeartbeatManager,
// ReplicationControlManager.handleBrokerInControlledShutdown): the first
// WantShutDown moves the broker's leaderships to another ISR member and
// takes it out of the ISR at once, but it is let go (SHUTDOWN_NOW, and
// fenced) only once every active broker has reported metadata at least as
// new as that change.
func TestControlledShutdownMovesLeadershipFirst(t *testing.T) {
	ctl, env := threeBrokers(t, config.DefaultBrokerConfig(), 2)
	resp := heartbeat(ctl, env, 0, ctl.st.Version, true)
	assert.False(t, resp.ShouldShutDown, "it still leads until the controller moves the leadership")
	p := ctl.st.Partitions.At(0)
	assert.Equal(t, protocol.BrokerID(1), p.Leader, "the first other ISR member leads")
	assert.Equal(t, []protocol.BrokerID{1, 2}, p.ISR, "out of the ISR")
	assert.True(t, ctl.st.Brokers[0].InControlledShutdown)
	changed := ctl.st.Version

	assert.False(t, heartbeat(ctl, env, 0, changed, true).ShouldShutDown, "peers have not seen the change yet")
	heartbeat(ctl, env, 1, changed, false)
	assert.False(t, heartbeat(ctl, env, 0, changed, true).ShouldShutDown, "broker 2 has not seen it")
	heartbeat(ctl, env, 2, changed, false)
	resp = heartbeat(ctl, env, 0, changed, true)
	assert.True(t, resp.ShouldShutDown, "it leads nothing and its peers caught up")
	assert.True(t, resp.Fenced)
	assert.True(t, ctl.st.Brokers[0].Fenced)
}

// A broker in controlled shutdown is not an acceptable leader or ISR
// member (ClusterControlManager.isActive): the last ISR member keeps its
// place without ELR, and the partition waits leaderless for it, as
// PartitionChangeBuilder never writes an empty ISR.
func TestControlledShutdownOfTheLastISRMemberLeavesNoLeader(t *testing.T) {
	ctl, env := threeBrokers(t, config.DefaultBrokerConfig(), 1)
	p := ctl.st.Partitions.At(0)
	p.ISR = []protocol.BrokerID{0}
	ctl.st.Partitions.Set(0, p)
	heartbeat(ctl, env, 0, ctl.st.Version, true)
	p = ctl.st.Partitions.At(0)
	assert.Equal(t, protocol.NoLeader, p.Leader)
	assert.Equal(t, []protocol.BrokerID{0}, p.ISR)
	heartbeat(ctl, env, 1, ctl.st.Version, false)
	heartbeat(ctl, env, 2, ctl.st.Version, false)
	assert.True(t, heartbeat(ctl, env, 0, ctl.st.Version, true).ShouldShutDown, "it leads nothing, and its peers know")
}

// A broker that leads nothing is let go at its first request
// (UNFENCED + wantShutDown → SHUTDOWN_NOW) and fenced, which takes it out
// of the ISRs.
func TestControlledShutdownOfAFollowerIsImmediate(t *testing.T) {
	ctl, env := threeBrokers(t, config.DefaultBrokerConfig(), 2)
	resp := heartbeat(ctl, env, 2, ctl.st.Version, true)
	assert.True(t, resp.ShouldShutDown)
	assert.Equal(t, []protocol.BrokerID{0, 1}, ctl.st.Partitions.At(0).ISR)
}

// KIP-966 with KAFKA-18635: a broker that registers again after a clean
// shutdown — its marker's PreviousBrokerEpoch is the epoch it last
// registered with — keeps its ELR membership; after an unclean one (no
// marker: -1) or with a marker from an older incarnation, it leaves the
// ISR and ELR of every partition.
func TestCleanRestartKeepsELRMembership(t *testing.T) {
	for _, tt := range []struct {
		name     string
		previous int64
		keeps    bool
	}{
		{"clean: the marker holds the registered epoch", 10, true},
		{"unclean: no marker", -1, false},
		{"a marker from an older incarnation", 9, false},
	} {
		cfg := config.DefaultBrokerConfig()
		cfg.ELR = true
		ctl, env := threeBrokers(t, cfg, 3)
		ctl.st.Brokers[0].Fenced = true // its controlled shutdown ended
		p := ctl.st.Partitions.At(0)
		p.Leader, p.ISR, p.ELR = 1, []protocol.BrokerID{1}, []protocol.BrokerID{0, 2}
		ctl.st.Partitions.Set(0, p)
		ctl.Receive(env, 0, protocol.BrokerRegistration{Broker: 0, Incarnation: 999, PreviousBrokerEpoch: tt.previous})
		assert.Equal(t, tt.keeps, slices.Contains(ctl.st.Partitions.At(0).ELR, 0), "%s: ELR %v", tt.name, ctl.st.Partitions.At(0).ELR)
	}
}
