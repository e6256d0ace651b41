// Package protocol holds what every node of a Kafka cluster shares on the
// wire and on disk, and nothing else: broker IDs, topic-partitions, record
// batches and logs as checkers read them, a partition's state in the
// metadata (leader, epochs, ISR, ELR), the metadata image, Kafka's error
// codes, the requests and responses brokers, controllers and clients send
// each other (Produce, Fetch, Metadata, BrokerRegistration and
// BrokerHeartbeat, AlterPartition, ...) with the pools that recycle the hot
// ones, and the inter.broker.protocol.version switches with the rules each
// version changes. It imports no other tideline package, so brokers,
// controllers, clients and checkers can all depend on it.
package protocol

import (
	"fmt"
	"iter"
	"slices"
	"sort"
	"strconv"
)

// BrokerID is Kafka's broker.id. NoLeader marks a partition without one.
type BrokerID int32

// NoLeader is the leader of an offline partition.
const NoLeader BrokerID = -1

// NoEpoch marks an absent leader epoch ("UNDEFINED_EPOCH").
const NoEpoch int32 = -1

// TopicPartition names one partition of a topic ("orders/0").
type TopicPartition struct {
	Topic     string
	Partition int32
}

func (tp TopicPartition) String() string {
	return tp.Topic + "/" + strconv.Itoa(int(tp.Partition))
}

// Compare orders partitions by topic, then number; every iteration over
// partitions follows this order.
func (tp TopicPartition) Compare(o TopicPartition) int {
	if tp.Topic != o.Topic {
		if tp.Topic < o.Topic {
			return -1
		}
		return 1
	}
	return int(tp.Partition - o.Partition)
}

// Record is one record of a partition log. Payload identifies what the
// producer sent, so checkers can follow a write from send to log.
type Record struct {
	Offset        int64
	Epoch         int32 // leader epoch of the leader that appended it
	ProducerID    int64 // -1 without idempotence
	ProducerEpoch int16
	Sequence      int32 // per producer and partition; -1 without idempotence
	Payload       int64
}

func (r Record) String() string {
	return fmt.Sprintf("%d@e%d:%d", r.Offset, r.Epoch, r.Payload)
}

// Batch is a record batch as Kafka writes it: consecutive offsets appended
// by one leader epoch, from one producer (id, epoch, base sequence), one
// payload a record. A batch is never changed once written: the leader's log,
// its followers' logs and the fetch responses between them share it.
type Batch struct {
	BaseOffset    int64
	ProducerID    int64   // -1 without idempotence
	Payloads      []int64 // one a record
	BaseSequence  int32   // -1 without idempotence
	Epoch         int32   // leader epoch of the leader that appended it
	ProducerEpoch int16
	// Group holds the records of a __consumer_offsets batch, one a
	// payload (whose value is then -1); nil for every other topic.
	Group []GroupRecord
}

// Len returns the number of records.
func (b *Batch) Len() int { return len(b.Payloads) }

// End returns the offset after the batch's last record.
func (b *Batch) End() int64 { return b.BaseOffset + int64(len(b.Payloads)) }

// Record returns the batch's i-th record.
func (b *Batch) Record(i int) Record {
	seq := int32(-1)
	if b.BaseSequence >= 0 {
		seq = b.BaseSequence + int32(i)
	}
	return Record{Offset: b.BaseOffset + int64(i), Epoch: b.Epoch, ProducerID: b.ProducerID, ProducerEpoch: b.ProducerEpoch, Sequence: seq, Payload: b.Payloads[i]}
}

// Slice returns the records [from, to) of the batch as a batch, b itself
// when that is all of it.
func (b *Batch) Slice(from, to int64) *Batch {
	if from <= b.BaseOffset && to >= b.End() {
		return b
	}
	from, to = max(from, b.BaseOffset), min(to, b.End())
	s := *b
	s.BaseOffset = from
	s.Payloads = b.Payloads[from-b.BaseOffset : to-b.BaseOffset : to-b.BaseOffset]
	if b.Group != nil {
		s.Group = b.Group[from-b.BaseOffset : to-b.BaseOffset : to-b.BaseOffset]
	}
	if b.BaseSequence >= 0 {
		s.BaseSequence = b.BaseSequence + int32(from-b.BaseOffset)
	}
	return &s
}

// Records is a log's records from offset 0, as its batches hold them: what
// checkers read of a final log without copying it record by record.
type Records struct {
	batches []*Batch
}

// RecordsOf makes a log of records at offsets 0, 1, ... (tests, small tools).
func RecordsOf(recs ...Record) Records {
	var out Records
	for i, r := range recs {
		seq := r.Sequence
		if seq < 0 {
			seq = -1
		}
		out.batches = append(out.batches, &Batch{BaseOffset: int64(i), ProducerID: r.ProducerID, Payloads: []int64{r.Payload},
			BaseSequence: seq, Epoch: r.Epoch, ProducerEpoch: r.ProducerEpoch})
	}
	return out
}

// RecordsOfBatches makes a log of its batches, in offset order (a log
// recovered from disk).
func RecordsOfBatches(batches []*Batch) Records { return Records{batches: batches} }

