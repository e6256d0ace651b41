package check

import (
	"fmt"

	"github.com/tideline-sim/tideline/cluster"
	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/cluster/protocol"
)

// AckedDurabilityDefinition is the promise, in one line.
const AckedDurabilityDefinition = "every acknowledged write is in the final log (at its offset; acks=0 writes by payload), and no write that definitely failed is"

// AckedDurability checks that every send the history records as ok is in
// its partition's final log: at the acknowledged offset with the same
// payload, or, for acks=0 sends (acknowledged without an offset), anywhere
// in the log. A write the final log lacks is lost — unless the partition
// has no live leader at the end and a replica still holds it: then it is
// unavailable (Result.Unavailable), not lost, since it returns with that
// replica. (A copy on a down replica while a live leader lacks the write is
// lost all the same: that replica truncates to the leader when it returns.)
//
// A send recorded as failed must not be there at all when its error proves
// it was never appended (Kafka's errors before the append, or a batch that
// was never sent); after NOT_ENOUGH_REPLICAS_AFTER_APPEND, a timeout or a
// lost connection the outcome is unknown, and the write may be anywhere or
// nowhere, as may every send recorded as info.
func AckedDurability(history *journal.History, logs []cluster.FinalLog) Result {
	res := Result{Checker: AckedDurabilityName, Definition: AckedDurabilityDefinition}
	byTP := finalByTP(logs)
	idx := payloadIndex{}
	failed := map[int64]journal.Op{}
	for _, op := range history.All() {
		if op.F != journal.OpSend {
			continue
		}
		if op.Type == journal.Fail && definitelyNotWritten(op) {
			failed[op.Payload] = op
		}
		if op.Type != journal.Ok {
			continue
		}
		final, known := byTP[op.TP]
		if !known {
			res.Violations = append(res.Violations, lostWrite(op, "partition unknown to the cluster"))
			continue
		}
		leaderUp := final.Leader != protocol.NoLeader && up(final, final.Leader)
		if final.Leader != protocol.NoLeader && idx.holds(final, final.Leader, op) {
			if leaderUp {
				continue
			}
			res.Unavailable = append(res.Unavailable, unavailableWrite(op, fmt.Sprintf("payload %s is on leader broker %d, which is down at the end", journal.PayloadText(op.Payload), final.Leader)))
			continue
		}
		if !leaderUp {
			if b, ok := idx.holder(final, op); ok {
				res.Unavailable = append(res.Unavailable, unavailableWrite(op, fmt.Sprintf("payload %s is only on broker %d and %v has no live leader at the end", journal.PayloadText(op.Payload), b, op.TP)))
				continue
			}
		}
		res.Violations = append(res.Violations, lostWrite(op, lostMessage(final, op)))
	}
	if len(failed) == 0 {
		return res
	}
	for _, final := range logs {
		for rec := range final.Records.All() {
			if op, ok := failed[rec.Payload]; ok {
				res.Violations = append(res.Violations, Violation{Checker: AckedDurabilityName, Kind: "failed-write-present", TP: final.TP, Offset: rec.Offset, Payload: rec.Payload,
					Message: fmt.Sprintf("payload %s was reported failed (%v) but is at offset %d", journal.PayloadText(rec.Payload), errorText(op), rec.Offset), Ops: []journal.Op{op}})
			}
		}
	}
	return res
}

// definitelyNotWritten reports whether a failed send cannot have been
// appended: its error is one Kafka returns before the append, or it never
// left the producer.
func definitelyNotWritten(op journal.Op) bool {
	return op.Err == protocol.None || op.Err.NotAppended()
}

func errorText(op journal.Op) string {
	if op.Err == protocol.None {
		return op.Note
	}
	return op.Err.String()
}

func lostWrite(op journal.Op, msg string) Violation {
	return Violation{Checker: AckedDurabilityName, Kind: "lost-write", TP: op.TP, Offset: op.Offset, Payload: op.Payload, Message: msg, Ops: []journal.Op{op}}
}

func unavailableWrite(op journal.Op, msg string) Violation {
	return Violation{Checker: AckedDurabilityName, Kind: "unavailable-write", TP: op.TP, Offset: op.Offset, Payload: op.Payload, Message: msg, Ops: []journal.Op{op}}
}

func lostMessage(final cluster.FinalLog, op journal.Op) string {
	switch {
	case final.Leader == protocol.NoLeader:
		return fmt.Sprintf("payload %s lost: %v has no leader at the end and no replica holds it", journal.PayloadText(op.Payload), op.TP)
	case op.Offset < 0:
		return fmt.Sprintf("payload %s lost: acknowledged under acks=0, but nowhere in broker %d's log", journal.PayloadText(op.Payload), final.Leader)
	case op.Offset >= final.Records.Len():
		return fmt.Sprintf("payload %s lost: acknowledged at offset %d, but broker %d's log ends at %d", journal.PayloadText(op.Payload), op.Offset, final.Leader, final.Records.Len())
	}
	return fmt.Sprintf("payload %s lost: offset %d on broker %d holds payload %s instead", journal.PayloadText(op.Payload), op.Offset, final.Leader, journal.PayloadText(final.Records.Payload(op.Offset)))
}

// up reports whether broker b was running at the end (a final log built
// without per-replica state counts every broker as up).
func up(final cluster.FinalLog, b protocol.BrokerID) bool {
	return int(b) >= len(final.HWs) || final.HWs[b] >= 0
}

// payloadIndex finds acks=0 writes by payload, indexing each replica's log
// the first time one is looked for in it.
type payloadIndex map[protocol.TopicPartition][]map[int64]bool

// holds reports whether broker b's log of the partition has op's write.
func (x payloadIndex) holds(final cluster.FinalLog, b protocol.BrokerID, op journal.Op) bool {
	recs := final.Records
	if b != final.Leader {
		recs = final.Replicas[b]
	}
	if op.Offset >= 0 {
		return op.Offset < recs.Len() && recs.Payload(op.Offset) == op.Payload
	}
	if x[final.TP] == nil {
		x[final.TP] = make([]map[int64]bool, max(len(final.Replicas), int(b)+1))
	}
	set := x[final.TP][b]
	if set == nil {
		set = make(map[int64]bool, recs.Len())
		for r := range recs.All() {
			set[r.Payload] = true
		}
		x[final.TP][b] = set
	}
	return set[op.Payload]
}

// holder returns a replica whose log has op's write.
func (x payloadIndex) holder(final cluster.FinalLog, op journal.Op) (protocol.BrokerID, bool) {
	for b := range final.Replicas {
		if final.Replicas[b].Len() > 0 && x.holds(final, protocol.BrokerID(b), op) {
			return protocol.BrokerID(b), true
		}
	}
	return 0, false
}
