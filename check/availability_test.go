package check

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tideline-sim/tideline/cluster"
	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/cluster/protocol"
)

func TestMeasureAvailability(t *testing.T) {
	sent := func(payload int64, invoke, done int, typ journal.OpType) []journal.Op {
		return []journal.Op{
			{Time: at(invoke), Type: journal.Invoke, F: journal.OpSend, TP: tp0, Payload: payload},
			{Time: at(done), Type: typ, F: journal.OpSend, TP: tp0, Payload: payload, Offset: payload},
		}
	}
	history := append(append(sent(0, 500, 600, journal.Ok), sent(1, 2200, 5400, journal.Ok)...), sent(2, 2300, 2400, journal.Fail)...)
	events := []journal.Event{
		{Time: at(2500), Kind: journal.EvISRShrink, TP: tp0, ISR: []protocol.BrokerID{0}},
		{Time: at(4000), Kind: journal.EvISRExpand, TP: tp0, ISR: []protocol.BrokerID{0, 1}},
	}
	final := []cluster.FinalLog{{TP: tp0, State: protocol.PartitionState{Replicas: []protocol.BrokerID{0, 1}}}}
	faults := []Fault{{At: 2 * time.Second, Text: "crash"}, {At: 5500 * time.Millisecond, Text: "late"}}
	av := MeasureAvailability(journal.HistoryOf(history...), events, final, faults, time.Second, time.Second, at(6000))

	assert.InDelta(t, 2.0/3, av.Share, 1e-9)
	require.Len(t, av.Buckets, 7)
	assert.Equal(t, Bucket{Start: 0, Attempts: 1, Succeeded: 1, OnTime: 1, Acked: 1}, av.Buckets[0])
	assert.Equal(t, Bucket{Start: 2 * time.Second, Attempts: 2, Succeeded: 1}, av.Buckets[2])
	assert.Equal(t, 1, av.Buckets[5].Acked)
	assert.InDelta(t, 0.5, float64(av.Buckets[2].Succeeded)/float64(av.Buckets[2].Attempts), 1e-9)

	assert.Equal(t, []Window{{TP: tp0, From: 2 * time.Second, To: 5 * time.Second}}, av.Windows,
		"writes waited from 2s and none was acknowledged until the 5s bucket")
	require.Len(t, av.Recoveries, 2)
	assert.Equal(t, Recovery{Fault: "crash", At: 2 * time.Second, WritesResumed: 3400 * time.Millisecond, FullyRecovered: 3400 * time.Millisecond}, av.Recoveries[0])
	assert.Equal(t, time.Duration(-1), av.Recoveries[1].WritesResumed, "nothing sent after the last fault was acknowledged")
}

// Availability as users feel it, pinned on a handmade history: the share
// of the load period in which a write sent then was acknowledged within
// the deadline, each send standing for the time until the next.
func TestAvailabilityIsTheTimeAWriteWouldBeAcknowledgedInTime(t *testing.T) {
	tp1, tp2 := protocol.TopicPartition{Topic: "orders", Partition: 1}, protocol.TopicPartition{Topic: "orders", Partition: 2}
	var history []journal.Op
	payload := int64(0)
	send := func(tp protocol.TopicPartition, invoke, latency int, typ journal.OpType) {
		payload++
		history = append(history,
			journal.Op{Time: at(invoke), Type: journal.Invoke, F: journal.OpSend, TP: tp, Payload: payload},
			journal.Op{Time: at(invoke + latency), Type: typ, F: journal.OpSend, TP: tp, Payload: payload, Offset: payload})
	}
	for s := range 10 { // tp0: slow from 3 s, a failure at 6 s, fine again from 7 s
		switch {
		case s >= 3 && s <= 5:
			send(tp0, s*1000, 2000, journal.Ok) // acknowledged, but after the deadline
		case s == 6:
			send(tp0, s*1000, 100, journal.Fail)
		default:
			send(tp0, s*1000, 100, journal.Ok)
		}
		send(tp1, s*1000+10, 999, journal.Ok) // always just in time
	}
	send(tp2, 0, 10, journal.Ok)
	send(tp2, 4000, 5000, journal.Info) // never known: an outage still going at the end
	send(tp2, 8000, 5000, journal.Ok)

	av := MeasureAvailability(journal.HistoryOf(history...), nil, nil, nil, time.Second, time.Second, at(14000))
	require.Len(t, av.Partitions, 3)
	p0, p1, p2 := av.Partitions[0], av.Partitions[1], av.Partitions[2]
	assert.InDelta(t, 5.0/9, p0.Available, 1e-9, "bad from 3 s to 7 s of a 9 s load")
	assert.Equal(t, Outage{From: 3 * time.Second, To: 7 * time.Second}, p0.Longest)
	assert.Equal(t, 1, p0.Outages)
	assert.InDelta(t, 1.0, p1.Available, 1e-9, "999 ms is within the deadline")
	assert.Zero(t, p1.Outages)
	assert.InDelta(t, 0.5, p2.Available, 1e-9, "good from 0 to 4 s of 8 s")
	assert.Equal(t, Outage{From: 4 * time.Second, To: 8 * time.Second, Ongoing: true}, p2.Longest)
	assert.InDelta(t, (5.0/9+1+0.5)/3, av.Available, 1e-9, "overall: the mean over partitions")
	assert.InDelta(t, 1.0, p1.PerBucket[3], 1e-9)
	assert.InDelta(t, 0.0, p0.PerBucket[4], 1e-9)
	tp, worst := av.Longest()
	assert.Equal(t, tp2, tp, "an ongoing outage of equal length is the worse")
	assert.Equal(t, 4*time.Second, worst.Length())
	assert.InDelta(t, float64(len(history)/2-2)/float64(len(history)/2), av.Share, 1e-9, "eventually acknowledged: all but the failure and the unknown")

	// A tighter deadline turns tp1's 999 ms into an outage.
	tight := MeasureAvailability(journal.HistoryOf(history...), nil, nil, nil, time.Second, 500*time.Millisecond, at(14000))
	assert.Zero(t, tight.Partitions[1].Available)
}
