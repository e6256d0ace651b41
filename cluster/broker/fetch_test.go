package broker

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tideline-sim/tideline/cluster/internal/nodetest"
	"github.com/tideline-sim/tideline/cluster/protocol"
)

// Kafka's Partition.readRecords checks a follower's last fetched epoch for
// divergence before it reads, so a follower whose divergent suffix runs past
// the leader's log end is told where to truncate, not OFFSET_OUT_OF_RANGE.
func TestFetchDivergenceIsCheckedBeforeOffsetOutOfRange(t *testing.T) {
	env := nodetest.NewEnv()
	// Leader: epoch 1 at offsets 0-4, epoch 3 from 5 (log end 7).
	b, _ := leaderWithLog(env, 3, append(records(0, 5, 1), records(5, 2, 3)...))
	// A follower that led at epoch 2 alone holds offsets 5-9 at epoch 2.
	resp := replicaFetch(t, env, b, protocol.FetchRequest{RequestID: 1, ReplicaID: 1, BrokerEpoch: 1, TP: orders0,
		CurrentLeaderEpoch: 3, FetchOffset: 10, LastFetchedEpoch: 2, MaxRecords: 100})
	require.Equal(t, protocol.None, resp.Err, "divergence must be answered before the offset range check")
	require.Equal(t, int32(1), resp.DivergingEpoch)
	require.Equal(t, int64(5), resp.DivergingEndOffset)
}

// Without a last fetched epoch, an offset past the log end is out of range.
func TestFetchPastLogEndIsOutOfRange(t *testing.T) {
	env := nodetest.NewEnv()
	b, _ := leaderWithLog(env, 3, records(0, 5, 3))
	resp := replicaFetch(t, env, b, protocol.FetchRequest{RequestID: 1, ReplicaID: 1, BrokerEpoch: 1, TP: orders0,
		CurrentLeaderEpoch: 3, FetchOffset: 10, LastFetchedEpoch: protocol.NoEpoch, MaxRecords: 100})
	require.Equal(t, protocol.OffsetOutOfRange, resp.Err)
}

var orders0 = protocol.TopicPartition{Topic: "orders", Partition: 0}
