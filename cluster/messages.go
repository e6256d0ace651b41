package cluster

import (
	"fmt"
	"strconv"

	"github.com/tideline-sim/tideline/cluster/protocol"
	"github.com/tideline-sim/tideline/sim"
)

// The protocol messages. Every request carries a request ID chosen by its
// sender; the response echoes it, so a sender can tell the answer to its
// current request from a late answer to one it already gave up on.
//
// Slices in a message belong to the message: a sender builds fresh ones and
// never changes them after sending, a receiver copies what it keeps.

// ProduceRequest appends records to a partition (Kafka's Produce).
type ProduceRequest struct {
	RequestID     uint64
	Connection    uint64 // the client incarnation's connection; request IDs count within it
	TP            protocol.TopicPartition
	Acks          int // 0, 1 or AcksAll
	Timeout       int64
	ProducerID    int64 // -1 without idempotence
	ProducerEpoch int16
	BaseSequence  int32
	Payloads      []int64

	home *freeList[ProduceRequest] // the sender's, which Recycle returns it to
}

// ProduceResponse answers a ProduceRequest (never sent for acks=0).
type ProduceResponse struct {
	RequestID  uint64
	TP         protocol.TopicPartition
	Err        protocol.ErrorCode
	BaseOffset int64

	home *freeList[ProduceResponse] // the sender's, which Recycle returns it to
}

// FetchRequest reads a partition from its leader. Followers send their
// replica ID and broker epoch (KIP-903); consumers send ReplicaID -1 and read
// only up to the high watermark.
type FetchRequest struct {
	RequestID          uint64
	ReplicaID          protocol.BrokerID // -1 for consumers
	BrokerEpoch        int64
	TP                 protocol.TopicPartition
	CurrentLeaderEpoch int32 // KIP-320 fencing; NoEpoch to skip the check
	FetchOffset        int64
	LastFetchedEpoch   int32 // epoch of the follower's last record; NoEpoch for none
	MaxWaitMs          int64
	MaxRecords         int

	home *freeList[FetchRequest] // the sender's, which Recycle returns it to
}

// FetchResponse carries records and the leader's high watermark, or the
// epoch at which the follower's log diverges from the leader's.
type FetchResponse struct {
	RequestID     uint64
	TP            protocol.TopicPartition
	Err           protocol.ErrorCode
	HighWatermark int64
	LogEndOffset  int64
	LeaderEpoch   int32
	Batches       []*protocol.Batch // shared with the leader's log: read only
	// DivergingEpoch is set (not NoEpoch) when the follower's last fetched
	// epoch ends earlier on the leader: truncate, then fetch again.
	DivergingEpoch     int32
	DivergingEndOffset int64

	home *freeList[FetchResponse] // the sender's, which Recycle returns it to
}

// ApiVersionsRequest is the first request a Kafka client sends on a new
// connection; the connection is usable once it is answered.
type ApiVersionsRequest struct{ RequestID uint64 }

// ApiVersionsResponse answers it.
type ApiVersionsResponse struct{ RequestID uint64 }

// ConnectionClosed is a broker closing a client's connection: what Kafka
// does instead of answering an acks=0 produce that failed.
type ConnectionClosed struct{}

// MetadataRequest asks a broker for the partitions of the cluster.
type MetadataRequest struct{ RequestID uint64 }

// MetadataResponse is a broker's current view.
type MetadataResponse struct {
	RequestID uint64
	Image     protocol.Image
}

// BrokerRegistration is a broker announcing a new incarnation to the
// controller; it is re-sent until answered.
type BrokerRegistration struct {
	Broker      protocol.BrokerID
	Incarnation uint64
}

// BrokerRegistrationResponse gives the broker its new broker epoch, or
// DUPLICATE_BROKER_REGISTRATION while its previous incarnation's session is
// still valid (the broker retries).
type BrokerRegistrationResponse struct {
	Broker      protocol.BrokerID
	Incarnation uint64
	Err         protocol.ErrorCode
	BrokerEpoch int64
	Image       protocol.Image
}

// BrokerHeartbeat keeps a broker's session alive.
type BrokerHeartbeat struct {
	Broker          protocol.BrokerID
	BrokerEpoch     int64
	MetadataVersion int64
}

// BrokerHeartbeatResponse carries the current image when the broker is
// behind, which repairs any metadata update the network lost.
type BrokerHeartbeatResponse struct {
	Err      protocol.ErrorCode // StaleBrokerEpoch: register again
	Fenced   bool
	HasImage bool
	Image    protocol.Image
}

// UpdateMetadata pushes a new image to a broker (KRaft brokers tail the
// metadata log; a push is the same information sooner).
type UpdateMetadata struct{ Image protocol.Image }

