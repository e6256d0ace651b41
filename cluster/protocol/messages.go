package protocol

import (
	"fmt"
	"strconv"
)

// The protocol messages. Every request carries a request ID chosen by its
// sender; the response echoes it, so a sender can tell the answer to its
// current request from a late answer to one it already gave up on.
//
// Slices in a message belong to the message: a sender builds fresh ones and
// never changes them after sending, a receiver copies what it keeps.

// ProduceRequest appends records to the partitions a broker leads
// (Kafka's Produce): one batch for each, as the producer's Sender drains
// them for that broker.
type ProduceRequest struct {
	RequestID  uint64
	Connection uint64 // the client's connection to this broker: a new one after every reconnect
	// Ordinal is the request's place on its connection (1, 2, ...): the
	// broker takes requests in this order, as TCP delivers them — a request
	// the network lost holds those behind it until its retransmission
	// arrives. (The simulated network drops messages; TCP would not.)
	Ordinal       uint64
	Acks          int // 0, 1 or AcksAll
	Timeout       int64
	ProducerID    int64 // -1 without idempotence
	ProducerEpoch int16
	Partitions    []ProducePartition

	home *Pool[ProduceRequest] // the sender's, which Recycle returns it to
}

// ProducePartition is one partition's batch in a ProduceRequest.
type ProducePartition struct {
	TP           TopicPartition
	BaseSequence int32 // -1 without idempotence
	Payloads     []int64
}

// ProduceResponse answers a ProduceRequest (never sent for acks=0), a
// result for each of its partitions.
type ProduceResponse struct {
	RequestID  uint64
	Partitions []ProducePartitionResponse

	home *Pool[ProduceResponse] // the sender's, which Recycle returns it to
}

// ProducePartitionResponse is one partition's outcome: the offset its batch
// was written at, or why not.
type ProducePartitionResponse struct {
	TP         TopicPartition
	Err        ErrorCode
	BaseOffset int64
}

// FetchRequest reads a partition from its leader: a consumer's fetch
// (ReplicaID -1, read only up to the high watermark), or one partition of
// a follower's ReplicaFetchRequest, with its replica ID and broker epoch
// (KIP-903).
type FetchRequest struct {
	RequestID          uint64
	ReplicaID          BrokerID // -1 for consumers
	BrokerEpoch        int64
	TP                 TopicPartition
	CurrentLeaderEpoch int32 // KIP-320 fencing; NoEpoch to skip the check
	FetchOffset        int64
	LastFetchedEpoch   int32 // epoch of the follower's last record; NoEpoch for none
	MaxWaitMs          int64
	MaxRecords         int

	home *Pool[FetchRequest] // the sender's, which Recycle returns it to
}

// FetchResponse carries records and the leader's high watermark, or the
// epoch at which the follower's log diverges from the leader's.
type FetchResponse struct {
	RequestID     uint64
	TP            TopicPartition
	Err           ErrorCode
	HighWatermark int64
	LogEndOffset  int64
	LeaderEpoch   int32
	Batches       []*Batch // shared with the leader's log: read only
	// DivergingEpoch is set (not NoEpoch) when the follower's last fetched
	// epoch ends earlier on the leader: truncate, then fetch again.
	DivergingEpoch     int32
	DivergingEndOffset int64

	home *Pool[FetchResponse] // the sender's, which Recycle returns it to
}

// ReplicaFetchRequest is a follower broker's one fetch to a leader broker
// for every partition it follows there (ReplicaFetcherThread, one per
// leader with num.replica.fetchers 1), in an incremental fetch session
// (KIP-227): a full request (SessionEpoch 0) opens the session with every
// partition; each later one names only the partitions added or changed
// since (Partitions) and those to drop (Forgotten). Before KIP-227
// (SessionEpoch FinalEpoch, no session) every request is full.
type ReplicaFetchRequest struct {
	RequestID    uint64
	ReplicaID    BrokerID
	BrokerEpoch  int64
	SessionID    uint64
	SessionEpoch int32
	MaxWaitMs    int64
	MaxRecords   int            // replica.fetch.response.max.bytes, in records
	Partitions   []FetchRequest // each with its TP, epochs, offset and MaxRecords
	Forgotten    []TopicPartition

	home *Pool[ReplicaFetchRequest] // the sender's, which Recycle returns it to
}

