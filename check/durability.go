package check

import (
	"fmt"

	"github.com/tideline-sim/tideline/cluster"
)

// AckedDurabilityDefinition is the promise, in one line.
const AckedDurabilityDefinition = "every acknowledged write is in the final log at its acknowledged offset, and no failed write is"

// AckedDurability checks that every send the history records as ok is in
// its partition's final log at the acknowledged offset with the same
// payload, and that no send recorded as failed (definitely not written) is
// there at all. Sends with unknown outcome may be anywhere or nowhere.
func AckedDurability(history []cluster.Op, logs []cluster.FinalLog) Result {
	res := Result{Checker: AckedDurabilityName, Definition: AckedDurabilityDefinition}
	byTP := finalByTP(logs)
	failed := map[int64]cluster.Op{}
	for _, op := range history {
		if op.F != cluster.OpSend {
			continue
		}
		if op.Type == cluster.Fail {
			failed[op.Payload] = op
		}
		if op.Type != cluster.Ok {
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
		res.Violations = append(res.Violations, Violation{Checker: AckedDurabilityName, Kind: "lost-write", TP: op.TP, Offset: op.Offset, Payload: op.Payload, Message: msg, Ops: []cluster.Op{op}})
	}
	if len(failed) == 0 {
		return res
	}
	for _, final := range logs {
		for _, rec := range final.Records {
			if op, ok := failed[rec.Payload]; ok {
				res.Violations = append(res.Violations, Violation{Checker: AckedDurabilityName, Kind: "failed-write-present", TP: final.TP, Offset: rec.Offset, Payload: rec.Payload,
					Message: fmt.Sprintf("payload %d was reported failed (%v) but is at offset %d", rec.Payload, op.Err, rec.Offset), Ops: []cluster.Op{op}})
			}
		}
	}
	return res
}
