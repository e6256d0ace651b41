package clock

// Queue is a min-heap of values ordered by (time, insertion sequence).
//
// The sequence number breaks ties between events due at the same instant in
// the order they were scheduled, which is what makes a run reproducible: a
// heap alone would order equal keys by the accident of its layout.
//
// It is generic rather than built on container/heap so that pushing and
// popping neither boxes values in interfaces nor calls through them; the
// simulator keeps T as small as an index to keep the sift loops cheap.
type Queue[T any] struct {
	items []item[T]
	seq   uint64
}

type item[T any] struct {
	at  Time
	seq uint64
	v   T
}

func (a *item[T]) before(b *item[T]) bool {
	return a.at < b.at || (a.at == b.at && a.seq < b.seq)
}

// Len reports the number of queued values.
func (q *Queue[T]) Len() int { return len(q.items) }

// Push queues v at time at, after every value already queued for that time.
func (q *Queue[T]) Push(at Time, v T) {
	q.seq++
	q.items = append(q.items, item[T]{at: at, seq: q.seq, v: v})
	q.up(len(q.items) - 1)
}

// Peek returns the time of the earliest value; ok is false when empty.
func (q *Queue[T]) Peek() (at Time, ok bool) {
	if len(q.items) == 0 {
		return Never, false
	}
	return q.items[0].at, true
}

// Pop removes and returns the earliest value; ok is false when empty.
func (q *Queue[T]) Pop() (at Time, v T, ok bool) {
	n := len(q.items)
	if n == 0 {
		return Never, v, false
	}
	top := q.items[0]
	last := n - 1
	q.items[0] = q.items[last]
	q.items[last] = item[T]{} // drop references held by T for the GC
	q.items = q.items[:last]
	if last > 0 {
		q.down(0)
	}
	return top.at, top.v, true
}

// Remove drops every value for which drop reports true, in O(n): for a
// queue that would otherwise carry dead entries (cancelled timers) until
// they come due. The rest keep their order, ties included.
func (q *Queue[T]) Remove(drop func(T) bool) {
	kept := q.items[:0]
	for _, it := range q.items {
		if !drop(it.v) {
			kept = append(kept, it)
		}
	}
	clear(q.items[len(kept):])
	q.items = kept
	for i := len(kept)/2 - 1; i >= 0; i-- {
		q.down(i)
	}
}

// up and down move a hole rather than swapping at each level: one write per
// level instead of three.
func (q *Queue[T]) up(i int) {
	x := q.items[i]
	for i > 0 {
		parent := (i - 1) / 2
		if !x.before(&q.items[parent]) {
			break
		}
		q.items[i] = q.items[parent]
		i = parent
	}
	q.items[i] = x
}

func (q *Queue[T]) down(i int) {
	n := len(q.items)
	x := q.items[i]
	for {
		child := 2*i + 1
		if child >= n {
			break
		}
		if right := child + 1; right < n && q.items[right].before(&q.items[child]) {
			child = right
		}
		if !q.items[child].before(&x) {
			break
		}
		q.items[i] = q.items[child]
		i = child
	}
	q.items[i] = x
}
