package check

import (
	"github.com/tideline-sim/tideline/cluster/monitor"
)

// ProtocolInvariantsDefinition is the promise, in one line.
const ProtocolInvariantsDefinition = "after every event, Kafka's replication rules hold: HW within every ISR member's log, ISR joins only when caught up in the current epoch, acks=all only with min ISR holding the write, clean elections from the ISR, views, epochs and leader logs never going back"

// ProtocolInvariants reports the protocol rules the cluster's monitor saw
// broken as the run went (cluster/invariants.go), each by its name: a rule
// can break without losing data yet, and this is where that shows.
func ProtocolInvariants(broken []monitor.InvariantViolation) Result {
	res := Result{Checker: ProtocolInvariantsName, Definition: ProtocolInvariantsDefinition}
	for _, v := range broken {
		res.Violations = append(res.Violations, Violation{Checker: ProtocolInvariantsName, Kind: v.Kind, TP: v.TP, Offset: v.Offset, Payload: -1,
			Message: v.Time.String() + " " + v.Detail, At: v.Time})
	}
	return res
}