// Len returns the number of records (the log end offset).
func (r Records) Len() int64 {
	if len(r.batches) == 0 {
		return 0
	}
	return r.batches[len(r.batches)-1].End()
}

func (r Records) batchOf(offset int64) *Batch {
	i := sort.Search(len(r.batches), func(i int) bool { return r.batches[i].End() > offset })
	return r.batches[i]
}

// At returns the record at offset, which must be below Len.
func (r Records) At(offset int64) Record {
	b := r.batchOf(offset)
	return b.Record(int(offset - b.BaseOffset))
}

// Payload returns the payload at offset, which must be below Len.
func (r Records) Payload(offset int64) int64 {
	b := r.batchOf(offset)
	return b.Payloads[offset-b.BaseOffset]
}

// GroupRecords yields the __consumer_offsets records below end, in
// offset order.
func (r Records) GroupRecords(end int64) iter.Seq[GroupRecord] {
	return func(yield func(GroupRecord) bool) {
		for _, b := range r.batches {
			for i := range b.Group {
				if b.BaseOffset+int64(i) >= end || !yield(b.Group[i]) {
					return
				}
			}
		}
	}
}

// All yields every record in offset order.
func (r Records) All() iter.Seq[Record] {
	return func(yield func(Record) bool) {
		for _, b := range r.batches {
			for i := range b.Payloads {
				if !yield(b.Record(i)) {
					return
				}
			}
		}
	}
}

// PartitionState is the controller's record of a partition, as brokers and
// clients learn it from metadata. Values are shared read-only: whoever
// changes one builds a new slice (copy on write).
type PartitionState struct {
	TP             TopicPartition
	Replicas       []BrokerID // assignment order; Replicas[0] is preferred
	ISR            []BrokerID
	Leader         BrokerID
	LeaderEpoch    int32
	PartitionEpoch int32 // bumped by every change, ISR changes included
	// Eligible leader replicas (KIP-966), with eligible.leader.replicas.version=1:
	// replicas that left the ISR while it was below min.insync.replicas and
	// so hold every committed record; LastKnownELR the last leader, kept
	// while the ISR is empty.
	ELR          []BrokerID
	LastKnownELR []BrokerID
	// A reassignment in progress (KIP-455): Replicas is the target
	// followed by Removing; Adding are the target's new replicas.
	Adding, Removing []BrokerID
}

func (s PartitionState) String() string {
	if len(s.Adding) > 0 || len(s.Removing) > 0 {
		return fmt.Sprintf("%v leader=%d epoch=%d replicas=%v isr=%v adding=%v removing=%v pe=%d", s.TP, s.Leader, s.LeaderEpoch, s.Replicas, s.ISR, s.Adding, s.Removing, s.PartitionEpoch)
	}
	if len(s.ELR) > 0 || len(s.LastKnownELR) > 0 {
		return fmt.Sprintf("%v leader=%d epoch=%d isr=%v elr=%v last-known-elr=%v pe=%d", s.TP, s.Leader, s.LeaderEpoch, s.ISR, s.ELR, s.LastKnownELR, s.PartitionEpoch)
	}
	return fmt.Sprintf("%v leader=%d epoch=%d isr=%v pe=%d", s.TP, s.Leader, s.LeaderEpoch, s.ISR, s.PartitionEpoch)
}

// Newer reports whether s supersedes old.
func (s PartitionState) Newer(old PartitionState) bool {
	if s.LeaderEpoch != old.LeaderEpoch {
		return s.LeaderEpoch > old.LeaderEpoch
	}
	return s.PartitionEpoch > old.PartitionEpoch
}

func (s PartitionState) InISR(b BrokerID) bool { return slices.Contains(s.ISR, b) }

// Target is the replicas the partition is assigned: during a reassignment
// its target, Replicas without the replicas it is removing.
func (s PartitionState) Target() []BrokerID { return s.Replicas[:len(s.Replicas)-len(s.Removing)] }

// Image is a version of the cluster metadata: every partition's state.
type Image struct {
	Version    int64
	Partitions PartitionTable // sorted by TP
	Brokers    []BrokerState  // by BrokerID: the registrations, as KRaft brokers replay them
}

// BrokerState is a broker's registration as the metadata says: its broker
// epoch and whether it is fenced.
type BrokerState struct {
	Epoch  int64
	Fenced bool
	// InControlledShutdown: no partition may gain it as leader or ISR
	// member (KIP-841's ISR eligibility).
	InControlledShutdown bool
}

func (img Image) Find(tp TopicPartition) (PartitionState, bool) {
	i, ok := img.Partitions.Find(tp)
	if !ok {
		return PartitionState{}, false
	}
	return img.Partitions.At(i), true
}

// ErrorCode is a Kafka protocol error code.
type ErrorCode int16

