package cluster

import (
	"time"

	"github.com/tideline-sim/tideline/sim"
)

// A run sets a timer and sends a fetch or a produce for nearly every event;
// allocating each was most of a run's garbage. These values are recycled
// instead (sim.Recycler): the world hands each back once it is done with
// it, to the free list of the node that made it, and that node's next send
// or timer takes it again. Every field is overwritten when one is taken, so
// nothing of an earlier use can leak into a run; and a world's values never
// meet another's, so explorations running worlds side by side share nothing.
type freeList[T any] struct{ free []*T }

func (l *freeList[T]) get() *T {
	if n := len(l.free); n > 0 {
		p := l.free[n-1]
		l.free = l.free[:n-1]
		return p
	}
	return new(T)
}

// put takes p back, zeroed: it drops what it pointed to, and a handler that
// wrongly kept it reads zeros or another's value, which changes the run
// (TestRecyclingChangesNothing).
func (l *freeList[T]) put(p *T) {
	if !recycling {
		return
	}
	var zero T
	*p = zero
	l.free = append(l.free, p)
}

// recycling is off only in the test that proves it changes nothing: with
// it off, every value is left to the collector, untouched after use.
var recycling = true

// recyclers are a node's free lists, one for each recycled type.
type recyclers struct {
	timers           freeList[timer]
	fetchRequests    freeList[FetchRequest]
	fetchResponses   freeList[FetchResponse]
	produceRequests  freeList[ProduceRequest]
	produceResponses freeList[ProduceResponse]
}

// setTimer arms a recycled timer holding t.
func (r *recyclers) setTimer(env sim.Env, d time.Duration, t timer) sim.TimerID {
	p := r.timers.get()
	*p, p.home = t, &r.timers
	return env.SetTimer(d, p)
}

func (r *recyclers) fetchRequest(m FetchRequest) *FetchRequest {
	p := r.fetchRequests.get()
	*p, p.home = m, &r.fetchRequests
	return p
}

func (r *recyclers) fetchResponse(m FetchResponse) *FetchResponse {
	p := r.fetchResponses.get()
	*p, p.home = m, &r.fetchResponses
	return p
}

func (r *recyclers) produceRequest(m ProduceRequest) *ProduceRequest {
	p := r.produceRequests.get()
	*p, p.home = m, &r.produceRequests
	return p
}

func (r *recyclers) produceResponse(m ProduceResponse) *ProduceResponse {
	p := r.produceResponses.get()
	*p, p.home = m, &r.produceResponses
	return p
}

// copyOf returns a message to send in msg's stead: a recycled message is
// copied, as each copy sent is handed back once; any other is a value
// already.
func (r *recyclers) copyOf(msg sim.Message) sim.Message {
	switch m := msg.(type) {
	case *FetchRequest:
		return r.fetchRequest(*m)
	case *ProduceRequest:
		return r.produceRequest(*m)
	}
	return msg
}

// Recycle hands a value back to the free list it came from (home); one made
// by a test, with no home, is left to the collector.
func (t *timer) Recycle()           { recycleTo(t.home, t) }
func (m *FetchRequest) Recycle()    { recycleTo(m.home, m) }
func (m *FetchResponse) Recycle()   { recycleTo(m.home, m) }
func (m *ProduceRequest) Recycle()  { recycleTo(m.home, m) }
func (m *ProduceResponse) Recycle() { recycleTo(m.home, m) }

func recycleTo[T any](home *freeList[T], p *T) {
	if home != nil {
		home.put(p)
	}
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
