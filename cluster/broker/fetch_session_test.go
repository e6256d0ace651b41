package broker

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tideline-sim/tideline/cluster/internal/nodetest"
	"github.com/tideline-sim/tideline/cluster/protocol"
)

// leaderOf returns broker 0 leading orders/0..n-1 at epoch 1, each with 5
// records, followers 1 and 2 in the ISR.
func leaderOf(env *nodetest.Env, n int) (*Broker, []*replica) {
	b, r0 := leaderWithLog(env, 1, records(0, 5, 1))
	rs := []*replica{r0}
	for p := 1; p < n; p++ {
		tp := protocol.TopicPartition{Topic: "orders", Partition: int32(p)}
		r := b.replica(tp)
		appendRecords(r.log, records(0, 5, 1))
		r.state = protocol.PartitionState{TP: tp, Replicas: []protocol.BrokerID{0, 1, 2}, ISR: []protocol.BrokerID{0, 1, 2}, Leader: 0, LeaderEpoch: 1}
		b.makeLeader(r)
		rs = append(rs, r)
	}
	return b, rs
}

func asks(offsets ...int64) []protocol.FetchRequest {
	var out []protocol.FetchRequest
	for p, off := range offsets {
		out = append(out, protocol.FetchRequest{TP: protocol.TopicPartition{Topic: "orders", Partition: int32(p)},
			CurrentLeaderEpoch: 1, FetchOffset: off, LastFetchedEpoch: 1, MaxRecords: 100})
	}
	return out
}

func answered(resp *protocol.ReplicaFetchResponse) []int32 {
	var ps []int32
	for _, p := range resp.Partitions {
		ps = append(ps, p.TP.Partition)
	}
	return ps
}

// TestFetchSessionSendsOnlyChangedPartitions: KIP-227. A full request opens
// a session and is answered with every partition; later requests name only
// what changed, and their answers carry only the partitions with records,
// a new high watermark or an error (FetchSession.maybeUpdateResponseData).
// A parked session fetch is answered when any of its partitions gets
// records, with that partition alone.
func TestFetchSessionSendsOnlyChangedPartitions(t *testing.T) {
	env := nodetest.NewEnv()
	b, rs := leaderOf(env, 50)
	offsets := make([]int64, 50)
	for i := range offsets {
		offsets[i] = 5
	}
	b.handleReplicaFetch(1, &protocol.ReplicaFetchRequest{RequestID: 1, ReplicaID: 1, BrokerEpoch: 1, SessionEpoch: 0, MaxRecords: 1000, Partitions: asks(offsets...)})
	full, ok := nodetest.Last[*protocol.ReplicaFetchResponse](env)
	require.True(t, ok)
	assert.Len(t, full.Partitions, 50, "a full request's answer names every partition")
	require.NotZero(t, full.SessionID)

	// Nothing changed: the incremental request names nothing and parks.
	env.Sent = nil
	b.handleReplicaFetch(1, &protocol.ReplicaFetchRequest{RequestID: 2, ReplicaID: 1, BrokerEpoch: 1, SessionID: full.SessionID, SessionEpoch: 1, MaxWaitMs: 500, MaxRecords: 1000})
	_, ok = nodetest.Last[*protocol.ReplicaFetchResponse](env)
	assert.False(t, ok, "no partition has records: the fetch waits")

	// Records on one partition wake it, answered once the event is handled.
	appendRecords(rs[17].log, records(5, 2, 1))
	b.wakeParked(rs[17])
	b.afterEvent()
	resp, ok := nodetest.Last[*protocol.ReplicaFetchResponse](env)
	require.True(t, ok)
	assert.Equal(t, []int32{17}, answered(resp), "only the partition that changed")
	require.Len(t, resp.Partitions[0].Batches, 2)

	// A request at a stale session epoch is refused: the follower starts a
	// new session.
	b.handleReplicaFetch(1, &protocol.ReplicaFetchRequest{RequestID: 3, ReplicaID: 1, BrokerEpoch: 1, SessionID: full.SessionID, SessionEpoch: 1, MaxRecords: 1000})
	bad, _ := nodetest.Last[*protocol.ReplicaFetchResponse](env)
	assert.Equal(t, protocol.InvalidFetchSessionEpoch, bad.Err)
}

// The follower's side: an incremental request names the partitions whose
// ask changed and forgets those it no longer fetches
// (FetchSessionHandler.Builder.build).
func TestSessionDeltaNamesOnlyChanges(t *testing.T) {
	sent := asks(5, 5, 5, 5)
	want := asks(5, 7, 5)
	want = append(want[:2], want[3:]...) // partition 2 is dropped
	want = append(want, asks(5, 5, 5, 5, 0)[4])
	changed, forgotten := sessionDelta(sent, want, nil, nil)
	require.Len(t, changed, 2)
	assert.Equal(t, int32(1), changed[0].TP.Partition)
	assert.Equal(t, int64(7), changed[0].FetchOffset)
	assert.Equal(t, int32(4), changed[1].TP.Partition, "a new partition")
	assert.Equal(t, []protocol.TopicPartition{{Topic: "orders", Partition: 2}, {Topic: "orders", Partition: 3}}, forgotten)
}

// KIP-227 (1.1; the version table: protocol.TestProtocolRulesByVersion):
// without it a follower's every fetch is full (no session) and names every
// partition; with it the fetch after the first names only what changed.
func TestKIP227FetchSessions(t *testing.T) {
	for _, tt := range []struct {
		rules      protocol.Rules
		firstEpoch int32
		nextEpoch  int32
		nextNames  int
	}{{protocol.Rules{NoFetchSessions: true}, protocol.FinalEpoch, protocol.FinalEpoch, 3}, {protocol.Rules{}, 0, 1, 0}} {
		env := nodetest.NewEnv()
		b, rs := leaderOf(env, 3)
		b.rules = tt.rules
		b.epoch = 0            // unregistered: the fetcher waits until all three are its
		for _, r := range rs { // broker 1 now leads them: broker 0 follows
			r.state.Leader, r.state.LeaderEpoch = 1, 2
			b.makeFollower(r)
		}
		b.epoch = 1
		b.sendReplicaFetch(b.fetchers[1])
		first, ok := nodetest.Last[*protocol.ReplicaFetchRequest](env)
		require.True(t, ok)
		assert.Equal(t, tt.firstEpoch, first.SessionEpoch)
		assert.Len(t, first.Partitions, 3)
		var parts []protocol.FetchResponse
		for _, p := range first.Partitions {
			parts = append(parts, protocol.FetchResponse{TP: p.TP, HighWatermark: 5, LogEndOffset: 5, LeaderEpoch: 2, DivergingEpoch: protocol.NoEpoch})
		}
		b.handleReplicaFetchResponse(1, &protocol.ReplicaFetchResponse{RequestID: first.RequestID, SessionID: 77, Partitions: parts})
		next, _ := nodetest.Last[*protocol.ReplicaFetchRequest](env)
		require.NotEqual(t, first.RequestID, next.RequestID)
		assert.Equal(t, tt.nextEpoch, next.SessionEpoch)
		assert.Len(t, next.Partitions, tt.nextNames)
	}
}
