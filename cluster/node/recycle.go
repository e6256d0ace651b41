package node

import (
	"time"

	"github.com/tideline-sim/tideline/cluster/protocol"
	"github.com/tideline-sim/tideline/sim"
)

// A run sets a timer and sends a fetch or a produce for nearly every event;
// allocating each was most of a run's garbage. These values are recycled
// instead (sim.Recycler): the world hands each back once it is done with
// it, to the pool of the node that made it (Pool), and that node's next
// send or timer takes it again. A world's values never meet another's, so
// explorations running worlds side by side share nothing.

// recycling is off only in the test that proves it changes nothing: with
// it off, every value is made afresh with no pool, and left to the
// collector, untouched after use.
var recycling = true

// Recyclers are a node's pools, one for each recycled type.
type Recyclers struct {
	timers           protocol.Pool[Timer]
	fetchRequests    protocol.Pool[protocol.FetchRequest]
	fetchResponses   protocol.Pool[protocol.FetchResponse]
	produceRequests  protocol.Pool[protocol.ProduceRequest]
	produceResponses protocol.Pool[protocol.ProduceResponse]
	replicaFetches   protocol.Pool[protocol.ReplicaFetchRequest]
	replicaAnswers   protocol.Pool[protocol.ReplicaFetchResponse]
}

// pool is p, or none while recycling is off.
func pool[T any](p *protocol.Pool[T]) *protocol.Pool[T] {
	if !recycling {
		return nil
	}
	return p
}

// SetTimer arms a recycled timer holding t.
func (r *Recyclers) SetTimer(env sim.Env, d time.Duration, t Timer) sim.TimerID {
	home := pool(&r.timers)
	p := home.Get()
	*p, p.home = t, home
	return env.SetTimer(d, p)
}

// NewFetchRequest, NewFetchResponse, NewProduceRequest and
// NewProduceResponse return m in a recycled value to send.
func (r *Recyclers) NewFetchRequest(m protocol.FetchRequest) *protocol.FetchRequest {
	return m.From(pool(&r.fetchRequests))
}

func (r *Recyclers) NewFetchResponse(m protocol.FetchResponse) *protocol.FetchResponse {
	return m.From(pool(&r.fetchResponses))
}

func (r *Recyclers) NewProduceRequest(m protocol.ProduceRequest) *protocol.ProduceRequest {
	return m.From(pool(&r.produceRequests))
}

func (r *Recyclers) NewProduceResponse(m protocol.ProduceResponse) *protocol.ProduceResponse {
	return m.From(pool(&r.produceResponses))
}

// NewReplicaFetchRequest and NewReplicaFetchResponse return an empty
// recycled value to fill and send.
func (r *Recyclers) NewReplicaFetchRequest() *protocol.ReplicaFetchRequest {
	return protocol.NewReplicaFetchRequest(pool(&r.replicaFetches))
}

func (r *Recyclers) NewReplicaFetchResponse() *protocol.ReplicaFetchResponse {
	return protocol.NewReplicaFetchResponse(pool(&r.replicaAnswers))
}

// CopyOf returns a message to send in msg's stead: a recycled message is
// copied, as each copy sent is handed back once; any other is a value
// already.
func (r *Recyclers) CopyOf(msg sim.Message) sim.Message {
	switch m := msg.(type) {
	case *protocol.FetchRequest:
		return r.NewFetchRequest(*m)
	case *protocol.ProduceRequest:
		return r.NewProduceRequest(*m)
	case *protocol.ReplicaFetchRequest:
		c := r.NewReplicaFetchRequest()
		m.CopyTo(c)
		return c
	}
	return msg
}

// Recycle hands a timer back to the pool it came from; one made by a
// test, or while recycling is off, has none.
func (t *Timer) Recycle() { t.home.Put(t) }

// Arena carves values from blocks, for the many small values a run keeps
// about as long as their neighbours (a log's batches, a batch's payloads):
// one allocation for a block rather than one a value. Nothing is reused; a
// block is garbage once every value carved from it is.
type Arena[T any] struct{ block []T }

const ArenaBlock = 64

// One returns a zero value of its own.
func (a *Arena[T]) One() *T {
	if len(a.block) == 0 {
		a.block = make([]T, ArenaBlock)
	}
	p := &a.block[0]
	a.block = a.block[1:]
	return p
}

// Slice returns n zero values of their own, capacity n.
func (a *Arena[T]) Slice(n int) []T {
	if len(a.block) < n {
		a.block = make([]T, max(16*ArenaBlock, n))
	}
	s := a.block[:n:n]
	a.block = a.block[n:]
	return s
}
