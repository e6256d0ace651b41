package protocol

import (
	"strconv"
)

// The consumer group messages of Kafka's classic protocol, between a group
// member and its group coordinator (a broker), and the records the
// coordinator writes to __consumer_offsets. Group traffic is light, so
// these are plain values, not pooled.

// OffsetsTopic is Kafka's internal topic of committed offsets and group
// metadata.
const OffsetsTopic = "__consumer_offsets"

// FindCoordinatorRequest asks any broker which broker coordinates a group.
type FindCoordinatorRequest struct {
	RequestID uint64
	Group     string
}

// FindCoordinatorResponse names the leader of the group's partition of
// __consumer_offsets; COORDINATOR_NOT_AVAILABLE while it has none.
type FindCoordinatorResponse struct {
	RequestID   uint64
	Err         ErrorCode
	Coordinator BrokerID
}

// GroupProtocol is one assignment strategy a member supports, with the
// subscription and owned partitions its metadata carries.
type GroupProtocol struct {
	Name   string
	Topics []string
	Owned  []TopicPartition // cooperative protocols: what the member holds now
}

// JoinGroupRequest joins, or rejoins, a group. An empty MemberID asks for
// one (KIP-394).
type JoinGroupRequest struct {
	RequestID          uint64
	Group              string
	MemberID           string
	InstanceID         string // group.instance.id, "" for a dynamic member (KIP-345)
	ClientID           string
	SessionTimeoutMs   int32
	RebalanceTimeoutMs int32 // max.poll.interval.ms
	Protocols          []GroupProtocol
}

// JoinedMember is a member as the leader's JoinGroup response lists it.
type JoinedMember struct {
	MemberID   string
	InstanceID string
	Topics     []string
	Owned      []TopicPartition
}

// JoinGroupResponse ends the join phase: the generation, the protocol the
// group chose, its leader and, for the leader alone, the members.
type JoinGroupResponse struct {
	RequestID  uint64
	Err        ErrorCode
	Generation int32
	Protocol   string
	Leader     string
	MemberID   string
	Members    []JoinedMember
}

// MemberAssignment is the partitions the leader gives one member.
type MemberAssignment struct {
	MemberID   string
	Partitions []TopicPartition
}

// SyncGroupRequest carries the leader's assignment (empty from the others).
type SyncGroupRequest struct {
	RequestID   uint64
	Group       string
	MemberID    string
	Generation  int32
	Assignments []MemberAssignment
}

// SyncGroupResponse gives a member its partitions for the generation.
type SyncGroupResponse struct {
	RequestID  uint64
	Err        ErrorCode
	Partitions []TopicPartition
}

// HeartbeatRequest keeps a member's session alive.
type HeartbeatRequest struct {
	RequestID  uint64
	Group      string
	MemberID   string
	Generation int32
}

// HeartbeatResponse: REBALANCE_IN_PROGRESS asks the member to rejoin.
type HeartbeatResponse struct {
	RequestID uint64
	Err       ErrorCode
}

// LeaveGroupRequest removes a member at once.
type LeaveGroupRequest struct {
	RequestID uint64
	Group     string
	MemberID  string
}

// LeaveGroupResponse answers a LeaveGroupRequest.
type LeaveGroupResponse struct {
	RequestID uint64
	Err       ErrorCode
}

// CommittedOffset is a group's position in one partition: the offset of
// the next record to process, and the leader epoch of the last one.
type CommittedOffset struct {
	TP          TopicPartition
	Offset      int64 // -1: none committed
	LeaderEpoch int32
}

// OffsetCommitRequest commits positions for a member of a generation
// (generation -1 and no member: a commit from outside the group, taken
// only while the group is empty).
type OffsetCommitRequest struct {
	RequestID  uint64
	Group      string
	MemberID   string
	Generation int32
	Offsets    []CommittedOffset
}

// OffsetCommitResponse answers a commit once it is committed in
// __consumer_offsets, or with why it is not (one error for every
// partition: tideline's members commit all or nothing).
type OffsetCommitResponse struct {
	RequestID uint64
	Err       ErrorCode
}

