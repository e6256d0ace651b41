package raft

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tideline-sim/tideline/cluster/config"
	"github.com/tideline-sim/tideline/cluster/internal/nodetest"
	"github.com/tideline-sim/tideline/sim"
)

// voterWithLog starts voter 0 of three with a log of the given entries'
// epochs on its disk.
func voterWithLog(epochs ...int32) (*Quorum[int], *nodetest.Env) {
	env := nodetest.NewEnv()
	log := env.Disk().Open("log")
	for i, e := range epochs {
		log.Append(Entry[int]{Epoch: e, Value: i})
	}
	log.Sync()
	q := New[int](config.DefaultBrokerConfig().Quorum, 0, 0, []sim.NodeID{0, 1, 2}, "log", nil, nil, nil)
	q.Start(env, false)
	return q, env
}

// Raft's election restriction (KIP-595's vote handling): a voter grants
// its vote only to a candidate whose log is at least as up to date as its
// own — a later last epoch, or the same epoch and at least as long.
func TestVoteOnlyForUpToDateLog(t *testing.T) {
	for _, tt := range []struct {
		name       string
		lastEpoch  int32
		lastOffset int64
		granted    bool
	}{
		{"shorter log, same epoch", 1, 1, false},
		{"older last epoch, longer log", 0, 5, false},
		{"as long, same epoch", 1, 2, true},
		{"later last epoch, shorter log", 2, 1, true},
	} {
		q, env := voterWithLog(1, 1)
		require.True(t, q.Handle(1, VoteRequest{Epoch: 3, Candidate: 1, LastEpoch: tt.lastEpoch, LastOffset: tt.lastOffset}))
		resp, ok := nodetest.Last[VoteResponse](env)
		require.True(t, ok, tt.name)
		assert.Equal(t, tt.granted, resp.Granted, tt.name)
	}
}

// The leader's high watermark moves only over an entry of its own epoch
// (Raft §5.4.2, KafkaRaftClient's leader state): a majority holding an
// entry of an earlier epoch commits nothing until the new leader's own
// LeaderChange record reaches a majority.
func TestCommitOnlyOwnEpoch(t *testing.T) {
	q, _ := voterWithLog(1, 1)
	q.epoch = 2
	q.becomeLeader(true) // appends its LeaderChange at offset 2, in epoch 2
	require.True(t, q.Leading())
	q.Handle(1, FetchRequest{RequestID: 1, Epoch: q.Epoch(), Replica: 1, FetchOffset: 2, LastFetchedEpoch: 1})
	assert.Equal(t, int64(0), q.HW(), "a majority holds the old epoch's entries, not the leader's own")
	q.Handle(1, FetchRequest{RequestID: 2, Epoch: q.Epoch(), Replica: 1, FetchOffset: 3, LastFetchedEpoch: q.Epoch()})
	assert.Equal(t, int64(3), q.HW())
}