// AlterPartitionRequest is a leader asking the controller to commit an ISR
// change (KIP-497).
type AlterPartitionRequest struct {
	RequestID      uint64
	Broker         protocol.BrokerID
	BrokerEpoch    int64
	TP             protocol.TopicPartition
	LeaderEpoch    int32
	PartitionEpoch int32
	NewISR         []protocol.BrokerID
	ISREpochs      []int64 // broker epoch of each NewISR member, as the leader saw it
}

// AlterPartitionResponse is the committed state, or why not.
type AlterPartitionResponse struct {
	RequestID uint64
	TP        protocol.TopicPartition
	Err       protocol.ErrorCode
	State     protocol.PartitionState
}

// InitProducerIDRequest asks for a producer ID (idempotent producers).
type InitProducerIDRequest struct{ RequestID uint64 }

// InitProducerIDResponse hands one out.
type InitProducerIDResponse struct {
	RequestID     uint64
	ProducerID    int64
	ProducerEpoch int16
}

// AllocateProducerIDRequest is a broker forwarding an InitProducerID to the
// controller, which owns the producer ID counter (KIP-730).
type AllocateProducerIDRequest struct {
	Client    int32 // node that asked the broker
	RequestID uint64
}

// AllocateProducerIDResponse returns the ID to the broker, for its client.
type AllocateProducerIDResponse struct {
	Client     int32
	RequestID  uint64
	ProducerID int64
}

// The hot messages summarise with strconv rather than fmt: every event's
// summary feeds the trace hash, and fmt would be a fifth of the run's time.

func (m *ProduceRequest) AppendSummary(b []byte) []byte {
	b = appendID(append(b, "produce"...), m.RequestID)
	b = appendTP(b, m.TP)
	b = appendInt(b, " acks=", int64(m.Acks))
	b = appendInt(b, " pid=", m.ProducerID)
	b = appendInt(b, " seq=", int64(m.BaseSequence))
	return appendInt(b, " n=", int64(len(m.Payloads)))
}

func (m *ProduceResponse) AppendSummary(b []byte) []byte {
	b = appendID(append(b, "produce-response"...), m.RequestID)
	b = appendTP(b, m.TP)
	b = append(append(b, ' '), m.Err.String()...)
	return appendInt(b, " offset=", m.BaseOffset)
}

func (m *FetchRequest) AppendSummary(b []byte) []byte {
	b = appendID(append(b, "fetch"...), m.RequestID)
	b = appendTP(b, m.TP)
	b = appendInt(b, " replica=", int64(m.ReplicaID))
	b = appendInt(b, " offset=", m.FetchOffset)
	b = appendInt(b, " epoch=", int64(m.CurrentLeaderEpoch))
	return appendInt(b, " last-epoch=", int64(m.LastFetchedEpoch))
}

func (m *FetchResponse) AppendSummary(b []byte) []byte {
	b = appendID(append(b, "fetch-response"...), m.RequestID)
	b = appendTP(b, m.TP)
	b = append(append(b, ' '), m.Err.String()...)
	b = appendInt(b, " hw=", m.HighWatermark)
	b = appendInt(b, " leo=", m.LogEndOffset)
	n := 0
	for _, batch := range m.Batches {
		n += batch.Len()
	}
	b = appendInt(b, " n=", int64(n))
	if m.DivergingEpoch != protocol.NoEpoch {
		b = appendInt(b, " diverging=", int64(m.DivergingEpoch))
		b = appendInt(b, "@", m.DivergingEndOffset)
	}
	return b
}

func appendID(b []byte, id uint64) []byte {
	return strconv.AppendUint(append(b, '#'), id, 10)
}

func appendTP(b []byte, tp protocol.TopicPartition) []byte {
	b = append(append(b, ' '), tp.Topic...)
	return strconv.AppendInt(append(b, '/'), int64(tp.Partition), 10)
}

func appendInt(b []byte, key string, v int64) []byte {
	return strconv.AppendInt(append(b, key...), v, 10)
}

func (m ApiVersionsRequest) AppendSummary(b []byte) []byte {
	return appendID(append(b, "api-versions"...), m.RequestID)
}

func (m ApiVersionsResponse) AppendSummary(b []byte) []byte {
	return appendID(append(b, "api-versions-response"...), m.RequestID)
}

func (m ConnectionClosed) AppendSummary(b []byte) []byte { return append(b, "connection-closed"...) }

func (m MetadataRequest) AppendSummary(b []byte) []byte {
	return fmt.Appendf(b, "metadata#%d", m.RequestID)
}

func (m MetadataResponse) AppendSummary(b []byte) []byte {
	return fmt.Appendf(b, "metadata-response#%d v%d", m.RequestID, m.Image.Version)
}

func (m BrokerRegistration) AppendSummary(b []byte) []byte {
	return fmt.Appendf(b, "register broker=%d incarnation=%x", m.Broker, m.Incarnation)
}

