package check

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tideline-sim/tideline/cluster"
	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/cluster/protocol"
)

var groupsOf = Groups{"consumer-0": "g", "consumer-1": "g"}

// written is five acknowledged writes to orders/0 at offsets 0-4, and the
// final log that holds them.
func written() ([]journal.Op, []cluster.FinalLog) {
	var ops []journal.Op
	for i := range 5 {
		ops = append(ops, journal.Op{Time: at(i), Process: "producer-0", Type: journal.Ok, F: journal.OpSend, TP: tp0, Payload: int64(100 + i), Offset: int64(i)})
	}
	return ops, []cluster.FinalLog{finalOf(tp0, 0, []protocol.BrokerID{0}, []int64{5}, log(100, 101, 102, 103, 104))}
}

func member(process string, f journal.OpKind, typ journal.OpType, offset int64, ms int, gen int32) journal.Op {
	return journal.Op{Time: at(ms), Process: process, Type: typ, F: f, TP: tp0, Offset: offset, Payload: -1, Generation: gen}
}

func processed(process string, from, to int64, ms int) []journal.Op {
	var ops []journal.Op
	for o := from; o < to; o++ {
		op := member(process, journal.OpProcess, journal.Ok, o, ms, 1)
		op.Payload = 100 + o
		ops = append(ops, op)
	}
	return ops
}

func endToEnd(t *testing.T, ops []journal.Op, final []cluster.FinalLog) ([]GroupStats, Result) {
	t.Helper()
	stats, res := AnalyseGroups(journal.HistoryOf(ops...), nil, final, groupsOf)
	require.Len(t, stats, 1)
	return stats, res
}

func TestEndToEnd(t *testing.T) {
	sends, final := written()
	assign := member("consumer-0", journal.OpAssign, journal.Ok, -1, 10, 1)
	t.Run("every write processed", func(t *testing.T) {
		ops := append(append(append([]journal.Op{}, sends...), assign), processed("consumer-0", 0, 5, 20)...)
		ops = append(ops, member("consumer-0", journal.OpCommit, journal.Ok, 5, 30, 1))
		stats, res := endToEnd(t, ops, final)
		assert.True(t, res.OK(), "%v", res.Violations)
		assert.Equal(t, 5, stats[0].Processed)
		assert.Equal(t, 1, stats[0].Commits)
	})
	t.Run("commit-skip", func(t *testing.T) {
		// Committed 5 before processing, processed 0-1, crashed.
		ops := append(append(append([]journal.Op{}, sends...), assign, member("consumer-0", journal.OpCommit, journal.Ok, 5, 15, 1)), processed("consumer-0", 0, 2, 20)...)
		stats, res := endToEnd(t, ops, final)
		assert.Equal(t, []string{"commit-skip"}, kinds(res))
		assert.Equal(t, int64(2), res.Violations[0].Offset, "the first record skipped")
		assert.Equal(t, 3, stats[0].Unprocessed)
	})
	t.Run("unprocessed", func(t *testing.T) {
		ops := append(append(append([]journal.Op{}, sends...), assign), processed("consumer-0", 0, 3, 20)...)
		_, res := endToEnd(t, ops, final)
		assert.Equal(t, []string{"unprocessed"}, kinds(res))
	})
	t.Run("reset-skip", func(t *testing.T) {
		reset := member("consumer-0", journal.OpReset, journal.Ok, 3, 12, 1)
		ops := append(append(append([]journal.Op{}, sends...), assign, reset), processed("consumer-0", 3, 5, 20)...)
		_, res := endToEnd(t, ops, final)
		assert.Equal(t, []string{"reset-skip"}, kinds(res))
	})
	t.Run("processed twice is counted, not a violation", func(t *testing.T) {
		ops := append(append(append(append([]journal.Op{}, sends...), assign), processed("consumer-0", 0, 5, 20)...), processed("consumer-1", 2, 5, 40)...)
		stats, res := endToEnd(t, ops, final)
		assert.True(t, res.OK())
		assert.Equal(t, 3, stats[0].ProcessedTwice)
		assert.Len(t, res.Notes, 1)
	})
	t.Run("a record processed 256 times is still processed", func(t *testing.T) {
		ops := append(append(append([]journal.Op{}, sends...), assign), processed("consumer-0", 0, 5, 20)...)
		for range 255 {
			ops = append(ops, processed("consumer-0", 0, 1, 30)...)
		}
		stats, res := endToEnd(t, ops, final)
		assert.True(t, res.OK(), "%v", res.Violations)
		assert.Equal(t, 1, stats[0].ProcessedTwice)
	})
	t.Run("commit-regression", func(t *testing.T) {
		ops := append(append(append([]journal.Op{}, sends...), assign), processed("consumer-0", 0, 5, 20)...)
		ops = append(ops, member("consumer-0", journal.OpCommit, journal.Ok, 5, 30, 1), member("consumer-0", journal.OpCommit, journal.Ok, 3, 31, 1))
		_, res := endToEnd(t, ops, final)
		assert.Equal(t, []string{"commit-regression"}, kinds(res))
		// A member that reset its position in between may go back.
		ops = append(ops[:len(ops)-1], member("consumer-0", journal.OpReset, journal.Info, 3, 30, 1), member("consumer-0", journal.OpCommit, journal.Ok, 3, 31, 1))
		_, res = endToEnd(t, ops, final)
		assert.True(t, res.OK(), "%v", res.Violations)
	})
	t.Run("commit-lost", func(t *testing.T) {
		ops := append(append(append([]journal.Op{}, sends...), assign), processed("consumer-0", 0, 5, 20)...)
		ops = append(ops, member("consumer-0", journal.OpCommit, journal.Ok, 5, 30, 1))
		offsets := protocol.TopicPartition{Topic: protocol.OffsetsTopic, Partition: 0}
		commitAt := func(o int64) protocol.Records {
			return protocol.RecordsOfBatches([]*protocol.Batch{{Payloads: []int64{-1}, Group: []protocol.GroupRecord{{Group: "g", Commit: &protocol.CommittedOffset{TP: tp0, Offset: o}}}}})
		}
		withOffsets := append(append([]cluster.FinalLog{}, final...), finalOf(offsets, 0, []protocol.BrokerID{0}, []int64{1}, commitAt(3)))
		_, res := endToEnd(t, ops, withOffsets)
		assert.Equal(t, []string{"commit-lost"}, kinds(res), "the log ends at 3, the member was told 5")
		withOffsets[len(withOffsets)-1] = finalOf(offsets, 0, []protocol.BrokerID{0}, []int64{1}, commitAt(5))
		_, res = endToEnd(t, ops, withOffsets)
		assert.True(t, res.OK(), "%v", res.Violations)
	})
}

