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

// KIP-279. A follower that led at epoch 2 holds offsets 5-7 at epoch 2;
// the leader has epoch 1 at 5-6 and epoch 3 from 7. Told that epoch 1 ends
// at 7, a 2.0 follower sees it lacks epoch 1, cuts to where its own epoch 0
// ends (5) and agrees with the leader; a 1.1 follower cuts to min(7, 8) and
// keeps offsets 5-6 from epoch 2 that the leader wrote at epoch 1.
func TestKIP279IterativeTruncation(t *testing.T) {
	for _, tt := range []struct {
		version string
		want    int64
	}{{"1.1", 7}, {"2.0", 5}} {
		env := nodetest.NewEnv()
		cfg := config.DefaultBrokerConfig()
		cfg.Protocol = protocol.MustProtocol(tt.version)
		b := New(1, cfg, nil, node.Directory{Controller: 3, Brokers: []sim.NodeID{0, 1, 2}}, nil)
		b.env, b.epoch = env, 1
		b.parts = map[protocol.TopicPartition]*replica{}
		r := b.replica(orders0)
		appendRecords(r.log, append(records(0, 5, 0), records(5, 3, 2)...))
		r.state = protocol.PartitionState{TP: orders0, Replicas: []protocol.BrokerID{0, 1, 2}, Leader: 0, LeaderEpoch: 3}
		r.role = roleFollower
		b.truncateOnDivergence(r, 1, 7)
		assert.Equal(t, tt.want, r.log.LEO(), tt.version)
	}
}

// KIP-320. A follower that missed a leader change fetches at epoch 2 from
// the leader of epoch 3: from 2.1 it is fenced; before, it is served and
// counted for the ISR and the high watermark.
func TestKIP320FetchFencing(t *testing.T) {
	for _, tt := range []struct {
		version string
		fenced  bool
	}{{"2.0", false}, {"2.1", true}} {
		env := nodetest.NewEnv()
		b, r := leaderWithLog(env, 3, records(0, 5, 3))
		b.rules = protocol.MustProtocol(tt.version).Rules()
		resp := replicaFetch(t, env, b, protocol.FetchRequest{RequestID: 1, ReplicaID: 1, BrokerEpoch: 1, TP: orders0,
			CurrentLeaderEpoch: 2, FetchOffset: 5, LastFetchedEpoch: 3, MaxRecords: 100})
		if tt.fenced {
			assert.Equal(t, protocol.FencedLeaderEpoch, resp.Err, tt.version)
			assert.Equal(t, int64(-1), r.follower(1).leo)
		} else {
			assert.Equal(t, protocol.None, resp.Err, tt.version)
			assert.Equal(t, int64(5), r.follower(1).leo, "counted for the ISR and HW")
		}
	}
}

// KIP-903. A leader before 3.5 proposes an ISR member without its broker
// epoch (so the controller cannot tell a rebooted broker's stale fetch
// from a live one); from 3.5 it sends the epoch it saw. The controller's
// side: controller.TestKIP903RejectsStaleBrokerEpoch.
func TestKIP903BrokerEpochInISRChanges(t *testing.T) {
	for _, tt := range []struct {
		version     string
		sendsEpochs bool
	}{{"3.4", false}, {"3.5", true}} {
		env := nodetest.NewEnv()
		b, r := leaderWithLog(env, 0, records(0, 5, 0))
		b.rules = protocol.MustProtocol(tt.version).Rules()
		r.state.ISR = []protocol.BrokerID{0, 1}
		r.follower(2).leo, r.follower(2).brokerEpoch = 5, 7 // a fetch of broker 2's previous incarnation
		env.Sent = nil
		b.proposeISR(r, []protocol.BrokerID{0, 1, 2})
		req, ok := nodetest.Last[protocol.AlterPartitionRequest](env)
		require.True(t, ok)
		require.Len(t, req.ISREpochs, 3, tt.version)
		if tt.sendsEpochs {
			assert.Equal(t, int64(7), req.ISREpochs[2], "the epoch of the fetch the leader saw")
		} else {
			assert.Equal(t, []int64{-1, -1, -1}, req.ISREpochs, "no epochs: -1 for each")
		}
	}
}

// KIP-497: the leader counts a follower it proposed to add to the ISR for
// the high watermark at once (the maximal ISR). Counting it only once the
// controller commits (tideline.isr: lazy) lets the high watermark run past
// the joining follower while the change is in flight, so it joins the ISR
// behind the high watermark (the monitor's isr-admitted-behind) and could
// be elected without committed records.
func TestKIP497MaximalISR(t *testing.T) {
	for _, lazy := range []bool{true, false} {
		env := nodetest.NewEnv()
		b, r := leaderWithLog(env, 0, records(0, 10, 0))
		r.lazyISR = lazy
		r.state.ISR = []protocol.BrokerID{0, 1}
		r.follower(1).leo = 10
		r.follower(2).leo, r.follower(2).brokerEpoch = 6, 1
		r.log.HW = 6
		r.pendingISR = []protocol.BrokerID{0, 1, 2} // broker 2 caught up to the HW (6) and was proposed
		b.maybeIncrementHW(r)
		if lazy {
			assert.Equal(t, int64(10), r.log.HW, "lazy: the HW leaves the joining follower behind")
		} else {
			assert.Equal(t, int64(6), r.log.HW, "maximal: the HW waits for the joining follower")
		}
	}
}

// Partition.handleAlterPartitionError: an ISR expansion answered with an
// error that does not say it was refused (INVALID_UPDATE_VERSION: an
// earlier copy of the request may have committed) leaves the leader in the
// pending state, counting the joining follower for the HW until metadata
// settles it; only INELIGIBLE_REPLICA, the controller's word that nothing
// was applied, returns it to the committed ISR. Dropping the pending member
// on any error let a leader acknowledge writes the new ISR member lacked
// (found by the configuration swarm: explore seed 8504, a zombie-ack and
// lost acks=all writes after a preferred election).
func TestAlterPartitionErrorKeepsMaximalISR(t *testing.T) {
	for _, tt := range []struct {
		err  protocol.ErrorCode
		want int64
	}{
		{protocol.InvalidUpdateVersion, 6},
		{protocol.FencedLeaderEpoch, 6},
		{protocol.IneligibleReplica, 10},
	} {
		env := nodetest.NewEnv()
		b, r := leaderWithLog(env, 0, records(0, 10, 0))
		r.state.ISR = []protocol.BrokerID{0, 1}
		r.follower(1).leo = 10
		r.follower(2).leo, r.follower(2).brokerEpoch = 6, 1
		r.log.HW = 6
		b.proposeISR(r, []protocol.BrokerID{0, 1, 2})
		req, ok := nodetest.Last[protocol.AlterPartitionRequest](env)
		require.True(t, ok)
		b.handleAlterPartitionResponse(protocol.AlterPartitionResponse{RequestID: req.RequestID, TP: r.tp, Err: tt.err})
		b.maybeIncrementHW(r)
		assert.Equal(t, tt.want, r.log.HW, "%v", tt.err)
	}
}
