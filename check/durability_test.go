package check

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tideline-sim/tideline/cluster"
	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/cluster/protocol"
)

var (
	tp0 = protocol.TopicPartition{Topic: "orders", Partition: 0}
	tp1 = protocol.TopicPartition{Topic: "orders", Partition: 1}
)

func send(typ journal.OpType, tp protocol.TopicPartition, payload, offset int64) journal.Op {
	return journal.Op{Process: "producer-0", Type: typ, F: journal.OpSend, TP: tp, Payload: payload, Offset: offset}
}

func failed(tp protocol.TopicPartition, payload int64, err protocol.ErrorCode) journal.Op {
	op := send(journal.Fail, tp, payload, -1)
	op.Err = err
	return op
}

func log(payloads ...int64) protocol.Records {
	recs := make([]protocol.Record, len(payloads))
	for i, p := range payloads {
		recs[i] = protocol.Record{Offset: int64(i), Payload: p}
	}
	return protocol.RecordsOf(recs...)
}

func TestAckedDurability(t *testing.T) {
	tests := []struct {
		name    string
		history []journal.Op
		logs    []cluster.FinalLog
		lost    []int64 // payloads reported lost
	}{
		{
			name:    "every acknowledged write in place",
			history: []journal.Op{send(journal.Invoke, tp0, 10, -1), send(journal.Ok, tp0, 10, 0), send(journal.Ok, tp0, 11, 1)},
			logs:    []cluster.FinalLog{{TP: tp0, Leader: 0, Records: log(10, 11)}},
		},
		{
			name:    "truncated away",
			history: []journal.Op{send(journal.Ok, tp0, 10, 0), send(journal.Ok, tp0, 11, 1), send(journal.Ok, tp0, 12, 2)},
			logs:    []cluster.FinalLog{{TP: tp0, Leader: 1, Records: log(10)}},
			lost:    []int64{11, 12},
		},
		{
			name:    "overwritten by another write after an unclean election",
			history: []journal.Op{send(journal.Ok, tp0, 10, 0), send(journal.Ok, tp0, 11, 1)},
			logs:    []cluster.FinalLog{{TP: tp0, Leader: 2, Records: log(10, 99)}},
			lost:    []int64{11},
		},
		{
			name:    "partition offline at the end",
			history: []journal.Op{send(journal.Ok, tp1, 20, 0)},
			logs:    []cluster.FinalLog{{TP: tp1, Leader: protocol.NoLeader}},
			lost:    []int64{20},
		},
		{
			name: "unknown and failed writes may be missing",
			history: []journal.Op{send(journal.Info, tp0, 10, -1), send(journal.Fail, tp0, 11, -1),
				send(journal.Ok, tp0, 12, 0)},
			logs: []cluster.FinalLog{{TP: tp0, Leader: 0, Records: log(12)}},
		},
		{
			name:    "a write reported failed is in the log",
			history: []journal.Op{send(journal.Fail, tp0, 10, -1), send(journal.Ok, tp0, 11, 1)},
			logs:    []cluster.FinalLog{{TP: tp0, Leader: 0, Records: log(10, 11)}},
			lost:    []int64{10},
		},
		{
			// Kafka returns NOT_ENOUGH_REPLICAS before the append: definite.
			name:    "a write failed with NOT_ENOUGH_REPLICAS is in the log",
			history: []journal.Op{failed(tp0, 10, protocol.NotEnoughReplicas)},
			logs:    []cluster.FinalLog{{TP: tp0, Leader: 0, Records: log(10)}},
			lost:    []int64{10},
		},
		{
			// NOT_ENOUGH_REPLICAS_AFTER_APPEND and timeouts come after the
			// append may have happened: the outcome is unknown.
			name:    "indeterminate failures may be in the log",
			history: []journal.Op{failed(tp0, 10, protocol.NotEnoughReplicasAfterAppend), failed(tp0, 11, protocol.RequestTimedOut)},
			logs:    []cluster.FinalLog{{TP: tp0, Leader: 0, Records: log(10, 11)}},
		},
		{
			name:    "an acks=0 write is found by payload",
			history: []journal.Op{send(journal.Ok, tp0, 10, -1), send(journal.Ok, tp0, 11, -1)},
			logs:    []cluster.FinalLog{{TP: tp0, Leader: 0, Records: log(7, 11, 10)}},
		},
		{
			name:    "an acks=0 write missing from the log is lost",
			history: []journal.Op{send(journal.Ok, tp0, 10, -1), send(journal.Ok, tp0, 11, -1)},
			logs:    []cluster.FinalLog{{TP: tp0, Leader: 0, Records: log(11)}},
			lost:    []int64{10},
		},
		{
			name:    "reads are not writes",
			history: []journal.Op{{Type: journal.Ok, F: journal.OpPoll, TP: tp0, Payload: 5, Offset: 3}},
			logs:    []cluster.FinalLog{{TP: tp0, Leader: 0, Records: log()}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := AckedDurability(journal.HistoryOf(tt.history...), tt.logs)
			var lost []int64
			for _, v := range res.Violations {
				lost = append(lost, v.Payload)
				assert.Equal(t, AckedDurabilityName, v.Checker)
				require.Len(t, v.Ops, 1, "the violation carries the acknowledgement")
				assert.NotEmpty(t, v.Message)
			}
			assert.Equal(t, tt.lost, lost)
			assert.Equal(t, len(tt.lost) == 0, res.OK())
		})
	}
}

// A write that only a down replica of a leaderless partition holds is
// unavailable, not lost: it comes back with that broker. A copy on a down
// replica does not save a write the live leader lacks.
func TestAckedDurabilityTellsUnavailableFromLost(t *testing.T) {
	offline := cluster.FinalLog{TP: tp0, Leader: protocol.NoLeader,
		Replicas: []protocol.Records{log(10, 11), log(10)}, HWs: []int64{-1, 1}}
	res := AckedDurability(journal.HistoryOf(send(journal.Ok, tp0, 10, 0), send(journal.Ok, tp0, 11, 1), send(journal.Ok, tp0, 12, 2)), []cluster.FinalLog{offline})
	require.Len(t, res.Unavailable, 2)
	assert.Equal(t, int64(10), res.Unavailable[0].Payload)
	assert.Equal(t, int64(11), res.Unavailable[1].Payload)
	require.Len(t, res.Violations, 1)
	assert.Equal(t, int64(12), res.Violations[0].Payload, "no replica holds it: lost")

	leaderDown := cluster.FinalLog{TP: tp0, Leader: 0, Records: log(10, 11),
		Replicas: []protocol.Records{log(10, 11), log(10)}, HWs: []int64{-1, 1}}
	res = AckedDurability(journal.HistoryOf(send(journal.Ok, tp0, 11, 1)), []cluster.FinalLog{leaderDown})
	assert.True(t, res.OK())
	assert.Len(t, res.Unavailable, 1, "on a leader that is down at the end")

	liveLeaderLacksIt := cluster.FinalLog{TP: tp0, Leader: 1, Records: log(10),
		Replicas: []protocol.Records{log(10, 11), log(10)}, HWs: []int64{-1, 1}}
	res = AckedDurability(journal.HistoryOf(send(journal.Ok, tp0, 11, 1)), []cluster.FinalLog{liveLeaderLacksIt})
	assert.Len(t, res.Violations, 1)
	assert.Empty(t, res.Unavailable)
}
