package check

import (
	"fmt"

	"github.com/tideline-sim/tideline/cluster"
	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/cluster/protocol"
)

// ConsumerSafetyDefinition is the promise, in one line.
const ConsumerSafetyDefinition = "consumers read each partition in order without gaps, only committed records, and never one that later vanishes"

// ConsumerSafety checks what consumers read, naming anomalies as Jepsen's
// Kafka workload does: per consumer and partition, offsets advance one at
// a time (poll-skip for a gap, nonmonotonic-poll for a step back); one
// offset never holds two payloads across all reads (inconsistent-offsets);
// an idempotent write is never read at two offsets (duplicate); a record is
// read only below the high watermark of the fetch that returned it
// (read-above-hw); and every record read is in the final log
// (phantom-read: the consumer saw a record that was later truncated away).
func ConsumerSafety(history *journal.History, final []cluster.FinalLog) Result {
	res := Result{Checker: ConsumerSafetyName, Definition: ConsumerSafetyDefinition}
	fail := func(kind string, op journal.Op, msg string, ops ...journal.Op) {
		res.Violations = append(res.Violations, Violation{Checker: ConsumerSafetyName, Kind: kind, TP: op.TP, Offset: op.Offset, Payload: op.Payload,
			Message: msg, Ops: append([]journal.Op{op}, ops...)})
	}
	// Per partition: what the final log holds, the first read of each
	// offset, and each consumer's next expected offset. Slices indexed by
	// offset keep this a few array lookups per read.
	type reader struct {
		process string
		next    int64
	}
	// A long run reads millions of records: what is kept of each is
	// packed, and the ops themselves are found again only for a violation.
	type partition struct {
		id           int64
		final        protocol.Records
		known        bool
		firstPayload []int64 // the payload first read at each offset
		firstIndex   []int32 // and its op's index in the history; -1 if none
		reader       []reader
	}
	const partShift = 48 // a payload's first read: partition id << partShift | offset
	parts := map[protocol.TopicPartition]*partition{}
	var byID []*partition
	for _, f := range final {
		parts[f.TP] = &partition{id: int64(len(byID)), final: f.Records, known: true,
			firstPayload: make([]int64, 0, f.Records.Len()), firstIndex: make([]int32, 0, f.Records.Len())}
		byID = append(byID, parts[f.TP])
	}
	var last *partition
	var lastTP protocol.TopicPartition
	lookup := func(tp protocol.TopicPartition) *partition {
		if last != nil && tp == lastTP {
			return last
		}
		p := parts[tp]
		if p == nil {
			p = &partition{id: int64(len(byID))}
			parts[tp] = p
			byID = append(byID, p)
		}
		last, lastTP = p, tp
		return p
	}
	readerOf := func(p *partition, process string) *reader {
		for i := range p.reader {
			if p.reader[i].process == process {
				return &p.reader[i]
			}
		}
		p.reader = append(p.reader, reader{process: process})
		return &p.reader[len(p.reader)-1]
	}
	var byPayload journal.PayloadTable[int64] // where each payload was first read, for duplicates
	var idempotent *journal.PayloadTable[bool]
	for i, op := range history.All() {
		if op.F != journal.OpStart && op.F != journal.OpPoll {
			continue
		}
		p := lookup(op.TP)
		r := readerOf(p, op.Process)
		switch {
		case op.F == journal.OpStart, op.Type == journal.Info:
			r.next = op.Offset // a fresh start, or a reset of the position
			continue
		case op.Type != journal.Ok:
			continue
		}
		switch want := r.next; {
		case op.Offset > want:
			fail("poll-skip", op, fmt.Sprintf("%s read offset %d after %d: skipped %d records", op.Process, op.Offset, want-1, op.Offset-want))
		case op.Offset < want:
			fail("nonmonotonic-poll", op, fmt.Sprintf("%s read offset %d after %d", op.Process, op.Offset, want-1))
		}
		r.next = op.Offset + 1
		if op.Offset >= op.HW {
			fail("read-above-hw", op, fmt.Sprintf("%s read offset %d from broker %d whose high watermark was %d", op.Process, op.Offset, op.Broker, op.HW))
		}
		for int64(len(p.firstIndex)) <= op.Offset {
			p.firstPayload = append(p.firstPayload, 0)
			p.firstIndex = append(p.firstIndex, -1)
		}
		if p.firstIndex[op.Offset] < 0 {
			p.firstPayload[op.Offset], p.firstIndex[op.Offset] = op.Payload, int32(i)
		} else if p.firstPayload[op.Offset] != op.Payload {
			prev := history.At(int(p.firstIndex[op.Offset]))
			fail("inconsistent-offsets", op, fmt.Sprintf("offset %d read as payload %s by %s at %v, and as payload %s by %s at %v",
				op.Offset, journal.PayloadText(prev.Payload), prev.Process, prev.Time, journal.PayloadText(op.Payload), op.Process, op.Time), prev)
		}
		if at, seen := byPayload.Get(op.Payload); !seen {
			byPayload.Set(op.Payload, p.id<<partShift|op.Offset)
		} else if at != p.id<<partShift|op.Offset {
			if idempotent == nil {
				idempotent = idempotentSends(history)
			}
			if is, _ := idempotent.Get(op.Payload); is {
				prev := history.At(int(byID[at>>partShift].firstIndex[at&(1<<partShift-1)]))
				fail("duplicate", op, fmt.Sprintf("idempotent payload %s read at %v offset %d and at %v offset %d", journal.PayloadText(op.Payload), prev.TP, prev.Offset, op.TP, op.Offset), prev)
			}
		}
		if p.known && (op.Offset >= p.final.Len() || p.final.Payload(op.Offset) != op.Payload) {
			fail("phantom-read", op, fmt.Sprintf("%s read payload %s at offset %d from broker %d at %v; the final log no longer holds it", op.Process, journal.PayloadText(op.Payload), op.Offset, op.Broker, op.Time))
		}
	}
	return res
}

// idempotentSends is the set of payloads sent with enable.idempotence.
func idempotentSends(history *journal.History) *journal.PayloadTable[bool] {
	set := &journal.PayloadTable[bool]{}
	for _, op := range history.All() {
		if op.F == journal.OpSend && op.Type == journal.Invoke && op.Idempotent {
			set.Set(op.Payload, true)
		}
	}
	return set
}
