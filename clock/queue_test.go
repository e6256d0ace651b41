package clock

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestQueuePopsInTimeThenInsertionOrder(t *testing.T) {
	var q Queue[uint32]
	r := rand.New(rand.NewPCG(1, 2))
	type key struct {
		at  Time
		seq uint32
	}
	var want []key
	for i := range uint32(5000) {
		at := Time(r.IntN(50)) // many ties
		q.Push(at, i)
		want = append(want, key{at, i})
	}
	slices.SortStableFunc(want, func(a, b key) int { return int(a.at - b.at) })
	for _, w := range want {
		at, v, ok := q.Pop()
		require.True(t, ok)
		require.Equal(t, w.at, at)
		require.Equal(t, w.seq, v, "ties must pop in insertion order")
	}
	_, _, ok := q.Pop()
	assert.False(t, ok)
	_, ok = q.Peek()
	assert.False(t, ok)
}

func TestQueueInterleavedPushPop(t *testing.T) {
	var q Queue[uint32]
	r := rand.New(rand.NewPCG(3, 4))
	var last Time
	for i := range uint32(20000) {
		if q.Len() == 0 || r.IntN(3) > 0 {
			q.Push(last+Time(r.IntN(100)), i)
			continue
		}
		at, _, _ := q.Pop()
		require.GreaterOrEqual(t, at, last, "time never goes backwards")
		last = at
	}
}

func TestQueueRemoveKeepsTheOrderOfTheRest(t *testing.T) {
	var q, want Queue[uint32]
	r := rand.New(rand.NewPCG(5, 6))
	for i := range uint32(5000) {
		at := Time(r.IntN(50)) // many ties
		q.Push(at, i)
		if i%3 != 0 {
			want.Push(at, i)
		}
	}
	for i := uint32(0); i < 5000; i += 3 {
		require.True(t, q.Remove(i))
		require.False(t, q.Remove(i), "removed twice")
	}
	assert.False(t, q.Remove(99999), "never queued")
	require.Equal(t, want.Len(), q.Len())
	for want.Len() > 0 {
		wantAt, wantV, _ := want.Pop()
		at, v, _ := q.Pop()
		require.Equal(t, wantAt, at)
		require.Equal(t, wantV, v)
	}
}

// Handles come and go as the simulator's slots do: popped, removed and
// pushed again, in any mix; the queue must pop exactly what a sorted list
// of the live ones would.
func TestQueueReusesHandlesAgainstAModel(t *testing.T) {
	var q Queue[uint32]
	r := rand.New(rand.NewPCG(7, 8))
	type entry struct {
		at  Time
		seq int
		h   uint32
	}
	var live []entry // sorted by (at, seq)
	var free []uint32
	next, seq := uint32(0), 0
	for range 50000 {
		switch op := r.IntN(10); {
		case op < 5 || len(live) == 0:
			h := next
			if len(free) > 0 {
				h, free = free[len(free)-1], free[:len(free)-1]
			} else {
				next++
			}
			seq++
			e := entry{Time(r.IntN(40)), seq, h}
			q.Push(e.at, h)
			i, _ := slices.BinarySearchFunc(live, e, func(a, b entry) int {
				if a.at != b.at {
					return int(a.at - b.at)
				}
				return a.seq - b.seq
			})
			live = slices.Insert(live, i, e)
		case op < 8:
			at, h, ok := q.Pop()
			require.True(t, ok)
			require.Equal(t, live[0].at, at)
			require.Equal(t, live[0].h, h)
			live = live[1:]
			free = append(free, h)
		default:
			i := r.IntN(len(live))
			require.True(t, q.Remove(live[i].h))
			free = append(free, live[i].h)
			live = slices.Delete(live, i, i+1)
		}
		require.Equal(t, len(live), q.Len())
	}
}

func TestQueueRefusesAHandleQueuedTwice(t *testing.T) {
	var q Queue[uint32]
	q.Push(1, 7)
	assert.Panics(t, func() { q.Push(2, 7) })
}

func TestTimeString(t *testing.T) {
	cases := []struct {
		t    Time
		want string
	}{
		{0, "0.000000s"},
		{At(10*time.Second + 204350*time.Microsecond), "10.204350s"},
		{At(-1500 * time.Millisecond), "-1.500000s"},
		{At(90 * time.Minute), "5400.000000s"},
		{Never, "never"},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, c.t.String(), "Time(%d)", int64(c.t))
	}
}

// BenchmarkQueue is one pop and one push on a queue of 1,000 entries.
func BenchmarkQueue(b *testing.B) {
	var q Queue[uint32]
	for i := range 1000 {
		q.Push(Time(i*1000), uint32(i))
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		at, v, _ := q.Pop()
		q.Push(at+Time(1_000_000+(i*7919)%1_000_000), v)
	}
}
