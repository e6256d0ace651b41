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
// `reordered`: an idempotent write sent after another sits before it —
// the broker's sequence checks forbid it (KIP-98). Without idempotence
// Kafka promises no order across retries with several requests in flight
// (a retried batch lands behind a later one: its documented pitfall): such
// writes are counted in a note and in the `reordered` measure, which a
// scenario holds to what it expects.
//
// Only writes the final log still holds where they were acknowledged are
// judged: a lost write is acked-durability's finding, and the log that
// replaced it is ordered on its own.
func Ordering(history *journal.History, final []cluster.FinalLog) Result {
	res := Result{Checker: OrderingName, Definition: OrderingDefinition}
	violations, other := reorderings(history, final, maxReorderedPerPartition)
	res.Violations = violations
	if other > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("%d writes without idempotence sit before writes sent ahead of them: retried batches landing behind later ones, which Kafka allows without enable.idempotence", other))
	}
	return res
}

// Reordered counts the acknowledged writes that sit before a write of
// their producer sent ahead of them, idempotent or not.
func Reordered(history *journal.History, final []cluster.FinalLog) int {
	violations, other := reorderings(history, final, -1)
	return len(violations) + other
}

// reorderings finds the writes out of their send order: violations for
// idempotent ones (at most limit a partition, all when limit < 0), a count
// for the others.
func reorderings(history *journal.History, final []cluster.FinalLog, limit int) (violations []Violation, other int) {
	fin := finalByTP(final)
	type write struct {
		seq, offset int64
		index       int
		idempotent  bool
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
		writes[k] = append(writes[k], write{seq, op.Offset, i, op.Idempotent})
	}
	slices.SortFunc(keys, func(a, b key) int { return cmp.Or(cmp.Compare(a.producer, b.producer), a.tp.Compare(b.tp)) })
	for _, k := range keys {
		ws := writes[k]
		slices.SortFunc(ws, func(a, b write) int { return cmp.Compare(a.seq, b.seq) })
		reported := 0
		var highest write // the write at the highest offset so far, in send order
		for i, w := range ws {
			if i > 0 && w.offset < highest.offset {
				switch {
				case !w.idempotent || !highest.idempotent:
					other++
				case limit < 0 || reported < limit:
					before, after := history.At(highest.index), history.At(w.index)
					violations = append(violations, Violation{Checker: OrderingName, Kind: "reordered", TP: k.tp, Offset: w.offset, Payload: after.Payload,
						Ops: []journal.Op{before, after},
						Message: fmt.Sprintf("%s sent %s after %s, but it sits at offset %d, before %s at %d (acknowledged at %v and %v)",
							before.Process, journal.PayloadText(after.Payload), journal.PayloadText(before.Payload), w.offset,
							journal.PayloadText(before.Payload), highest.offset, after.Time, before.Time)})
					reported++
				}
			}
			if i == 0 || w.offset > highest.offset {
				highest = w
			}
		}
	}
	return violations, other
}