// The error codes tideline's protocol uses, with Kafka's numbers.
const (
	None                         ErrorCode = 0
	OffsetOutOfRange             ErrorCode = 1
	UnknownTopicOrPartition      ErrorCode = 3
	NotLeaderOrFollower          ErrorCode = 6
	RequestTimedOut              ErrorCode = 7
	NetworkException             ErrorCode = 13
	CoordinatorLoadInProgress    ErrorCode = 14
	CoordinatorNotAvailable      ErrorCode = 15
	NotCoordinator               ErrorCode = 16
	NotEnoughReplicas            ErrorCode = 19
	NotEnoughReplicasAfterAppend ErrorCode = 20
	IllegalGeneration            ErrorCode = 22
	InconsistentGroupProtocol    ErrorCode = 23
	UnknownMemberID              ErrorCode = 25
	InvalidSessionTimeout        ErrorCode = 26
	RebalanceInProgress          ErrorCode = 27
	OutOfOrderSequenceNumber     ErrorCode = 45
	FetchSessionIDNotFound       ErrorCode = 70
	InvalidFetchSessionEpoch     ErrorCode = 71
	FencedLeaderEpoch            ErrorCode = 74
	UnknownLeaderEpoch           ErrorCode = 75
	StaleBrokerEpoch             ErrorCode = 77
	MemberIDRequired             ErrorCode = 79
	FencedInstanceID             ErrorCode = 82
	InvalidUpdateVersion         ErrorCode = 95
	DuplicateBrokerRegistration  ErrorCode = 101
	IneligibleReplica            ErrorCode = 107
)

// errorNames is an array, not a map: every produce and fetch response's
// trace summary names its error.
var errorNames = [...]string{
	None:                         "NONE",
	OffsetOutOfRange:             "OFFSET_OUT_OF_RANGE",
	UnknownTopicOrPartition:      "UNKNOWN_TOPIC_OR_PARTITION",
	NotLeaderOrFollower:          "NOT_LEADER_OR_FOLLOWER",
	RequestTimedOut:              "REQUEST_TIMED_OUT",
	NetworkException:             "NETWORK_EXCEPTION",
	CoordinatorLoadInProgress:    "COORDINATOR_LOAD_IN_PROGRESS",
	CoordinatorNotAvailable:      "COORDINATOR_NOT_AVAILABLE",
	NotCoordinator:               "NOT_COORDINATOR",
	IllegalGeneration:            "ILLEGAL_GENERATION",
	InconsistentGroupProtocol:    "INCONSISTENT_GROUP_PROTOCOL",
	UnknownMemberID:              "UNKNOWN_MEMBER_ID",
	InvalidSessionTimeout:        "INVALID_SESSION_TIMEOUT",
	RebalanceInProgress:          "REBALANCE_IN_PROGRESS",
	NotEnoughReplicas:            "NOT_ENOUGH_REPLICAS",
	NotEnoughReplicasAfterAppend: "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
	OutOfOrderSequenceNumber:     "OUT_OF_ORDER_SEQUENCE_NUMBER",
	FetchSessionIDNotFound:       "FETCH_SESSION_ID_NOT_FOUND",
	InvalidFetchSessionEpoch:     "INVALID_FETCH_SESSION_EPOCH",
	FencedLeaderEpoch:            "FENCED_LEADER_EPOCH",
	UnknownLeaderEpoch:           "UNKNOWN_LEADER_EPOCH",
	StaleBrokerEpoch:             "STALE_BROKER_EPOCH",
	MemberIDRequired:             "MEMBER_ID_REQUIRED",
	FencedInstanceID:             "FENCED_INSTANCE_ID",
	InvalidUpdateVersion:         "INVALID_UPDATE_VERSION",
	DuplicateBrokerRegistration:  "DUPLICATE_BROKER_REGISTRATION",
	IneligibleReplica:            "INELIGIBLE_REPLICA",
}

func (e ErrorCode) String() string {
	if e >= 0 && int(e) < len(errorNames) && errorNames[e] != "" {
		return errorNames[e]
	}
	return fmt.Sprintf("ERROR_%d", int16(e))
}

// NotAppended reports whether a produce error proves the records were not
// written: Kafka returns these before the append. Every other error leaves
// the outcome unknown (Jepsen's info): NOT_ENOUGH_REPLICAS_AFTER_APPEND
// comes after it, a timeout or a lost connection may come either side, and
// NOT_LEADER_OR_FOLLOWER may come from a leader that lost its role with the
// records already in its log.
func (e ErrorCode) NotAppended() bool {
	switch e {
	case NotEnoughReplicas, UnknownTopicOrPartition, OutOfOrderSequenceNumber:
		return true
	}
	return false
}

// FirstDifference finds the first offset below end where r and o differ, a
// missing record counting as a difference. Batches the two logs share (a
// follower's copy of its leader's) are skipped whole.
func (r Records) FirstDifference(o Records, end int64) (int64, bool) {
	i, j := 0, 0
	for off := int64(0); off < end; {
		if off >= r.Len() || off >= o.Len() {
			return off, true
		}
		for r.batches[i].End() <= off {
			i++
		}
		for o.batches[j].End() <= off {
			j++
		}
		a, b := r.batches[i], o.batches[j]
		if a == b {
			off = a.End()
			continue
		}
		if a.Record(int(off-a.BaseOffset)) != b.Record(int(off-b.BaseOffset)) {
			return off, true
		}
		off++
	}
	return 0, false
}
