package cluster

import (
	"sync"
	"time"

	"github.com/tideline-sim/tideline/sim"
)

// A run sets a timer and sends a fetch or a produce for nearly every event;
// allocating each was most of a run's garbage. These values are recycled
// instead (sim.Recycler): the world hands each back once it is done with
// it, and the next send or timer takes it again. Every field is overwritten
// when one is taken, so nothing of an earlier use can leak into a run.
type recycled[T any] struct{ pool sync.Pool }

// take returns a value holding v, reused when one is free.
func (r *recycled[T]) take(v T) *T {
	p, _ := r.pool.Get().(*T)
	if p == nil {
		p = new(T)
	}
	*p = v
	return p
}

// give puts p back, zeroed: it drops what it pointed to, and a handler that
// wrongly kept it reads zeros, which the golden trace hashes would catch.
func (r *recycled[T]) give(p *T) {
	var zero T
	*p = zero
	r.pool.Put(p)
}

var (
	timers           recycled[timer]
	fetchRequests    recycled[FetchRequest]
	fetchResponses   recycled[FetchResponse]
	produceRequests  recycled[ProduceRequest]
	produceResponses recycled[ProduceResponse]
)

func (t *timer) Recycle()           { timers.give(t) }
func (m *FetchRequest) Recycle()    { fetchRequests.give(m) }
func (m *FetchResponse) Recycle()   { fetchResponses.give(m) }
func (m *ProduceRequest) Recycle()  { produceRequests.give(m) }
func (m *ProduceResponse) Recycle() { produceResponses.give(m) }

// setTimer arms a recycled timer.
func setTimer(env sim.Env, d time.Duration, t timer) sim.TimerID {
	return env.SetTimer(d, timers.take(t))
}

// arena carves values from blocks, for the many small values a run keeps
// about as long as their neighbours (a log's batches, a batch's payloads):
// one allocation for a block rather than one a value. Nothing is reused; a
// block is garbage once every value carved from it is.
type arena[T any] struct{ block []T }

const arenaBlock = 64

// one returns a zero value of its own.
func (a *arena[T]) one() *T {
	if len(a.block) == 0 {
		a.block = make([]T, arenaBlock)
	}
	p := &a.block[0]
	a.block = a.block[1:]
	return p
}

// slice returns n zero values of their own, capacity n.
func (a *arena[T]) slice(n int) []T {
	if len(a.block) < n {
		a.block = make([]T, max(16*arenaBlock, n))
	}
	s := a.block[:n:n]
	a.block = a.block[n:]
	return s
}
