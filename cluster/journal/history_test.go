package journal

import (
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"

	"github.com/tideline-sim/tideline/clock"
	"github.com/tideline-sim/tideline/cluster/protocol"
)

// The encoded history gives back exactly the ops it was given, in order
// and one by one, across blocks and chunks, whatever their values: kept
// decoded while short, decoded as read when long.
func TestHistoryRoundTrip(t *testing.T) {
	for _, n := range []int{20000, maxDecodedOps + 5000} {
		h, want := randomHistory(n)
		if diff := cmp.Diff(want, h.Ops()); diff != "" {
			t.Fatalf("%d ops: decoded history differs (-want +got):\n%s", n, diff)
		}
		assert.Equal(t, n <= maxDecodedOps, h.decoded != nil, "kept decoded only while short")
		for _, i := range []int{0, 1, opsPerBlock - 1, opsPerBlock, 12345, len(want) - 1} {
			if diff := cmp.Diff(want[i], h.At(i)); diff != "" {
				t.Errorf("%d ops: At(%d) differs:\n%s", n, i, diff)
			}
		}
		if per := float64(h.EncodedBytes()) / float64(h.Len()); per > 40 {
			t.Errorf("%.1f bytes an op: the encoding should be compact", per)
		}
		h.Add(want[0])
		assert.Nil(t, h.decoded, "an op added drops the decoded copy")
	}
}

func randomHistory(n int) (*History, []Op) {
	rng := rand.New(rand.NewPCG(1, 2))
	procs := []string{"producer-0", "producer-1", "consumer-0"}
	tps := []protocol.TopicPartition{{Topic: "orders", Partition: 0}, {Topic: "orders", Partition: 1}, {Topic: "audit", Partition: 0}}
	var want []Op
	now := clock.Time(0)
	payload := map[string]int64{}
	for i := range n {
		now += clock.Time(rng.Int64N(5_000_000))
		p := procs[rng.IntN(len(procs))]
		payload[p] += 1 + rng.Int64N(3)
		op := Op{Time: now, Process: p, TP: tps[rng.IntN(len(tps))], Payload: payload[p], Offset: rng.Int64N(100000) - 1,
			Type: OpType(rng.IntN(4)), F: OpKind(rng.IntN(7)), Acks: int8(rng.IntN(3) - 1), Broker: protocol.BrokerID(rng.IntN(4) - 1),
			Idempotent: rng.IntN(2) == 0, Index: int32(i)}
		if rng.IntN(3) == 0 {
			op.Start = now - clock.Time(rng.Int64N(1e9))
		}
		if rng.IntN(3) == 0 {
			op.HW = rng.Int64N(100000)
		} else if op.F == OpSend && rng.IntN(5) == 0 {
			op.Queued = now - clock.Time(rng.Int64N(60e9)) // send() blocked up to max.block.ms
		}
		if rng.IntN(10) == 0 {
			op.Err, op.Note = protocol.RequestTimedOut, "timed out"
		}
		if op.F >= OpProcess && rng.IntN(2) == 0 {
			op.Generation = int32(rng.IntN(1000))
		}
		if rng.IntN(50) == 0 {
			op.Payload = -1 << 62 // far from the last: a long varint
		}
		want = append(want, op)
	}
	return HistoryOf(want...), want
}

func TestPayloadTable(t *testing.T) {
	var m PayloadTable[int]
	a, b := int64(1)<<payloadProducerShift|1, int64(3)<<payloadProducerShift|5000
	m.Set(a, 10)
	m.Set(b, 20)
	m.Set(7, 30) // not a producer's payload: the map
	for _, c := range []struct {
		payload int64
		want    int
		ok      bool
	}{{a, 10, true}, {b, 20, true}, {7, 30, true}, {a + 1, 0, false}, {b + 1e6, 0, false}, {int64(9) << payloadProducerShift, 0, false}, {-1, 0, false}} {
		got, ok := m.Get(c.payload)
		if got != c.want || ok != c.ok {
			t.Errorf("Get(%d) = %d, %v; want %d, %v", c.payload, got, ok, c.want, c.ok)
		}
	}
}