func TestSplitOwnership(t *testing.T) {
	a := member("consumer-0", journal.OpAssign, journal.Ok, -1, 10, 2)
	b := member("consumer-1", journal.OpAssign, journal.Ok, -1, 11, 2)
	split, _ := splitOwnership(journal.HistoryOf(a, b), groupsOf)
	require.Len(t, split, 1)
	assert.Equal(t, "split-ownership", split[0].Kind)
	// Across generations a partition changes hands; a member that goes on
	// processing it after is noted, not a violation.
	old := member("consumer-0", journal.OpAssign, journal.Ok, -1, 10, 1)
	zombie := member("consumer-0", journal.OpProcess, journal.Ok, 7, 12, 1)
	split, notes := splitOwnership(journal.HistoryOf(old, b, zombie), groupsOf)
	assert.Empty(t, split)
	assert.Len(t, notes, 1)
}

func TestOrdering(t *testing.T) {
	ok := func(seq, offset int64) journal.Op {
		return journal.Op{Time: at(int(seq)), Process: "producer-0", Type: journal.Ok, F: journal.OpSend, TP: tp0, Payload: journal.PayloadFor(0, seq), Offset: offset, Idempotent: true}
	}
	res := Ordering(journal.HistoryOf(ok(1, 0), ok(2, 1), ok(3, 2)), nil)
	assert.True(t, res.OK())
	// B1 (seqs 1-2) failed and was retried after B2 (3-4) was written:
	// the log holds 3, 4, 1, 2.
	res = Ordering(journal.HistoryOf(ok(3, 0), ok(4, 1), ok(1, 2), ok(2, 3)), nil)
	assert.Equal(t, []string{"reordered", "reordered"}, kinds(res), "writes 3 and 4 each sit before 2, sent earlier")
	assert.Contains(t, res.Violations[0].Message, "sent p0#3 after p0#2")
	// Acks=0 writes have no offset; another producer's order is its own.
	other := journal.Op{Time: at(9), Process: "producer-1", Type: journal.Ok, F: journal.OpSend, TP: tp0, Payload: journal.PayloadFor(1, 1), Offset: 0}
	res = Ordering(journal.HistoryOf(ok(1, 5), other, ok(2, -1)), nil)
	assert.True(t, res.OK())
	// A write the final log lost is not judged: the log that replaced it
	// is ordered on its own.
	final := []cluster.FinalLog{finalOf(tp0, 0, []protocol.BrokerID{0}, []int64{1}, log(journal.PayloadFor(0, 2)))}
	res = Ordering(journal.HistoryOf(ok(1, 5), ok(2, 0)), final)
	assert.True(t, res.OK(), "%v", res.Violations)
	// Without idempotence Kafka promises no order across retries: counted
	// and noted, not a violation.
	plain := func(op journal.Op) journal.Op { op.Idempotent = false; return op }
	h := journal.HistoryOf(plain(ok(3, 0)), plain(ok(4, 1)), plain(ok(1, 2)), plain(ok(2, 3)))
	res = Ordering(h, nil)
	assert.True(t, res.OK())
	assert.Len(t, res.Notes, 1)
	assert.Equal(t, 2, Reordered(h, nil))
}
