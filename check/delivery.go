package check

import (
	"fmt"
	"time"

	"github.com/tideline-sim/tideline/clock"
	"github.com/tideline-sim/tideline/cluster"
	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/cluster/protocol"
)

// EventualDeliveryDefinition is the promise, in one line.
const EventualDeliveryDefinition = "once faults heal, every partition has a leader and a full ISR, producers' writes to it are answered, and consumers read every acknowledged write"

// StuckWriteCalm is how long the cluster must have been free of faults
// before a write still unanswered at the end counts as stuck: once faults
// heal, a request is retransmitted within a second, a refused connection
// is reopened within reconnect.backoff.max.ms (1 s) and a retry waits
// retry.backoff.ms, so a healthy partition answers every write well
// within this; a shorter settle proves nothing either way.
const StuckWriteCalm = 5 * time.Second

// EventualDelivery is the liveness check, run on the state at the end of
// the settle period: every partition has a leader and all its replicas in
// the ISR, and, if the run had consumers, every acknowledged write was read
// by at least one of them (Jepsen's unseen). A partition that ends led and
// fully replicated, after at least StuckWriteCalm without faults, must
// have answered every write its producers sent before the faults healed:
// one still pending is a client that stopped trying (stuck-writes), as a
// Kafka producer never does before delivery.timeout.ms.
func EventualDelivery(history *journal.History, final []cluster.FinalLog, healed, end clock.Time) Result {
	res := Result{Checker: EventualDeliveryName, Definition: EventualDeliveryDefinition}
	healthy := make(map[protocol.TopicPartition]bool, len(final))
	for _, f := range final {
		healthy[f.TP] = f.State.Leader != protocol.NoLeader && len(f.State.ISR) >= len(f.State.Replicas)
		switch {
		case f.State.Leader == protocol.NoLeader:
			res.Violations = append(res.Violations, Violation{Checker: EventualDeliveryName, Kind: "no-leader", TP: f.TP, Offset: -1, Payload: -1,
				Message: fmt.Sprintf("%v has no leader at the end", f.TP)})
		case len(f.State.ISR) < len(f.State.Replicas):
			res.Violations = append(res.Violations, Violation{Checker: EventualDeliveryName, Kind: "under-replicated", TP: f.TP, Offset: -1, Payload: -1,
				Message: fmt.Sprintf("%v ends with ISR %v of replicas %v", f.TP, f.State.ISR, f.State.Replicas)})
		}
	}
	// One pass learns what was answered and what was read, one more finds
	// the writes left unanswered and the acknowledged ones left unread.
	var answered, seen journal.PayloadTable[bool]
	consumers := false
	for _, op := range history.All() {
		switch {
		case op.F == journal.OpStart:
			consumers = true
		case op.F == journal.OpPoll && op.Type == journal.Ok:
			seen.Set(op.Payload, true)
		case op.F == journal.OpSend && op.Type != journal.Invoke:
			answered.Set(op.Payload, true)
		}
	}
	judgeStuck := end.Sub(healed) >= StuckWriteCalm
	stuck := stuckWrites{byTP: map[protocol.TopicPartition]*stuckPartition{}}
	var unseen []Violation
	for _, op := range history.All() {
		if op.F != journal.OpSend {
			continue
		}
		if judgeStuck && op.Type == journal.Invoke && op.Time <= healed && healthy[op.TP] {
			if _, ok := answered.Get(op.Payload); !ok {
				stuck.add(op)
			}
		}
		if _, read := seen.Get(op.Payload); consumers && op.Type == journal.Ok && !read {
			unseen = append(unseen, Violation{Checker: EventualDeliveryName, Kind: "unseen", TP: op.TP, Offset: op.Offset, Payload: op.Payload,
				Message: fmt.Sprintf("payload %s, acknowledged at offset %d at %v, was never read", journal.PayloadText(op.Payload), op.Offset, op.Time), Ops: []journal.Op{op}})
		}
	}
	res.Violations = append(append(res.Violations, stuck.violations(healed, end)...), unseen...)
	return res
}

// stuckWrites gathers, per healthy partition, the writes invoked before
// the faults healed and never answered by the end of the run.
type stuckWrites struct {
	order []protocol.TopicPartition
	byTP  map[protocol.TopicPartition]*stuckPartition
}

type stuckPartition struct {
	first journal.Op
	count int
}

func (s *stuckWrites) add(op journal.Op) {
	p := s.byTP[op.TP]
	if p == nil {
		p = &stuckPartition{first: op}
		s.byTP[op.TP] = p
		s.order = append(s.order, op.TP)
	}
	p.count++
}

func (s *stuckWrites) violations(healed, end clock.Time) []Violation {
	var out []Violation
	for _, tp := range s.order {
		p := s.byTP[tp]
		out = append(out, Violation{Checker: EventualDeliveryName, Kind: "stuck-writes", TP: tp, Offset: -1, Payload: p.first.Payload,
			Message: fmt.Sprintf("%d writes to %v were never answered although it ended led and fully replicated, %v after the faults healed; the first, payload %s, was sent at %v by %s",
				p.count, tp, end.Sub(healed), journal.PayloadText(p.first.Payload), p.first.Time, p.first.Process),
			Ops: []journal.Op{p.first}})
	}
	return out
}
