package check

import (
	"fmt"

	"github.com/tideline-sim/tideline/cluster"
)

// EventualDeliveryDefinition is the promise, in one line.
const EventualDeliveryDefinition = "once faults heal, every partition has a leader and a full ISR, and consumers read every acknowledged write"

// EventualDelivery is the liveness check, run on the state at the end of
// the settle period: every partition has a leader and all its replicas in
// the ISR, and, if the run had consumers, every acknowledged write was read
// by at least one of them (Jepsen's unseen).
func EventualDelivery(history *cluster.History, final []cluster.FinalLog) Result {
	res := Result{Checker: EventualDeliveryName, Definition: EventualDeliveryDefinition}
	for _, f := range final {
		switch {
		case f.State.Leader == cluster.NoLeader:
			res.Violations = append(res.Violations, Violation{Checker: EventualDeliveryName, Kind: "no-leader", TP: f.TP, Offset: -1, Payload: -1,
				Message: fmt.Sprintf("%v has no leader at the end", f.TP)})
		case len(f.State.ISR) < len(f.State.Replicas):
			res.Violations = append(res.Violations, Violation{Checker: EventualDeliveryName, Kind: "under-replicated", TP: f.TP, Offset: -1, Payload: -1,
				Message: fmt.Sprintf("%v ends with ISR %v of replicas %v", f.TP, f.State.ISR, f.State.Replicas)})
		}
	}
	var seen cluster.PayloadTable[bool]
	consumers := false
	for _, op := range history.All() {
		if op.F == cluster.OpStart {
			consumers = true
		}
		if op.F == cluster.OpPoll && op.Type == cluster.Ok {
			seen.Set(op.Payload, true)
		}
	}
	if !consumers {
		return res
	}
	for _, op := range history.All() {
		if _, read := seen.Get(op.Payload); op.F == cluster.OpSend && op.Type == cluster.Ok && !read {
			res.Violations = append(res.Violations, Violation{Checker: EventualDeliveryName, Kind: "unseen", TP: op.TP, Offset: op.Offset, Payload: op.Payload,
				Message: fmt.Sprintf("payload %s, acknowledged at offset %d at %v, was never read", cluster.PayloadText(op.Payload), op.Offset, op.Time), Ops: []cluster.Op{op}})
		}
	}
	return res
}
