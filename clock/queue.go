package clock

import "fmt"

// Queue is a min-heap of handles ordered by (time, insertion sequence).
//
// The sequence number breaks ties between events due at the same instant in
// the order they were scheduled, which is what makes a run reproducible: a
// heap alone would order equal keys by the accident of its layout.
//
// Handles are small integers (the simulator's event slots), each queued at
// most once at a time. The queue keeps each one's place, so that Remove
// takes any of them out in O(log n): a run cancels most of its timers (a
// produce's request timeout, a parked fetch's wait), and each leaves at
// once rather than deepening every sift until it comes due.
//
// It is generic rather than built on container/heap so that pushing and
// popping neither boxes values in interfaces nor calls through them.
type Queue[H ~uint32] struct {
	items []item[H]
	place []int32 // place[h] is h's index in items; -1 when h is not queued
	seq   uint64
}

type item[H ~uint32] struct {
	at  Time
	seq uint64
	h   H
}

func (a *item[H]) before(b *item[H]) bool {
	return a.at < b.at || (a.at == b.at && a.seq < b.seq)
}

// Len reports the number of queued handles.
func (q *Queue[H]) Len() int { return len(q.items) }

// Push queues h at time at, after every handle already queued for that
// time. h must not be queued already.
func (q *Queue[H]) Push(at Time, h H) {
	for int(h) >= len(q.place) {
		q.place = append(q.place, -1)
	}
	if q.place[h] >= 0 {
		panic(fmt.Sprintf("clock: handle %d queued twice", h))
	}
	q.seq++
	q.items = append(q.items, item[H]{at: at, seq: q.seq, h: h})
	q.up(len(q.items) - 1)
}

// Peek returns the time of the earliest handle; ok is false when empty.
func (q *Queue[H]) Peek() (at Time, ok bool) {
	if len(q.items) == 0 {
		return Never, false
	}
	return q.items[0].at, true
}

// Pop removes and returns the earliest handle; ok is false when empty.
func (q *Queue[H]) Pop() (at Time, h H, ok bool) {
	if len(q.items) == 0 {
		return Never, h, false
	}
	top := q.items[0]
	q.take(0)
	return top.at, top.h, true
}

// Remove takes h out of the queue, reporting whether it was queued. The
// rest keep their order, ties included.
func (q *Queue[H]) Remove(h H) bool {
	if int(h) >= len(q.place) || q.place[h] < 0 {
		return false
	}
	q.take(int(q.place[h]))
	return true
}

// take removes the item at i, filling its place with the last.
func (q *Queue[H]) take(i int) {
	q.place[q.items[i].h] = -1
	last := len(q.items) - 1
	moved := q.items[last]
	q.items = q.items[:last]
	if i == last {
		return
	}
	q.items[i] = moved
	if i > 0 && moved.before(&q.items[(i-1)/2]) {
		q.up(i)
	} else {
		q.down(i)
	}
}

// up and down move a hole rather than swapping at each level: one write per
// level instead of three, and one to the moved item's place.
func (q *Queue[H]) up(i int) {
	x := q.items[i]
	for i > 0 {
		parent := (i - 1) / 2
		if !x.before(&q.items[parent]) {
			break
		}
		q.items[i] = q.items[parent]
		q.place[q.items[i].h] = int32(i)
		i = parent
	}
	q.items[i] = x
	q.place[x.h] = int32(i)
}

func (q *Queue[H]) down(i int) {
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
		q.place[q.items[i].h] = int32(i)
		i = child
	}
	q.items[i] = x
	q.place[x.h] = int32(i)
}
