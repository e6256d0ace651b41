package cluster

import (
	"fmt"

	"github.com/tideline-sim/tideline/cluster/protocol"
	"github.com/tideline-sim/tideline/sim"
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

// BeginQuorumEpochResponse acknowledges a BeginQuorumEpoch.
type BeginQuorumEpochResponse struct {
	Epoch int32
	Voter int32
}

// QuorumFetch is a voter fetching the metadata log from the leader.
type QuorumFetch struct {
	RequestID        uint64
	Epoch            int32
	Replica          int32
	FetchOffset      int64
	LastFetchedEpoch int32
}

// QuorumFetchResponse carries metadata records and the leader's high
// watermark, or where the fetcher's last epoch ends on the leader.
type QuorumFetchResponse struct {
	RequestID      uint64
	Epoch          int32
	Leader         int32
	Err            protocol.ErrorCode
	HW             int64
	Base           int64
	Entries        []metaEntry
	DivergingEpoch int32 // -1: none
	DivergingEnd   int64
}

// NotController answers a broker's request to a controller that is not
// the active one, naming the one it knows (its node, -1 if none).
type NotController struct {
	Leader  sim.NodeID
	Request sim.Message
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

func (m BeginQuorumEpoch) AppendSummary(b []byte) []byte {
	return fmt.Appendf(b, "begin-quorum-epoch epoch=%d leader=%d", m.Epoch, m.Leader)
}

func (m BeginQuorumEpochResponse) AppendSummary(b []byte) []byte {
	return fmt.Appendf(b, "begin-quorum-epoch-response epoch=%d voter=%d", m.Epoch, m.Voter)
}

func (m QuorumFetch) AppendSummary(b []byte) []byte {
	return fmt.Appendf(b, "metadata-fetch#%d epoch=%d offset=%d last-epoch=%d", m.RequestID, m.Epoch, m.FetchOffset, m.LastFetchedEpoch)
}

func (m QuorumFetchResponse) AppendSummary(b []byte) []byte {
	b = fmt.Appendf(b, "metadata-fetch-response#%d epoch=%d %v hw=%d n=%d", m.RequestID, m.Epoch, m.Err, m.HW, len(m.Entries))
	if m.DivergingEpoch >= 0 && m.Entries == nil && m.Err == protocol.None {
		b = fmt.Appendf(b, " diverging=%d@%d", m.DivergingEpoch, m.DivergingEnd)
	}
	return b
}

func (m NotController) AppendSummary(b []byte) []byte {
	b = fmt.Appendf(b, "not-controller leader=%d for ", m.Leader)
	return m.Request.AppendSummary(b)
}
