package sim

import (
	"testing"
	"time"

	"github.com/tideline-sim/tideline/clock"
	"github.com/tideline-sim/tideline/network"
)

// inFlight is how many events the loop benchmarks keep queued.
const inFlight = 1000

// noop is a zero-size message: boxing it in an interface does not allocate,
// so the benchmark measures the world, not the message.
type noop struct{}

func (noop) AppendSummary(b []byte) []byte { return append(b, "noop"...) }

// relay forwards every message to the next node.
type relay struct{ next NodeID }

func (r *relay) Start(env Env) {
	for range inFlight / 10 {
		env.Send(r.next, noop{})
	}
}

func (r *relay) Receive(env Env, _ NodeID, _ Message) {
	env.Send(r.next, noop{})
}

func (r *relay) Timer(Env, Timer) {}

// BenchmarkWorldLoop measures the event loop with no-op nodes: ten nodes
// keep 1,000 messages in flight over jittered links; one op is one event.
func BenchmarkWorldLoop(b *testing.B) {
	w, err := New(Config{Seed: 1, Duration: 1000 * time.Hour, MaxEvents: 1 << 62,
		Network: network.Link{Latency: time.Millisecond, Jitter: time.Millisecond}})
	if err != nil {
		b.Fatal(err)
	}
	for i := range 10 {
		w.AddNode(string(rune('a'+i)), func() Node { return &relay{next: NodeID((i + 1) % 10)} })
	}
	// Warm up: boot, fill the queue and grow the slab before timing.
	for range 10 * inFlight {
		w.Step()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if !w.Step() {
			b.Fatal(w.Err())
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkHeapFloor is the floor under the world loop: the same typed heap
// with 1,000 entries, one pop and one push per op, and nothing else.
func BenchmarkHeapFloor(b *testing.B) {
	var q clock.Queue[uint32]
	var now clock.Time
	for i := range inFlight {
		q.Push(clock.Time(i*1000), uint32(i))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		at, v, _ := q.Pop()
		now = at
		q.Push(now+clock.Time(1_000_000+(i*7919)%1_000_000), v)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
