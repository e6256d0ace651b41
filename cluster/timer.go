package cluster

import (
	"strconv"

	"github.com/tideline-sim/tideline/cluster/protocol"
)

// timer is the one timer type of the cluster's nodes: what fires, and for
// which partition or request.
type timer struct {
	kind timerKind
	tp   protocol.TopicPartition
	id   uint64
	home *protocol.Pool[timer]
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
		b = protocol.AppendTP(b, t.tp)
	}
	if t.id != 0 {
		b = strconv.AppendUint(append(b, " #"...), t.id, 10)
	}
	return b
}
