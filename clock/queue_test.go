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
	var q Queue[int]
	r := rand.New(rand.NewPCG(1, 2))
	type key struct {
		at  Time
		seq int
	}
	var want []key
	for i := range 5000 {
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
	var q Queue[int]
	r := rand.New(rand.NewPCG(3, 4))
	var last Time
	for i := range 20000 {
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
	var q, want Queue[int]
	r := rand.New(rand.NewPCG(5, 6))
	for i := range 5000 {
		at := Time(r.IntN(50)) // many ties
		q.Push(at, i)
		if i%3 != 0 {
			want.Push(at, i)
		}
	}
	q.Remove(func(v int) bool { return v%3 == 0 })
	require.Equal(t, want.Len(), q.Len())
	for want.Len() > 0 {
		wantAt, wantV, _ := want.Pop()
		at, v, _ := q.Pop()
		require.Equal(t, wantAt, at)
		require.Equal(t, wantV, v)
	}
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
