package protocol

// Pool is one node's free list of one recycled type (the hot messages and
// timers): Get takes a value to fill, Put takes one back zeroed once the
// world is done with it. A nil Pool recycles nothing: Get allocates and Put
// leaves the value to the collector.
type Pool[T any] struct{ free []*T }

// Get returns a value to overwrite whole.
func (l *Pool[T]) Get() *T {
	if l == nil {
		return new(T)
	}
	if n := len(l.free); n > 0 {
		p := l.free[n-1]
		l.free = l.free[:n-1]
		return p
	}
	return new(T)
}

// Put takes p back, zeroed: it drops what it pointed to, and a handler that
// wrongly kept it reads zeros or another's value, which changes the run
// (TestRecyclingChangesNothing).
func (l *Pool[T]) Put(p *T) {
	if l == nil {
		return
	}
	var zero T
	*p = zero
	l.free = append(l.free, p)
}

// From returns m in a value of pool, which Recycle gives back to it.
func (m ProduceRequest) From(pool *Pool[ProduceRequest]) *ProduceRequest {
	p := pool.Get()
	*p, p.home = m, pool
	return p
}

// From returns m in a value of pool, which Recycle gives back to it.
func (m ProduceResponse) From(pool *Pool[ProduceResponse]) *ProduceResponse {
	p := pool.Get()
	*p, p.home = m, pool
	return p
}

// From returns m in a value of pool, which Recycle gives back to it.
func (m FetchRequest) From(pool *Pool[FetchRequest]) *FetchRequest {
	p := pool.Get()
	*p, p.home = m, pool
	return p
}

// From returns m in a value of pool, which Recycle gives back to it.
func (m FetchResponse) From(pool *Pool[FetchResponse]) *FetchResponse {
	p := pool.Get()
	*p, p.home = m, pool
	return p
}

// Recycle hands a message back to the pool it came from (sim.Recycler);
// one made by a test, or while recycling is off, has none.
func (m *FetchRequest) Recycle()    { m.home.Put(m) }
func (m *FetchResponse) Recycle()   { m.home.Put(m) }
func (m *ProduceRequest) Recycle()  { m.home.Put(m) }
func (m *ProduceResponse) Recycle() { m.home.Put(m) }

// A replica fetch's lists keep their capacity in the pool: the node that
// made it fills them again for its next fetch (every request and answer of
// a session has them).

// NewReplicaFetchRequest returns an empty request from pool, its lists
// empty but not unallocated.
func NewReplicaFetchRequest(pool *Pool[ReplicaFetchRequest]) *ReplicaFetchRequest {
	p := pool.Get()
	p.home = pool
	return p
}

// NewReplicaFetchResponse returns an empty response from pool.
func NewReplicaFetchResponse(pool *Pool[ReplicaFetchResponse]) *ReplicaFetchResponse {
	p := pool.Get()
	p.home = pool
	return p
}

// CopyTo copies m into c, into c's own lists.
func (m *ReplicaFetchRequest) CopyTo(c *ReplicaFetchRequest) {
	parts, forgotten, home := c.Partitions[:0], c.Forgotten[:0], c.home
	*c = *m
	c.home = home
	c.Partitions = append(parts, m.Partitions...)
	c.Forgotten = append(forgotten, m.Forgotten...)
}

func (m *ReplicaFetchRequest) Recycle() {
	parts, forgotten := m.Partitions[:0], m.Forgotten[:0]
	m.home.Put(m)
	m.Partitions, m.Forgotten = parts, forgotten
}

func (m *ReplicaFetchResponse) Recycle() {
	clear(m.Partitions) // drop the batches they point to
	parts := m.Partitions[:0]
	m.home.Put(m)
	m.Partitions = parts
}
