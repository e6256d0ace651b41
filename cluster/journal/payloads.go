package journal

import "strconv"

// PayloadTable maps payloads to values in a few bytes each: a producer's
// payloads are consecutive (PayloadOf), so a slice per producer, indexed by
// sequence, holds them; other payloads (handmade histories) go to a map. A
// long run's checkers keep millions of these, where a Go map would cost
// several times the space. The zero value is empty and ready.
type PayloadTable[T any] struct {
	dense [][]T
	has   [][]bool
	other map[int64]T
}

func (m *PayloadTable[T]) slot(payload int64, grow bool) (*T, *bool) {
	producer, seq, ok := PayloadOf(payload)
	if !ok || seq > 1<<32 {
		return nil, nil
	}
	if producer >= len(m.dense) {
		if !grow {
			return nil, new(bool)
		}
		m.dense = append(m.dense, make([][]T, producer+1-len(m.dense))...)
		m.has = append(m.has, make([][]bool, producer+1-len(m.has))...)
	}
	d, h := &m.dense[producer], &m.has[producer]
	if seq >= int64(len(*d)) {
		if !grow {
			return nil, new(bool)
		}
		n := max(seq+1, 2*int64(len(*d)), 1024)
		*d = append(*d, make([]T, n-int64(len(*d)))...)
		*h = append(*h, make([]bool, n-int64(len(*h)))...)
	}
	return &(*d)[seq], &(*h)[seq]
}

// Set records v for payload.
func (m *PayloadTable[T]) Set(payload int64, v T) {
	if p, has := m.slot(payload, true); p != nil {
		*p, *has = v, true
		return
	}
	if m.other == nil {
		m.other = map[int64]T{}
	}
	m.other[payload] = v
}

// Get returns payload's value and whether it has one.
func (m *PayloadTable[T]) Get(payload int64) (T, bool) {
	p, has := m.slot(payload, false)
	switch {
	case p != nil:
		return *p, *has
	case has != nil:
		var zero T
		return zero, false
	}
	v, ok := m.other[payload]
	return v, ok
}

// A payload names its producer and its place in that producer's sends:
// (producer index + 1) << 40 | sequence from 1. Checkers index by it.
const payloadProducerShift = 40

// PayloadFor is the payload of producer's seq-th write (from 1).
func PayloadFor(producer int, seq int64) int64 { return int64(producer+1)<<payloadProducerShift | seq }

// PayloadOf splits a producer's payload into the producer's index and the
// sequence number; ok is false for a payload no producer makes.
func PayloadOf(payload int64) (producer int, seq int64, ok bool) {
	producer = int(payload>>payloadProducerShift) - 1
	seq = payload & (1<<payloadProducerShift - 1)
	return producer, seq, payload > 0 && producer >= 0 && seq > 0
}

// PayloadText names a payload as its producer and sequence, p0#4137 (the
// 4137th write of producer-0), or as the number itself for a payload no
// producer makes.
func PayloadText(payload int64) string {
	producer, seq, ok := PayloadOf(payload)
	if !ok {
		return strconv.FormatInt(payload, 10)
	}
	return "p" + strconv.Itoa(producer) + "#" + strconv.FormatInt(seq, 10)
}
