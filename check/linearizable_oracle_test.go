package check

// Porcupine, kept as the test oracle of the direct linearizability check:
// a sequential model of a partition and the history turned into its
// operations.

import (
	"fmt"
	"slices"

	"github.com/anishathalye/porcupine"

	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/cluster/protocol"
)

// appendIn is an acknowledged batch: n records at offsets [base, base+n).
type appendIn struct {
	base int64
	n    int64
}

// readIn is one fetch's records: offsets [first, last].
type readIn struct {
	first, last int64
}

// logModel is a sequential specification of a partition, checked by
// Porcupine. Its state is the partition's watermark: the lowest offset
// not yet known to be taken. An acknowledged append must start at or above
// it (offsets below are already someone else's) and moves it past its
// records; a read moves it past what it read (those offsets exist). Gaps are
// allowed, since writes of unknown outcome and unacknowledged retries also
// take offsets. The model catches two acknowledged writes at one offset, a
// write acknowledged at an offset a consumer had already read, and offsets
// handed out against real-time order.
var logModel = porcupine.Model{
	Init: func() any { return int64(0) },
	Step: func(state, input, _ any) (bool, any) {
		mark := state.(int64)
		switch in := input.(type) {
		case appendIn:
			if in.base < mark {
				return false, mark
			}
			return true, in.base + in.n
		case readIn:
			return true, max(mark, in.last+1)
		}
		return false, mark
	},
	DescribeOperation: func(input, _ any) string {
		switch in := input.(type) {
		case appendIn:
			return fmt.Sprintf("append %d at %d", in.n, in.base)
		case readIn:
			return fmt.Sprintf("read %d..%d", in.first, in.last)
		}
		return "?"
	},
	DescribeState: func(state any) string { return fmt.Sprintf("watermark %d", state.(int64)) },
}

// porcupineLinearizable is the oracle: Porcupine's search over logModel,
// for histories small enough to search.
func porcupineLinearizable(history []journal.Op) bool {
	perTP, tps := operations(history)
	for _, tp := range tps {
		if !porcupine.CheckOperations(logModel, perTP[tp]) {
			return false
		}
	}
	return true
}

// operations turns the history into Porcupine operations per partition:
// one per acknowledged batch (called when it was first sent — no record of
// it can be in a log before — and returned when acknowledged) and one per
// fetch response read (at the instant it returned).
// Failed and unknown writes are left out: the model allows for them.
func operations(history []journal.Op) (map[protocol.TopicPartition][]porcupine.Operation, []protocol.TopicPartition) {
	clients := map[string]int{}
	client := func(name string) int {
		id, ok := clients[name]
		if !ok {
			id = len(clients)
			clients[name] = id
		}
		return id
	}
	invoked := map[int64]int64{}
	type batchKey struct {
		tp   protocol.TopicPartition
		proc string
		at   int64
	}
	perTP := map[protocol.TopicPartition][]porcupine.Operation{}
	var tps []protocol.TopicPartition
	add := func(tp protocol.TopicPartition, op porcupine.Operation) {
		if _, ok := perTP[tp]; !ok {
			tps = append(tps, tp)
		}
		perTP[tp] = append(perTP[tp], op)
	}
	open := map[batchKey]int{} // batch -> index of its op in perTP[tp]
	for _, op := range history {
		switch {
		case op.F == journal.OpSend && op.Type == journal.Invoke:
			invoked[op.Payload] = int64(op.Time)
		case op.F == journal.OpSend && op.Type == journal.Ok && op.Offset >= 0:
			// (An acks=0 write is acknowledged without an offset: it says
			// nothing about where it went, so it constrains no order.)
			key := batchKey{op.TP, op.Process, int64(op.Time)}
			call := max(invoked[op.Payload], int64(op.Start))
			if i, ok := open[key]; ok {
				p := &perTP[op.TP][i]
				in := p.Input.(appendIn)
				if in.base+in.n == op.Offset {
					in.n++
					p.Input = in
					p.Call = max(p.Call, call)
					continue
				}
			}
			open[key] = len(perTP[op.TP])
			add(op.TP, porcupine.Operation{ClientId: client(op.Process), Input: appendIn{base: op.Offset, n: 1}, Call: call, Return: int64(op.Time)})
		case op.F == journal.OpPoll && op.Type == journal.Ok:
			key := batchKey{op.TP, op.Process, int64(op.Time)}
			if i, ok := open[key]; ok {
				p := &perTP[op.TP][i]
				if in, isRead := p.Input.(readIn); isRead && in.last+1 == op.Offset {
					in.last++
					p.Input = in
					continue
				}
			}
			open[key] = len(perTP[op.TP])
			// A read is called at its return: the leader served it at some
			// instant s before, and any append called after s got an
			// offset past what it read, so pinning the read to its return
			// loses no legal order that matters — and spares the search
			// thousands of half-second long-poll windows.
			add(op.TP, porcupine.Operation{ClientId: client(op.Process), Input: readIn{op.Offset, op.Offset}, Call: int64(op.Time), Return: int64(op.Time)})
		}
	}
	slices.SortFunc(tps, protocol.TopicPartition.Compare)
	return perTP, tps
}