// OffsetFetchRequest reads a group's committed offsets.
type OffsetFetchRequest struct {
	RequestID  uint64
	Group      string
	Partitions []TopicPartition
}

// OffsetFetchResponse holds one offset a partition asked for (-1: none).
type OffsetFetchResponse struct {
	RequestID uint64
	Err       ErrorCode
	Offsets   []CommittedOffset
}

// ListOffsets timestamps: Kafka's LATEST_TIMESTAMP and EARLIEST_TIMESTAMP.
const (
	LatestTimestamp   = -1
	EarliestTimestamp = -2
)

// ListOffsetsRequest asks a partition's leader for its earliest or latest
// offset (auto.offset.reset).
type ListOffsetsRequest struct {
	RequestID          uint64
	TP                 TopicPartition
	Timestamp          int64
	CurrentLeaderEpoch int32
}

// ListOffsetsResponse: the latest offset a consumer may read is the high
// watermark (isolation.level read_uncommitted), the earliest the log start.
type ListOffsetsResponse struct {
	RequestID   uint64
	TP          TopicPartition
	Err         ErrorCode
	Offset      int64
	LeaderEpoch int32
}

// OffsetsForLeaderEpochRequest asks a partition's leader where a leader
// epoch ends in its log: a consumer validating its position after a
// leader change (KIP-320).
type OffsetsForLeaderEpochRequest struct {
	RequestID          uint64
	TP                 TopicPartition
	CurrentLeaderEpoch int32
	LeaderEpoch        int32 // the epoch of the last record the consumer consumed
}

// OffsetsForLeaderEpochResponse is the largest epoch at most the one asked
// for, and the offset where it ends.
type OffsetsForLeaderEpochResponse struct {
	RequestID   uint64
	TP          TopicPartition
	Err         ErrorCode
	LeaderEpoch int32
	EndOffset   int64
}

// GroupMember is a member as the group metadata record keeps it.
type GroupMember struct {
	MemberID           string
	InstanceID         string
	ClientID           string
	SessionTimeoutMs   int32
	RebalanceTimeoutMs int32
	Topics             []string
	Assignment         []TopicPartition
}

// GroupRecord is a record of __consumer_offsets: an offset commit
// (Kafka's OffsetCommitKey/Value) when Commit is set, otherwise the group's
// metadata as a rebalance left it (GroupMetadataKey/Value).
type GroupRecord struct {
	Group      string
	Commit     *CommittedOffset
	Generation int32
	Protocol   string
	Leader     string
	Members    []GroupMember
}

// JavaStringHash is Java's String.hashCode over UTF-16 code units, the
// hash Kafka places groups (and, in its placer, replicas) by.
func JavaStringHash(s string) int32 {
	var h int32
	for _, r := range s {
		if r >= 0x10000 { // a surrogate pair
			r -= 0x10000
			h = 31*h + int32(0xD800+(r>>10))
			h = 31*h + int32(0xDC00+(r&0x3FF))
			continue
		}
		h = 31*h + int32(r)
	}
	return h
}

// CoordinatorPartition is the __consumer_offsets partition of a group:
// Utils.abs(groupId.hashCode()) % offsets.topic.num.partitions, Kafka's
// GroupCoordinatorService.partitionFor (Utils.abs maps MIN_VALUE to 0).
func CoordinatorPartition(group string, partitions int) int32 {
	h := JavaStringHash(group)
	if h == -1<<31 {
		h = 0
	} else if h < 0 {
		h = -h
	}
	return h % int32(partitions)
}

func appendStr(b []byte, key, v string) []byte {
	return append(append(b, key...), v...)
}

func appendErr(b []byte, e ErrorCode) []byte {
	if e == None {
		return b
	}
	return append(append(b, ' '), e.String()...)
}

func (m FindCoordinatorRequest) AppendSummary(b []byte) []byte {
	return appendStr(appendID(append(b, "find-coordinator"...), m.RequestID), " group=", m.Group)
}

func (m FindCoordinatorResponse) AppendSummary(b []byte) []byte {
	b = appendID(append(b, "find-coordinator-response"...), m.RequestID)
	return appendErr(appendInt(b, " coordinator=", int64(m.Coordinator)), m.Err)
}