func (m BrokerRegistrationResponse) AppendSummary(b []byte) []byte {
	if m.Err != protocol.None {
		return fmt.Appendf(b, "registration-refused broker=%d %v", m.Broker, m.Err)
	}
	return fmt.Appendf(b, "registered broker=%d epoch=%d v%d", m.Broker, m.BrokerEpoch, m.Image.Version)
}

func (m BrokerHeartbeat) AppendSummary(b []byte) []byte {
	return fmt.Appendf(b, "heartbeat broker=%d epoch=%d v%d", m.Broker, m.BrokerEpoch, m.MetadataVersion)
}

func (m BrokerHeartbeatResponse) AppendSummary(b []byte) []byte {
	b = fmt.Appendf(b, "heartbeat-response %v fenced=%t", m.Err, m.Fenced)
	if m.HasImage {
		b = fmt.Appendf(b, " v%d", m.Image.Version)
	}
	return b
}

func (m UpdateMetadata) AppendSummary(b []byte) []byte {
	return fmt.Appendf(b, "update-metadata v%d", m.Image.Version)
}

func (m AlterPartitionRequest) AppendSummary(b []byte) []byte {
	return fmt.Appendf(b, "alter-partition#%d %v leader=%d epoch=%d pe=%d isr=%v", m.RequestID, m.TP, m.Broker, m.LeaderEpoch, m.PartitionEpoch, m.NewISR)
}

func (m AlterPartitionResponse) AppendSummary(b []byte) []byte {
	return fmt.Appendf(b, "alter-partition-response#%d %v %v", m.RequestID, m.TP, m.Err)
}

func (m InitProducerIDRequest) AppendSummary(b []byte) []byte {
	return strconv.AppendUint(append(b, "init-producer-id#"...), m.RequestID, 10)
}

func (m InitProducerIDResponse) AppendSummary(b []byte) []byte {
	return fmt.Appendf(b, "init-producer-id-response#%d pid=%d", m.RequestID, m.ProducerID)
}

func (m AllocateProducerIDRequest) AppendSummary(b []byte) []byte {
	return fmt.Appendf(b, "allocate-producer-id for=%d#%d", m.Client, m.RequestID)
}

func (m AllocateProducerIDResponse) AppendSummary(b []byte) []byte {
	return fmt.Appendf(b, "allocate-producer-id-response for=%d#%d pid=%d", m.Client, m.RequestID, m.ProducerID)
}

// timer is the one timer type of the cluster's nodes: what fires, and for
// which partition or request.
type timer struct {
	kind timerKind
	tp   protocol.TopicPartition
	id   uint64
	home *freeList[timer]
}

type timerKind uint8

const (
	tHeartbeat timerKind = iota
	tRegister
	tSessionCheck
	tISRCheck
	tHWCheckpoint
	tFlush
	tRebalance
	tFetch        // follower or consumer: (re)send a fetch
	tFetchExpire  // leader: a parked fetch's wait is over
	tProduceRetry // producer: retransmit or retry a batch
	tProduceExpire
	tAlterRetry
	tMetadata
	tProduce // producer: the next record is due
	tInitPID
	tLinger
	tConnect        // producer: retransmit a connection's ApiVersions, or reconnect after a backoff
	tQuorumElection // controller: a fetch or election timeout, or an election backoff, is over
	tQuorumFetch    // controller: a metadata fetch went unanswered
	tQuorumCheck    // leader controller: check-quorum
	tQuorumBegin    // leader controller: re-send BeginQuorumEpoch
	tQuorumPark     // leader controller: a parked metadata fetch's wait is over
	tControllerRetry
	tNoOp // active controller: write a NoOp record
)

var timerNames = [...]string{
	tHeartbeat: "heartbeat", tRegister: "register", tSessionCheck: "session-check",
	tISRCheck: "isr-check", tHWCheckpoint: "hw-checkpoint", tFlush: "flush",
	tRebalance: "rebalance", tFetch: "fetch", tFetchExpire: "fetch-expire",
	tProduceRetry: "produce-retry", tProduceExpire: "produce-expire", tAlterRetry: "alter-retry",
	tMetadata: "metadata", tProduce: "produce", tInitPID: "init-producer-id", tLinger: "linger", tConnect: "connect",
	tQuorumElection: "quorum-election", tQuorumFetch: "quorum-fetch", tQuorumCheck: "check-quorum", tQuorumBegin: "begin-quorum-epoch",
	tQuorumPark: "quorum-fetch-expire", tControllerRetry: "controller-retry", tNoOp: "metadata-noop",
}

func (t *timer) AppendSummary(b []byte) []byte {
	b = append(b, timerNames[t.kind]...)
	if t.tp.Topic != "" {
		b = appendTP(b, t.tp)
	}
	if t.id != 0 {
		b = strconv.AppendUint(append(b, " #"...), t.id, 10)
	}
	return b
}

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
