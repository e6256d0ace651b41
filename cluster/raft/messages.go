package raft

import (
	"fmt"

	"github.com/tideline-sim/tideline/cluster/protocol"
)

// The controller quorum's messages (KIP-595). Voters are named by their
// index among the controllers.

// VoteRequest asks for a vote in Epoch, or, with PreVote, whether one
// would be granted (KIP-996) without anyone changing epoch.
type VoteRequest struct {
	Epoch      int32
	Candidate  int32
	LastEpoch  int32
	LastOffset int64
	PreVote    bool
}

// VoteResponse answers a VoteRequest.
type VoteResponse struct {
	Epoch   int32
	Voter   int32
	Leader  int32 // the leader the voter knows, -1 if none
	Granted bool
	PreVote bool
}

// BeginQuorumEpoch is a new leader announcing itself.
type BeginQuorumEpoch struct {
	Epoch  int32
	Leader int32
}

// EndQuorumEpoch is a leader resigning its epoch as it shuts down
// (KIP-595): the other voters, in PreferredSuccessors order (by how far
// each had fetched, furthest first), start their election at once or after
// a short backoff instead of waiting out the fetch timeout.
type EndQuorumEpoch struct {
	Epoch               int32
	Leader              int32
	PreferredSuccessors []int32
}

// BeginQuorumEpochResponse acknowledges a BeginQuorumEpoch.
type BeginQuorumEpochResponse struct {
	Epoch int32
	Voter int32
}

// FetchRequest is a voter fetching the metadata log from the leader.
type FetchRequest struct {
	RequestID        uint64
	Epoch            int32
	Replica          int32
	FetchOffset      int64
	LastFetchedEpoch int32
}

// FetchResponse[T] carries metadata records and the leader's high
// watermark, or where the fetcher's last epoch ends on the leader.
type FetchResponse[T any] struct {
	RequestID      uint64
	Epoch          int32
	Leader         int32
	Err            protocol.ErrorCode
	HW             int64
	Base           int64
	Entries        []Entry[T]
	DivergingEpoch int32 // -1: none
	DivergingEnd   int64
	// Snapshot, when the fetch fell below the leader's log start: what
	// KIP-630's FetchSnapshot would bring, in this one answer.
	Snapshot *Snapshot[T]
}

func (m VoteRequest) AppendSummary(b []byte) []byte {
	kind := "vote"
	if m.PreVote {
		kind = "pre-vote"
	}
	return fmt.Appendf(b, "%s epoch=%d candidate=%d last=%d@%d", kind, m.Epoch, m.Candidate, m.LastOffset, m.LastEpoch)
}

func (m VoteResponse) AppendSummary(b []byte) []byte {
	kind := "vote-response"
	if m.PreVote {
		kind = "pre-vote-response"
	}
	return fmt.Appendf(b, "%s epoch=%d voter=%d granted=%t", kind, m.Epoch, m.Voter, m.Granted)
}

func (m EndQuorumEpoch) AppendSummary(b []byte) []byte {
	return fmt.Appendf(b, "end-quorum-epoch epoch=%d leader=%d successors=%v", m.Epoch, m.Leader, m.PreferredSuccessors)
}

func (m BeginQuorumEpoch) AppendSummary(b []byte) []byte {
	return fmt.Appendf(b, "begin-quorum-epoch epoch=%d leader=%d", m.Epoch, m.Leader)
}

func (m BeginQuorumEpochResponse) AppendSummary(b []byte) []byte {
	return fmt.Appendf(b, "begin-quorum-epoch-response epoch=%d voter=%d", m.Epoch, m.Voter)
}

func (m FetchRequest) AppendSummary(b []byte) []byte {
	return fmt.Appendf(b, "metadata-fetch#%d epoch=%d offset=%d last-epoch=%d", m.RequestID, m.Epoch, m.FetchOffset, m.LastFetchedEpoch)
}

func (m FetchResponse[T]) AppendSummary(b []byte) []byte {
	b = fmt.Appendf(b, "metadata-fetch-response#%d epoch=%d %v hw=%d n=%d", m.RequestID, m.Epoch, m.Err, m.HW, len(m.Entries))
	if m.Snapshot != nil {
		b = fmt.Appendf(b, " snapshot=%d@%d", m.Snapshot.End, m.Snapshot.Epoch)
	}
	if m.DivergingEpoch >= 0 && m.Entries == nil && m.Err == protocol.None {
		b = fmt.Appendf(b, " diverging=%d@%d", m.DivergingEpoch, m.DivergingEnd)
	}
	return b
}
