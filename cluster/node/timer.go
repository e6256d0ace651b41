// Package node holds the parts every node of the cluster is built of,
// whatever its role: its timers (one Timer type, by kind), the requests it
// retransmits until answered (Call, as TCP re-sends a segment), the pools
// and arenas that recycle the values it sends and keeps (Recyclers, Arena),
// the Directory that says where the brokers and controllers are, and the
// NotController redirect any controller may answer any broker with. It
// knows no Kafka rule; it imports only sim, clock and cluster/protocol.
package node

import (
	"strconv"

	"github.com/tideline-sim/tideline/cluster/protocol"
)

// Timer is the one timer type of the cluster's nodes: what fires, and for
// which partition or request.
type Timer struct {
	Kind   TimerKind
	TP     protocol.TopicPartition
	Broker protocol.BrokerID // a replica fetcher's leader, a fetch session's follower
	ID     uint64
	home   *protocol.Pool[Timer]
}

type TimerKind uint8

const (
	THeartbeat TimerKind = iota
	TRegister
	TSessionCheck
	TISRCheck
	THWCheckpoint
	TFlush
	TRebalance
	TFetch        // consumer: (re)send a fetch
	TFetchExpire  // leader: a consumer's parked fetch's wait is over
	TProduceRetry // producer: retransmit or retry a batch
	TProduceExpire
	TAlterRetry
	TMetadata
	TProduce // producer: the next record is due
	TInitPID
	TLinger
	TConnect        // producer: retransmit a connection's ApiVersions, or reconnect after a backoff
	TQuorumElection // controller: a fetch or election timeout, or an election backoff, is over
	TQuorumFetch    // controller: a metadata fetch went unanswered
	TQuorumCheck    // leader controller: check-quorum
	TQuorumBegin    // leader controller: re-send BeginQuorumEpoch
	TQuorumPark     // leader controller: a parked metadata fetch's wait is over
	TControllerRetry
	TNoOp              // active controller: write a NoOp record
	TShutdownHeartbeat // broker in controlled shutdown: the quick second heartbeat
	TShutdown          // broker: stop now (the controller let it go, or its deadline passed)
	// Group coordinator (TP.Topic names the group): a member's session
	// check, the end of a join phase, of a sync phase, an offsets write's
	// timeout, the end of loading a partition.
	TGroupSession
	TGroupJoin
	TGroupSync
	TGroupWrite
	TGroupLoad
	// Group member: heartbeat, a coordinator request's retry, the
	// application's next step, an auto-commit, the poll interval check.
	TMemberHeartbeat
	TMemberRetry
	TMemberWork
	TMemberPollCheck
	TMaxBlock // producer: a send() blocked for buffer memory gives up (max.block.ms)
	// Broker: a replica fetcher's request to Broker went unanswered, or
	// its backoff is over; a fetch session's parked request from
	// follower Broker has waited its max wait.
	TReplicaFetch
	TFetchSessionExpire
)

var timerNames = [...]string{
	THeartbeat: "heartbeat", TRegister: "register", TSessionCheck: "session-check",
	TISRCheck: "isr-check", THWCheckpoint: "hw-checkpoint", TFlush: "flush",
	TRebalance: "rebalance", TFetch: "fetch", TFetchExpire: "fetch-expire",
	TProduceRetry: "produce-retry", TProduceExpire: "produce-expire", TAlterRetry: "alter-retry",
	TMetadata: "metadata", TProduce: "produce", TInitPID: "init-producer-id", TLinger: "linger", TConnect: "connect",
	TQuorumElection: "quorum-election", TQuorumFetch: "quorum-fetch", TQuorumCheck: "check-quorum", TQuorumBegin: "begin-quorum-epoch",
	TQuorumPark: "quorum-fetch-expire", TControllerRetry: "controller-retry", TNoOp: "metadata-noop",
	TShutdownHeartbeat: "shutdown-heartbeat", TShutdown: "shutdown",
	TGroupSession: "group-session", TGroupJoin: "group-join", TGroupSync: "group-sync", TGroupWrite: "group-write", TGroupLoad: "group-load",
	TMemberHeartbeat: "member-heartbeat", TMemberRetry: "member-retry", TMemberWork: "member-work", TMemberPollCheck: "member-poll-check", TMaxBlock: "max-block",
	TReplicaFetch: "replica-fetch", TFetchSessionExpire: "replica-fetch-expire",
}

func (t *Timer) AppendSummary(b []byte) []byte {
	b = append(b, timerNames[t.Kind]...)
	if t.TP.Topic != "" {
		b = protocol.AppendTP(b, t.TP)
	}
	if t.Kind == TReplicaFetch || t.Kind == TFetchSessionExpire {
		b = strconv.AppendInt(append(b, " broker="...), int64(t.Broker), 10)
	}
	if t.ID != 0 {
		b = strconv.AppendUint(append(b, " #"...), t.ID, 10)
	}
	return b
}