func (m JoinGroupRequest) AppendSummary(b []byte) []byte {
	b = appendID(append(b, "join-group"...), m.RequestID)
	return appendStr(appendStr(b, " group=", m.Group), " member=", m.MemberID)
}

func (m JoinGroupResponse) AppendSummary(b []byte) []byte {
	b = appendID(append(b, "join-group-response"...), m.RequestID)
	b = appendInt(appendStr(b, " member=", m.MemberID), " generation=", int64(m.Generation))
	return appendErr(appendStr(b, " leader=", m.Leader), m.Err)
}

func (m SyncGroupRequest) AppendSummary(b []byte) []byte {
	b = appendID(append(b, "sync-group"...), m.RequestID)
	return appendInt(appendStr(b, " member=", m.MemberID), " generation=", int64(m.Generation))
}

func (m SyncGroupResponse) AppendSummary(b []byte) []byte {
	b = appendID(append(b, "sync-group-response"...), m.RequestID)
	return appendErr(appendInt(b, " partitions=", int64(len(m.Partitions))), m.Err)
}

func (m HeartbeatRequest) AppendSummary(b []byte) []byte {
	b = appendID(append(b, "group-heartbeat"...), m.RequestID)
	return appendInt(appendStr(b, " member=", m.MemberID), " generation=", int64(m.Generation))
}

func (m HeartbeatResponse) AppendSummary(b []byte) []byte {
	return appendErr(appendID(append(b, "group-heartbeat-response"...), m.RequestID), m.Err)
}

func (m LeaveGroupRequest) AppendSummary(b []byte) []byte {
	return appendStr(appendID(append(b, "leave-group"...), m.RequestID), " member=", m.MemberID)
}

func (m LeaveGroupResponse) AppendSummary(b []byte) []byte {
	return appendErr(appendID(append(b, "leave-group-response"...), m.RequestID), m.Err)
}

func (m OffsetCommitRequest) AppendSummary(b []byte) []byte {
	b = appendID(append(b, "offset-commit"...), m.RequestID)
	b = appendInt(appendStr(b, " member=", m.MemberID), " generation=", int64(m.Generation))
	for _, o := range m.Offsets {
		b = strconv.AppendInt(append(AppendTP(b, o.TP), '@'), o.Offset, 10)
	}
	return b
}

func (m OffsetCommitResponse) AppendSummary(b []byte) []byte {
	return appendErr(appendID(append(b, "offset-commit-response"...), m.RequestID), m.Err)
}

func (m OffsetFetchRequest) AppendSummary(b []byte) []byte {
	return appendStr(appendID(append(b, "offset-fetch"...), m.RequestID), " group=", m.Group)
}

func (m OffsetFetchResponse) AppendSummary(b []byte) []byte {
	b = appendID(append(b, "offset-fetch-response"...), m.RequestID)
	for _, o := range m.Offsets {
		b = strconv.AppendInt(append(AppendTP(b, o.TP), '@'), o.Offset, 10)
	}
	return appendErr(b, m.Err)
}

func (m ListOffsetsRequest) AppendSummary(b []byte) []byte {
	b = AppendTP(appendID(append(b, "list-offsets"...), m.RequestID), m.TP)
	return appendInt(b, " timestamp=", m.Timestamp)
}

func (m ListOffsetsResponse) AppendSummary(b []byte) []byte {
	b = AppendTP(appendID(append(b, "list-offsets-response"...), m.RequestID), m.TP)
	return appendErr(appendInt(b, " offset=", m.Offset), m.Err)
}

func (m OffsetsForLeaderEpochRequest) AppendSummary(b []byte) []byte {
	b = AppendTP(appendID(append(b, "offsets-for-leader-epoch"...), m.RequestID), m.TP)
	return appendInt(b, " epoch=", int64(m.LeaderEpoch))
}

func (m OffsetsForLeaderEpochResponse) AppendSummary(b []byte) []byte {
	b = AppendTP(appendID(append(b, "offsets-for-leader-epoch-response"...), m.RequestID), m.TP)
	return appendErr(appendInt(appendInt(b, " epoch=", int64(m.LeaderEpoch)), " end=", m.EndOffset), m.Err)
}
