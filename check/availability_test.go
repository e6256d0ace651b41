package check

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tideline-sim/tideline/cluster"
)

func TestMeasureAvailability(t *testing.T) {
	sent := func(payload int64, invoke, done int, typ cluster.OpType) []cluster.Op {
		return []cluster.Op{
			{Time: at(invoke), Type: cluster.Invoke, F: cluster.OpSend, TP: tp0, Payload: payload},
			{Time: at(done), Type: typ, F: cluster.OpSend, TP: tp0, Payload: payload, Offset: payload},
		}
	}
	history := append(append(sent(0, 500, 600, cluster.Ok), sent(1, 2200, 5400, cluster.Ok)...), sent(2, 2300, 2400, cluster.Fail)...)
	events := []cluster.Event{
		{Time: at(2500), Kind: cluster.EvISRShrink, TP: tp0, ISR: []cluster.BrokerID{0}},
		{Time: at(4000), Kind: cluster.EvISRExpand, TP: tp0, ISR: []cluster.BrokerID{0, 1}},
	}
	final := []cluster.FinalLog{{TP: tp0, State: cluster.PartitionState{Replicas: []cluster.BrokerID{0, 1}}}}
	faults := []Fault{{At: 2 * time.Second, Text: "crash"}, {At: 5500 * time.Millisecond, Text: "late"}}
	av := MeasureAvailability(cluster.HistoryOf(history...), events, final, faults, time.Second, at(6000))

	assert.InDelta(t, 2.0/3, av.Share, 1e-9)
	require.Len(t, av.Buckets, 7)
	assert.Equal(t, Bucket{Start: 0, Attempts: 1, Succeeded: 1, Acked: 1}, av.Buckets[0])
	assert.Equal(t, Bucket{Start: 2 * time.Second, Attempts: 2, Succeeded: 1}, av.Buckets[2])
	assert.Equal(t, 1, av.Buckets[5].Acked)
	assert.InDelta(t, 0.5, av.Buckets[2].Share(), 1e-9)

	assert.Equal(t, []Window{{TP: tp0, From: 2 * time.Second, To: 5 * time.Second}}, av.Windows,
		"writes waited from 2s and none was acknowledged until the 5s bucket")
	require.Len(t, av.Recoveries, 2)
	assert.Equal(t, Recovery{Fault: "crash", At: 2 * time.Second, WritesResumed: 3400 * time.Millisecond, FullyRecovered: 3400 * time.Millisecond}, av.Recoveries[0])
	assert.Equal(t, time.Duration(-1), av.Recoveries[1].WritesResumed, "nothing sent after the last fault was acknowledged")
}
