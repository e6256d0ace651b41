package check

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/tideline-sim/tideline/clock"
	"github.com/tideline-sim/tideline/cluster"
)

// LinearizableDefinition is the promise, in one line.
const LinearizableDefinition = "every partition behaves as one append-only log: acknowledged appends and reads take effect in an order consistent with real time"

// An append-only log whose writes carry their offsets needs no search to
// check for linearizability (Porcupine, kept as the test oracle, searches;
// its time bound made a verdict depend on the machine's speed). A history
// of acknowledged batches (each from its first send to its acknowledgement)
// and reads (each at the instant it returned) has a linearization iff
//   - no two acknowledged writes share an offset, and
//   - no write starts at an offset some operation that finished before the
//     write began had already reached (a write's reach is its last offset,
//     a read's the last offset it read);
// since real-time precedence between intervals is transitive, a violation
// of any order shows up as one such pair. Beyond that model, a read must
// hold what the acknowledged write at its offset holds, and nothing written
// after the read returned. All in O(n log n) per partition.

// span is one operation of a partition's history: an acknowledged batch of
// writes [first, last], or one fetch's records [first, last].
type span struct {
	write       bool
	first, last int64
	call, ret   clock.Time
	op          cluster.Op // its first record, for the story
}

// maxLinearizableReports bounds the reports per partition and kind.
const maxLinearizableReports = 3

// Linearizable checks each partition's history directly (see above).
func Linearizable(history []cluster.Op) Result {
	res := Result{Checker: LinearizableName, Definition: LinearizableDefinition}
	invoked := map[int64]clock.Time{}
	for _, op := range history {
		if op.F == cluster.OpSend && op.Type == cluster.Invoke {
			invoked[op.Payload] = op.Time
		}
	}
	perTP, tps := spans(history, invoked)
	for _, tp := range tps {
		checkPartition(&res, tp, perTP[tp], history, invoked)
	}
	return res
}

func checkPartition(res *Result, tp cluster.TopicPartition, ops []span, history []cluster.Op, invoked map[int64]clock.Time) {
	reported := map[string]int{}
	report := func(kind string, offset int64, op cluster.Op, format string, args ...any) {
		if reported[kind]++; reported[kind] > maxLinearizableReports {
			return
		}
		res.Violations = append(res.Violations, Violation{Checker: LinearizableName, Kind: kind, TP: tp, Offset: offset, Payload: op.Payload,
			Message: fmt.Sprintf(format, args...), Ops: []cluster.Op{op}})
	}
	var writes []span
	for _, s := range ops {
		if s.write {
			writes = append(writes, s)
		}
	}
	// Two acknowledged writes at one offset.
	slices.SortFunc(writes, func(a, b span) int { return cmp.Compare(a.first, b.first) })
	for i := 1; i < len(writes); i++ {
		if prev, w := writes[i-1], writes[i]; w.first <= prev.last {
			report("two-writes-one-offset", w.first, w.op, "payloads %d and %d both acknowledged at offset %d of %v", prev.op.Payload, w.op.Payload, w.first, tp)
		}
	}
	// Offsets against real time: sweep the writes by when they began,
	// over every operation by when it finished.
	byRet := slices.Clone(ops)
	slices.SortStableFunc(byRet, func(a, b span) int { return cmp.Compare(a.ret, b.ret) })
	slices.SortStableFunc(writes, func(a, b span) int { return cmp.Compare(a.call, b.call) })
	reach, reachOp, next := int64(-1), span{}, 0
	for _, w := range writes {
		for next < len(byRet) && byRet[next].ret < w.call {
			if byRet[next].last > reach {
				reach, reachOp = byRet[next].last, byRet[next]
			}
			next++
		}
		if w.first <= reach {
			what := "a write acknowledged at"
			if !reachOp.write {
				what = "a read that had returned offset"
			}
			report("offset-against-real-time", w.first, w.op, "payload %d acknowledged at offset %d of %v, but it was first sent at %v, after %s %d at %v",
				w.op.Payload, w.first, tp, w.call, what, reach, reachOp.ret)
		}
	}
	// Reads hold what the acknowledged writes hold, and nothing from the
	// future.
	acked := map[int64]int64{}
	for _, op := range history {
		if op.F == cluster.OpSend && op.Type == cluster.Ok && op.TP == tp && op.Offset >= 0 {
			acked[op.Offset] = op.Payload
		}
	}
	for _, op := range history {
		if op.F != cluster.OpPoll || op.Type != cluster.Ok || op.TP != tp {
			continue
		}
		if at, ok := invoked[op.Payload]; !ok || at > op.Time {
			report("read-from-the-future", op.Offset, op, "%s read payload %d at offset %d of %v at %v, before it was written", op.Process, op.Payload, op.Offset, tp, op.Time)
		}
		if p, ok := acked[op.Offset]; ok && p != op.Payload {
			report("read-disagrees-with-write", op.Offset, op, "%s read payload %d at offset %d of %v, where payload %d was acknowledged", op.Process, op.Payload, op.Offset, tp, p)
		}
	}
}

// spans turns the history into each partition's operations: one per
// acknowledged batch, called when it was first sent (no record of it can be
// in a log before) or invoked, whichever is later, and returning when
// acknowledged; one per fetch's records, at the instant it returned.
// Failed and unknown writes are left out: they may or may not have taken
// offsets, and the check allows for gaps. (acks=0 writes carry no offset.)
func spans(history []cluster.Op, invoked map[int64]clock.Time) (map[cluster.TopicPartition][]span, []cluster.TopicPartition) {
	type batchKey struct {
		tp   cluster.TopicPartition
		proc string
		at   clock.Time
		read bool
	}
	perTP := map[cluster.TopicPartition][]span{}
	var tps []cluster.TopicPartition
	open := map[batchKey]int{}
	for _, op := range history {
		var s span
		switch {
		case op.F == cluster.OpSend && op.Type == cluster.Ok && op.Offset >= 0:
			s = span{write: true, first: op.Offset, last: op.Offset, call: max(invoked[op.Payload], op.Start), ret: op.Time, op: op}
		case op.F == cluster.OpPoll && op.Type == cluster.Ok:
			s = span{first: op.Offset, last: op.Offset, call: op.Time, ret: op.Time, op: op}
		default:
			continue
		}
		key := batchKey{op.TP, op.Process, op.Time, !s.write}
		if i, ok := open[key]; ok {
			if b := &perTP[op.TP][i]; b.last+1 == op.Offset {
				b.last = op.Offset
				b.call = max(b.call, s.call)
				continue
			}
		}
		if _, seen := perTP[op.TP]; !seen {
			tps = append(tps, op.TP)
		}
		open[key] = len(perTP[op.TP])
		perTP[op.TP] = append(perTP[op.TP], s)
	}
	slices.SortFunc(tps, cluster.TopicPartition.Compare)
	return perTP, tps
}
