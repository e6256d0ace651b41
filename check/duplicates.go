package check

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/tideline-sim/tideline/cluster"
	"github.com/tideline-sim/tideline/cluster/journal"
)

// NoDuplicatesDefinition is the promise, in one line.
const NoDuplicatesDefinition = "with enable.idempotence, no write appears twice in a log"

// NoDuplicates checks that no payload sent by an idempotent producer
// appears at two offsets of the final logs. Without idempotence Kafka
// promises at-least-once: a retry after a lost answer may write a batch
// twice, so such copies are counted in a note and in the `duplicated`
// measure, which a scenario holds to what it expects.
func NoDuplicates(history *journal.History, final []cluster.FinalLog) Result {
	res := Result{Checker: NoDuplicatesName, Definition: NoDuplicatesDefinition}
	violations, other := duplicates(history, final)
	res.Violations = violations
	if other > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("%d writes without idempotence are in a log more than once: batches retried after their first attempt was written, which Kafka allows without enable.idempotence", other))
	}
	attachSends(res.Violations, history)
	return res
}

// Duplicated counts the extra copies of writes in the final logs (every
// copy after the first), idempotent or not.
func Duplicated(history *journal.History, final []cluster.FinalLog) int {
	violations, other := duplicates(history, final)
	return len(violations) + other
}

// duplicates finds the copies after the first of every payload in the
// final logs: violations for idempotent ones, a count for the others.
func duplicates(history *journal.History, final []cluster.FinalLog) (res []Violation, other int) {
	// Sorting the payloads finds the repeated ones without a map of every
	// record; only those are then looked up in the history.
	var idempotent *journal.PayloadTable[bool]
	for _, f := range final {
		type placed struct{ Payload, Offset int64 }
		byPayload := make([]placed, 0, f.Records.Len())
		for rec := range f.Records.All() {
			byPayload = append(byPayload, placed{rec.Payload, rec.Offset})
		}
		slices.SortFunc(byPayload, func(a, b placed) int {
			return cmp.Or(cmp.Compare(a.Payload, b.Payload), cmp.Compare(a.Offset, b.Offset))
		})
		var dups []placed // every copy after the first
		var firstAt []int64
		for i := 1; i < len(byPayload); i++ {
			if byPayload[i].Payload != byPayload[i-1].Payload {
				continue
			}
			first := i - 1
			for first > 0 && byPayload[first-1].Payload == byPayload[i].Payload {
				first--
			}
			dups = append(dups, byPayload[i])
			firstAt = append(firstAt, byPayload[first].Offset)
		}
		if len(dups) == 0 {
			continue
		}
		if idempotent == nil {
			idempotent = idempotentSends(history)
		}
		order := make([]int, len(dups))
		for i := range order {
			order[i] = i
		}
		slices.SortFunc(order, func(a, b int) int { return cmp.Compare(dups[a].Offset, dups[b].Offset) })
		for _, i := range order {
			rec := dups[i]
			if is, _ := idempotent.Get(rec.Payload); !is {
				other++
				continue
			}
			res = append(res, Violation{Checker: NoDuplicatesName, Kind: "duplicate", TP: f.TP, Offset: rec.Offset, Payload: rec.Payload,
				Message: fmt.Sprintf("payload %s is at offsets %d and %d", journal.PayloadText(rec.Payload), firstAt[i], rec.Offset)})
		}
	}
	return res, other
}

// attachSends gives each violation the history of its payload's send: the
// invoke and how it ended, which its story starts from.
func attachSends(vs []Violation, history *journal.History) {
	if len(vs) == 0 {
		return
	}
	at := make(map[int64][]int, len(vs))
	for i, v := range vs {
		at[v.Payload] = append(at[v.Payload], i)
	}
	for _, op := range history.All() {
		if op.F != journal.OpSend {
			continue
		}
		for _, i := range at[op.Payload] {
			vs[i].Ops = append(vs[i].Ops, op)
		}
	}
}