// FinalEpoch is the session epoch of a sessionless fetch (Kafka's
// FetchMetadata.FINAL_EPOCH).
const FinalEpoch int32 = -1

// ReplicaFetchResponse answers a ReplicaFetchRequest: in a session, only
// the partitions with records, a new high watermark, an error or a
// divergence (FetchSession's maybeUpdateResponseData); every partition in
// the answer to a full request.
type ReplicaFetchResponse struct {
	RequestID  uint64
	Err        ErrorCode // FetchSessionIDNotFound, InvalidFetchSessionEpoch: start a new session
	SessionID  uint64
	Partitions []FetchResponse

	home *Pool[ReplicaFetchResponse] // the sender's, which Recycle returns it to
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
	Image     Image
}

// BrokerRegistration is a broker announcing a new incarnation to the
// controller; it is re-sent until answered.
type BrokerRegistration struct {
	Broker      BrokerID
	Incarnation uint64
	// PreviousBrokerEpoch is the epoch the clean-shutdown marker holds,
	// -1 after an unclean shutdown (BrokerRegistrationRequest v3): the
	// controller counts the restart clean iff it equals the epoch it
	// registered last (KAFKA-18635).
	PreviousBrokerEpoch int64
}

// BrokerRegistrationResponse gives the broker its new broker epoch, or
// DUPLICATE_BROKER_REGISTRATION while its previous incarnation's session is
// still valid (the broker retries).
type BrokerRegistrationResponse struct {
	Broker      BrokerID
	Incarnation uint64
	Err         ErrorCode
	BrokerEpoch int64
	Image       Image
}

// BrokerHeartbeat keeps a broker's session alive.
type BrokerHeartbeat struct {
	Broker          BrokerID
	BrokerEpoch     int64
	MetadataVersion int64
	WantShutDown    bool // the broker is in controlled shutdown and asks to be let go
}

// BrokerHeartbeatResponse carries the current image when the broker is
// behind, which repairs any metadata update the network lost.
type BrokerHeartbeatResponse struct {
	Err            ErrorCode // StaleBrokerEpoch: register again
	Fenced         bool
	ShouldShutDown bool // controlled shutdown done: it leads nothing, and its peers know
	HasImage       bool
	Image          Image
}

// UpdateMetadata pushes a new image to a broker (KRaft brokers tail the
// metadata log; a push is the same information sooner).
type UpdateMetadata struct{ Image Image }

// AlterPartitionRequest is a leader asking the controller to commit an ISR
// change (KIP-497).
type AlterPartitionRequest struct {
	RequestID      uint64
	Broker         BrokerID
	BrokerEpoch    int64
	TP             TopicPartition
	LeaderEpoch    int32
	PartitionEpoch int32
	NewISR         []BrokerID
	ISREpochs      []int64 // broker epoch of each NewISR member, as the leader saw it
}

// AlterPartitionResponse is the committed state, or why not.
type AlterPartitionResponse struct {
	RequestID uint64
	TP        TopicPartition
	Err       ErrorCode
	State     PartitionState
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
	if len(m.Partitions) == 1 {
		// One partition reads as it always has.
		b = AppendTP(b, m.Partitions[0].TP)
		b = appendInt(b, " acks=", int64(m.Acks))
		b = appendInt(b, " pid=", m.ProducerID)
		b = appendInt(b, " seq=", int64(m.Partitions[0].BaseSequence))
		return appendInt(b, " n=", int64(len(m.Partitions[0].Payloads)))
	}
	b = appendInt(b, " acks=", int64(m.Acks))
	b = appendInt(b, " pid=", m.ProducerID)
	for _, p := range m.Partitions {
		b = AppendTP(b, p.TP)
		b = appendInt(b, " seq=", int64(p.BaseSequence))
		b = appendInt(b, " n=", int64(len(p.Payloads)))
	}
	return b
}

func (m *ProduceResponse) AppendSummary(b []byte) []byte {
	b = appendID(append(b, "produce-response"...), m.RequestID)
	for _, p := range m.Partitions {
		b = AppendTP(b, p.TP)
		b = append(append(b, ' '), p.Err.String()...)
		b = appendInt(b, " offset=", p.BaseOffset)
	}
	return b
}

