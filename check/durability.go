package check

import (
	"fmt"

	"github.com/tideline-sim/tideline/cluster"
)

// AckedDurabilityName names the checker in reports.
const AckedDurabilityName = "acked-durability"

// AckedDurabilityDefinition is the promise it checks, in one line.
const AckedDurabilityDefinition = "every acknowledged write is in the final log, at its acknowledged offset, with its payload"

// AckedDurability checks that every send the history records as ok is in
// its partition's final log at the acknowledged offset with the same
// payload. Sends that failed or whose outcome is unknown may be anywhere or
// nowhere: their absence is not a violation.
func AckedDurability(history []cluster.Op, logs []cluster.FinalLog) Result {
	res := Result{Checker: AckedDurabilityName, Definition: AckedDurabilityDefinition}
	byTP := make(map[cluster.TopicPartition]cluster.FinalLog, len(logs))
	for _, l := range logs {
		byTP[l.TP] = l
	}
	for _, op := range history {
		if op.F != cluster.OpSend || op.Type != cluster.Ok {
			continue
		}
		final, known := byTP[op.TP]
		var msg string
		switch {
		case !known:
			msg = "partition unknown to the cluster"
		case final.Leader == cluster.NoLeader:
			msg = fmt.Sprintf("payload %d lost: %v has no leader at the end", op.Payload, op.TP)
		case op.Offset >= int64(len(final.Records)):
			msg = fmt.Sprintf("payload %d lost: acknowledged at offset %d, but broker %d's log ends at %d", op.Payload, op.Offset, final.Leader, len(final.Records))
		case final.Records[op.Offset].Payload != op.Payload:
			msg = fmt.Sprintf("payload %d lost: offset %d on broker %d holds payload %d instead", op.Payload, op.Offset, final.Leader, final.Records[op.Offset].Payload)
		default:
			continue
		}
		res.Violations = append(res.Violations, Violation{Checker: AckedDurabilityName, TP: op.TP, Offset: op.Offset, Payload: op.Payload, Message: msg, Ops: []cluster.Op{op}})
	}
	return res
}
