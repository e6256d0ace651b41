package check

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/tideline-sim/tideline/cluster"
	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/cluster/protocol"
)

// OrderingDefinition is the promise, in one line.
const OrderingDefinition = "per producer and partition, acknowledged writes sit in the log in the order they were sent"

// maxReorderedPerPartition bounds the violations one partition reports:
// one retried batch landing late puts every write after it out of order.
const maxReorderedPerPartition = 10

// Ordering checks that each producer's acknowledged writes to a partition
// hold offsets in the order the application sent them (payload sequence).
// `reordered`: a write sent after another sits before it — a retried
// batch that landed behind a later one, the pitfall of retries with more
// than one request in flight and no idempotence. With idempotence the
// broker's sequence checks forbid it; without, the scenario says whether
// it may happen.
//
// Only writes the final log still holds where they were acknowledged are
// judged: a lost write is acked-durability's finding, and the log that
// replaced it is ordered on its own.
func Ordering(history *journal.History, final []cluster.FinalLog) Result {
	fin := finalByTP(final)
	res := Result{Checker: OrderingName, Definition: OrderingDefinition}
	type write struct {
		seq, offset int64
		index       int
	}
	type key struct {
		producer int
		tp       protocol.TopicPartition
	}
	writes := map[key][]write{}
	var keys []key
	for i, op := range history.All() {
		if op.F != journal.OpSend || op.Type != journal.Ok || op.Offset < 0 {
			continue
		}
		if f, ok := fin[op.TP]; final != nil && (!ok || op.Offset >= f.Records.Len() || f.Records.Payload(op.Offset) != op.Payload) {
			continue
		}
		producer, seq, ok := journal.PayloadOf(op.Payload)
		if !ok {
			continue
		}
		k := key{producer, op.TP}
		if _, seen := writes[k]; !seen {
			keys = append(keys, k)
		}
		writes[k] = append(writes[k], write{seq, op.Offset, i})
	}
	slices.SortFunc(keys, func(a, b key) int { return cmp.Or(cmp.Compare(a.producer, b.producer), a.tp.Compare(b.tp)) })
	for _, k := range keys {
		ws := writes[k]
		slices.SortFunc(ws, func(a, b write) int { return cmp.Compare(a.seq, b.seq) })
		reported := 0
		var highest write // the write at the highest offset so far, in send order
		for i, w := range ws {
			if i > 0 && w.offset < highest.offset && reported < maxReorderedPerPartition {
				before, after := history.At(highest.index), history.At(w.index)
				res.Violations = append(res.Violations, Violation{Checker: OrderingName, Kind: "reordered", TP: k.tp, Offset: w.offset, Payload: after.Payload,
					Ops: []journal.Op{before, after},
					Message: fmt.Sprintf("%s sent %s after %s, but it sits at offset %d, before %s at %d (acknowledged at %v and %v)",
						before.Process, journal.PayloadText(after.Payload), journal.PayloadText(before.Payload), w.offset,
						journal.PayloadText(before.Payload), highest.offset, after.Time, before.Time)})
				reported++
			}
			if i == 0 || w.offset > highest.offset {
				highest = w
			}
		}
	}
	return res
}