func (m *FetchRequest) AppendSummary(b []byte) []byte {
	b = appendID(append(b, "fetch"...), m.RequestID)
	b = AppendTP(b, m.TP)
	b = appendInt(b, " replica=", int64(m.ReplicaID))
	b = appendInt(b, " offset=", m.FetchOffset)
	b = appendInt(b, " epoch=", int64(m.CurrentLeaderEpoch))
	return appendInt(b, " last-epoch=", int64(m.LastFetchedEpoch))
}

func (m *FetchResponse) AppendSummary(b []byte) []byte {
	b = appendID(append(b, "fetch-response"...), m.RequestID)
	b = AppendTP(b, m.TP)
	b = append(append(b, ' '), m.Err.String()...)
	b = appendInt(b, " hw=", m.HighWatermark)
	b = appendInt(b, " leo=", m.LogEndOffset)
	n := 0
	for _, batch := range m.Batches {
		n += batch.Len()
	}
	b = appendInt(b, " n=", int64(n))
	if m.DivergingEpoch != NoEpoch {
		b = appendInt(b, " diverging=", int64(m.DivergingEpoch))
		b = appendInt(b, "@", m.DivergingEndOffset)
	}
	return b
}

func (m *ReplicaFetchRequest) AppendSummary(b []byte) []byte {
	b = appendID(append(b, "replica-fetch"...), m.RequestID)
	b = appendInt(b, " replica=", int64(m.ReplicaID))
	b = appendInt(b, " session=", int64(m.SessionID))
	b = appendInt(b, " session-epoch=", int64(m.SessionEpoch))
	for _, p := range m.Partitions {
		b = AppendTP(b, p.TP)
		b = appendInt(b, "@", p.FetchOffset)
		b = appendInt(b, " epoch=", int64(p.CurrentLeaderEpoch))
		b = appendInt(b, " last-epoch=", int64(p.LastFetchedEpoch))
	}
	for _, tp := range m.Forgotten {
		b = AppendTP(append(b, " forget"...), tp)
	}
	return b
}

func (m *ReplicaFetchResponse) AppendSummary(b []byte) []byte {
	b = appendID(append(b, "replica-fetch-response"...), m.RequestID)
	if m.Err != None {
		b = append(append(b, ' '), m.Err.String()...)
	}
	b = appendInt(b, " session=", int64(m.SessionID))
	for i := range m.Partitions {
		p := &m.Partitions[i]
		b = AppendTP(b, p.TP)
		if p.Err != None {
			b = append(append(b, ' '), p.Err.String()...)
		}
		b = appendInt(b, " hw=", p.HighWatermark)
		n := 0
		for _, batch := range p.Batches {
			n += batch.Len()
		}
		b = appendInt(b, " n=", int64(n))
		if p.DivergingEpoch != NoEpoch {
			b = appendInt(b, " diverging=", int64(p.DivergingEpoch))
			b = appendInt(b, "@", p.DivergingEndOffset)
		}
	}
	return b
}

func appendID(b []byte, id uint64) []byte {
	return strconv.AppendUint(append(b, '#'), id, 10)
}

// AppendTP appends " topic/partition", as every summary names one.
func AppendTP(b []byte, tp TopicPartition) []byte {
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
	if m.Err != None {
		return fmt.Appendf(b, "registration-refused broker=%d %v", m.Broker, m.Err)
	}
	return fmt.Appendf(b, "registered broker=%d epoch=%d v%d", m.Broker, m.BrokerEpoch, m.Image.Version)
}

func (m BrokerHeartbeat) AppendSummary(b []byte) []byte {
	b = fmt.Appendf(b, "heartbeat broker=%d epoch=%d v%d", m.Broker, m.BrokerEpoch, m.MetadataVersion)
	if m.WantShutDown {
		b = append(b, " want-shutdown"...)
	}
	return b
}

func (m BrokerHeartbeatResponse) AppendSummary(b []byte) []byte {
	b = fmt.Appendf(b, "heartbeat-response %v fenced=%t", m.Err, m.Fenced)
	if m.ShouldShutDown {
		b = append(b, " should-shutdown"...)
	}
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
