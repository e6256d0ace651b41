package check

import (
	"fmt"

	"github.com/tideline-sim/tideline/cluster"
)

// NoDuplicatesDefinition is the promise, in one line.
const NoDuplicatesDefinition = "with enable.idempotence, no write appears twice in a log"

// NoDuplicates checks that no payload sent by an idempotent producer
// appears at two offsets of the final logs. (Without idempotence Kafka
// promises at-least-once, and duplicates are allowed.)
func NoDuplicates(history []cluster.Op, final []cluster.FinalLog) Result {
	res := Result{Checker: NoDuplicatesName, Definition: NoDuplicatesDefinition}
	idempotent := map[int64]cluster.Op{}
	for _, op := range history {
		if op.F == cluster.OpSend && op.Type == cluster.Invoke && op.Idempotent {
			idempotent[op.Payload] = op
		}
	}
	if len(idempotent) == 0 {
		return res
	}
	for _, f := range final {
		first := map[int64]int64{}
		for _, rec := range f.Records {
			send, ok := idempotent[rec.Payload]
			if !ok {
				continue
			}
			if off, seen := first[rec.Payload]; seen {
				res.Violations = append(res.Violations, Violation{Checker: NoDuplicatesName, Kind: "duplicate", TP: f.TP, Offset: rec.Offset, Payload: rec.Payload,
					Message: fmt.Sprintf("payload %d is at offsets %d and %d", rec.Payload, off, rec.Offset), Ops: []cluster.Op{send}})
				continue
			}
			first[rec.Payload] = rec.Offset
		}
	}
	return res
}
