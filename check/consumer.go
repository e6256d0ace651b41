package check

import (
	"fmt"

	"github.com/tideline-sim/tideline/cluster"
)

// ConsumerSafetyDefinition is the promise, in one line.
const ConsumerSafetyDefinition = "consumers read each partition in order without gaps, only committed records, and never one that later vanishes"

type readerKey struct {
	process string
	tp      cluster.TopicPartition
}

type offsetKey struct {
	tp     cluster.TopicPartition
	offset int64
}

// ConsumerSafety checks what consumers read, naming anomalies as Jepsen's
// Kafka workload does: per consumer and partition, offsets advance one at
// a time (poll-skip for a gap, nonmonotonic-poll for a step back); one
// offset never holds two payloads across all reads (inconsistent-offsets);
// an idempotent write is never read at two offsets (duplicate); a record is
// read only below the high watermark of the fetch that returned it
// (read-above-hw); and every record read is in the final log
// (phantom-read: the consumer saw a record that was later truncated away).
func ConsumerSafety(history []cluster.Op, final []cluster.FinalLog) Result {
	res := Result{Checker: ConsumerSafetyName, Definition: ConsumerSafetyDefinition}
	fail := func(kind string, op cluster.Op, msg string, ops ...cluster.Op) {
		res.Violations = append(res.Violations, Violation{Checker: ConsumerSafetyName, Kind: kind, TP: op.TP, Offset: op.Offset, Payload: op.Payload,
			Message: msg, Ops: append([]cluster.Op{op}, ops...)})
	}
	idempotent := map[int64]bool{}
	for _, op := range history {
		if op.F == cluster.OpSend && op.Type == cluster.Invoke && op.Idempotent {
			idempotent[op.Payload] = true
		}
	}
	byTP := finalByTP(final)
	next := map[readerKey]int64{}
	atOffset := map[offsetKey]cluster.Op{}
	readAt := map[int64]cluster.Op{} // payload -> first read of it
	for _, op := range history {
		key := readerKey{op.Process, op.TP}
		switch {
		case op.F == cluster.OpStart:
			next[key] = op.Offset
			continue
		case op.F != cluster.OpPoll:
			continue
		case op.Type == cluster.Info:
			next[key] = op.Offset // the consumer reset its position
			continue
		case op.Type != cluster.Ok:
			continue
		}
		want := next[key]
		switch {
		case op.Offset > want:
			fail("poll-skip", op, fmt.Sprintf("%s read offset %d after %d: skipped %d records", op.Process, op.Offset, want-1, op.Offset-want))
		case op.Offset < want:
			fail("nonmonotonic-poll", op, fmt.Sprintf("%s read offset %d after %d", op.Process, op.Offset, want-1))
		}
		next[key] = op.Offset + 1
		if op.Offset >= op.HW {
			fail("read-above-hw", op, fmt.Sprintf("%s read offset %d from broker %d whose high watermark was %d", op.Process, op.Offset, op.Broker, op.HW))
		}
		ok := offsetKey{op.TP, op.Offset}
		if prev, seen := atOffset[ok]; seen && prev.Payload != op.Payload {
			fail("inconsistent-offsets", op, fmt.Sprintf("offset %d read as payload %d by %s at %v, and as payload %d by %s at %v",
				op.Offset, prev.Payload, prev.Process, prev.Time, op.Payload, op.Process, op.Time), prev)
		} else if !seen {
			atOffset[ok] = op
		}
		if prev, seen := readAt[op.Payload]; seen && idempotent[op.Payload] && (prev.TP != op.TP || prev.Offset != op.Offset) {
			fail("duplicate", op, fmt.Sprintf("idempotent payload %d read at %v offset %d and at %v offset %d", op.Payload, prev.TP, prev.Offset, op.TP, op.Offset), prev)
		} else if !seen {
			readAt[op.Payload] = op
		}
		f, known := byTP[op.TP]
		if known && (op.Offset >= int64(len(f.Records)) || f.Records[op.Offset].Payload != op.Payload) {
			fail("phantom-read", op, fmt.Sprintf("%s read payload %d at offset %d from broker %d at %v; the final log no longer holds it", op.Process, op.Payload, op.Offset, op.Broker, op.Time))
		}
	}
	return res
}
