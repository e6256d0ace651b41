package check

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/tideline-sim/tideline/clock"
	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/cluster/protocol"
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
	payload     int64      // its first record's
	index       int32      // its first record's op in the history, for the story
	sent        clock.Time // when its batch (or fetch) was first sent: records of one share it
}

// maxLinearizableReports bounds the reports per partition and kind.
const maxLinearizableReports = 3

// Linearizable checks each partition's history directly (see above).
func Linearizable(history *journal.History) Result {
	res := Result{Checker: LinearizableName, Definition: LinearizableDefinition}
	var invoked journal.PayloadTable[clock.Time]
	for _, op := range history.All() {
		if op.F == journal.OpSend && op.Type == journal.Invoke {
			invoked.Set(op.Payload, op.Time)
		}
	}
	perTP, tps := spans(history, &invoked)
	reporters := map[protocol.TopicPartition]*reporter{}
	for _, tp := range tps {
		reporters[tp] = &reporter{res: &res, tp: tp, history: history, reported: map[string]int{}}
		checkOffsets(reporters[tp], perTP[tp])
	}
	checkReads(&res, reporters, history, &invoked)
	return res
}

// reporter reports one partition's violations, a few of each kind.
type reporter struct {
	res      *Result
	tp       protocol.TopicPartition
	history  *journal.History
	reported map[string]int
}

func (r *reporter) report(kind string, offset int64, index int32, format string, args ...any) {
	if r.reported[kind]++; r.reported[kind] > maxLinearizableReports {
		return
	}
	op := r.history.At(int(index))
	r.res.Violations = append(r.res.Violations, Violation{Checker: LinearizableName, Kind: kind, TP: r.tp, Offset: offset, Payload: op.Payload,
		Message: fmt.Sprintf(format, args...), Ops: []journal.Op{op}})
}

// checkOffsets checks one partition's acknowledged offsets against each
// other and against real time.
func checkOffsets(r *reporter, ops []span) {
	writes := make([]span, 0, len(ops))
	for _, s := range ops {
		if s.write {
			writes = append(writes, s)
		}
	}
	// Two acknowledged writes at one offset.
	slices.SortFunc(writes, func(a, b span) int { return cmp.Compare(a.first, b.first) })
	for i := 1; i < len(writes); i++ {
		if prev, w := writes[i-1], writes[i]; w.first <= prev.last {
			r.report("two-writes-one-offset", w.first, w.index, "payloads %s and %s both acknowledged at offset %d of %v", journal.PayloadText(prev.payload), journal.PayloadText(w.payload), w.first, r.tp)
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
			r.report("offset-against-real-time", w.first, w.index, "payload %s acknowledged at offset %d of %v, but it was first sent at %v, after %s %d at %v",
				journal.PayloadText(w.payload), w.first, r.tp, w.call, what, reach, reachOp.ret)
		}
	}
}

// checkReads checks that reads hold what the acknowledged writes hold, and
// nothing from the future.
func checkReads(res *Result, reporters map[protocol.TopicPartition]*reporter, history *journal.History, invoked *journal.PayloadTable[clock.Time]) {
	const none = math.MinInt64
	acked := map[protocol.TopicPartition][]int64{} // by offset; none if no write was acknowledged there
	for _, op := range history.All() {
		if op.F == journal.OpSend && op.Type == journal.Ok && op.Offset >= 0 {
			a := acked[op.TP]
			for int64(len(a)) <= op.Offset {
				a = append(a, none)
			}
			a[op.Offset] = op.Payload
			acked[op.TP] = a
		}
	}
	for i, op := range history.All() {
		if op.F != journal.OpPoll || op.Type != journal.Ok {
			continue
		}
		r := reporters[op.TP]
		if r == nil {
			r = &reporter{res: res, tp: op.TP, history: history, reported: map[string]int{}}
			reporters[op.TP] = r
		}
		if at, ok := invoked.Get(op.Payload); !ok || at > op.Time {
			r.report("read-from-the-future", op.Offset, int32(i), "%s read payload %s at offset %d of %v at %v, before it was written", op.Process, journal.PayloadText(op.Payload), op.Offset, op.TP, op.Time)
		}
		if a := acked[op.TP]; op.Offset >= 0 && op.Offset < int64(len(a)) && a[op.Offset] != none && a[op.Offset] != op.Payload {
			r.report("read-disagrees-with-write", op.Offset, int32(i), "%s read payload %s at offset %d of %v, where payload %s was acknowledged", op.Process, journal.PayloadText(op.Payload), op.Offset, op.TP, journal.PayloadText(a[op.Offset]))
		}
	}
}

// spans turns the history into each partition's operations: one per
// acknowledged batch, called when it was first sent (no record of it can be
// in a log before) or invoked, whichever is later, and returning when
// acknowledged; one per fetch's records, at the instant it returned.
// Failed and unknown writes are left out: they may or may not have taken
// offsets, and the check allows for gaps. (acks=0 writes carry no offset.)
func spans(history *journal.History, invoked *journal.PayloadTable[clock.Time]) (map[protocol.TopicPartition][]span, []protocol.TopicPartition) {
	// A batch's records are recorded one after another at one instant,
	// sharing when the batch was first sent (two batches answered at one
	// instant do not): only each client's last span per partition can
	// still grow.
	type part struct {
		tp    protocol.TopicPartition
		spans []span
	}
	type client struct {
		part *part
		proc string
		read bool
	}
	var parts []*part // in the order first seen; looked up by byTP
	byTP := map[protocol.TopicPartition]*part{}
	open := map[client]int{} // a client's last span of a partition: looked up, never iterated
	for i, op := range history.All() {
		var s span
		switch {
		case op.F == journal.OpSend && op.Type == journal.Ok && op.Offset >= 0:
			at, _ := invoked.Get(op.Payload)
			s = span{write: true, first: op.Offset, last: op.Offset, call: max(at, op.Start), ret: op.Time, payload: op.Payload, index: int32(i), sent: op.Start}
		case op.F == journal.OpPoll && op.Type == journal.Ok:
			s = span{first: op.Offset, last: op.Offset, call: op.Time, ret: op.Time, payload: op.Payload, index: int32(i), sent: op.Start}
		default:
			continue
		}
		p := byTP[op.TP]
		if p == nil {
			p = &part{tp: op.TP}
			parts = append(parts, p)
			byTP[op.TP] = p
		}
		c := client{part: p, proc: op.Process, read: !s.write}
		if k, ok := open[c]; ok {
			if b := &p.spans[k]; b.ret == op.Time && b.last+1 == op.Offset && b.sent == s.sent {
				b.last = op.Offset
				b.call = max(b.call, s.call)
				continue
			}
		}
		open[c] = len(p.spans)
		p.spans = append(p.spans, s)
	}
	perTP := make(map[protocol.TopicPartition][]span, len(parts))
	tps := make([]protocol.TopicPartition, 0, len(parts))
	for _, p := range parts {
		perTP[p.tp] = p.spans
		tps = append(tps, p.tp)
	}
	slices.SortFunc(tps, protocol.TopicPartition.Compare)
	return perTP, tps
}
