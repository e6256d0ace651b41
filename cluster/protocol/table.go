package protocol

import (
	"slices"
	"sort"
)

// PartitionTable is a metadata image's partitions, sorted by TP, kept in
// chunks that images share: Share hands out a copy that costs the chunk
// index, and a change copies the one chunk it writes (Kafka's
// MetadataImage, over persistent collections). A table writes in place
// only the chunks it owns, so a shared one is never changed under its
// other holders.
type PartitionTable struct {
	chunks []*partitionChunk
	n      int
	owner  *byte // the chunks stamped with it are this table's to write
}

type partitionChunk struct {
	states []PartitionState
	owner  *byte
}

// partitionChunkSize balances a change's copy (a chunk) against a share's
// (the index: one pointer a chunk).
const partitionChunkSize = 128

// TableOf builds a table of states, which must be sorted by TP.
func TableOf(states ...PartitionState) PartitionTable {
	t := PartitionTable{owner: new(byte)}
	for _, s := range states {
		t.Append(s)
	}
	return t
}

// IsZero reports whether the table was never built.
func (t *PartitionTable) IsZero() bool { return t.chunks == nil }

// Len is the number of partitions.
func (t *PartitionTable) Len() int { return t.n }

// At returns the i-th partition.
func (t *PartitionTable) At(i int) PartitionState {
	return t.chunks[i/partitionChunkSize].states[i%partitionChunkSize]
}

// Set replaces the i-th partition, copying its chunk first if another
// table may hold it.
func (t *PartitionTable) Set(i int, s PartitionState) {
	t.own()
	k := i / partitionChunkSize
	c := t.chunks[k]
	if c.owner != t.owner {
		c = &partitionChunk{states: slices.Clone(c.states), owner: t.owner}
		t.chunks[k] = c
	}
	c.states[i%partitionChunkSize] = s
}

// Append adds a partition at the end (the table is built in TP order).
func (t *PartitionTable) Append(s PartitionState) {
	t.own()
	if t.n%partitionChunkSize == 0 {
		t.chunks = append(t.chunks, &partitionChunk{states: make([]PartitionState, 0, partitionChunkSize), owner: t.owner})
	}
	k := len(t.chunks) - 1
	if t.chunks[k].owner != t.owner {
		t.chunks[k] = &partitionChunk{states: slices.Clip(slices.Clone(t.chunks[k].states)), owner: t.owner}
	}
	t.chunks[k].states = append(t.chunks[k].states, s)
	t.n++
}

// own gives a zero table an owner.
func (t *PartitionTable) own() {
	if t.owner == nil {
		t.owner = new(byte)
	}
}

// Share returns a copy of the table that shares its chunks: from now on
// neither writes a chunk in place that the other holds.
func (t *PartitionTable) Share() PartitionTable {
	t.owner = new(byte) // t's chunks are no longer its own to write
	return PartitionTable{chunks: slices.Clone(t.chunks), n: t.n, owner: new(byte)}
}

// All yields every partition in TP order.
func (t *PartitionTable) All() func(func(int, PartitionState) bool) {
	return func(yield func(int, PartitionState) bool) {
		for k, c := range t.chunks {
			for j, s := range c.states {
				if !yield(k*partitionChunkSize+j, s) {
					return
				}
			}
		}
	}
}

// ChangedSince yields, in TP order, the partitions that changed from
// image old to t: what a broker must look at to apply t (Kafka's
// MetadataDelta). A chunk that both share is unchanged, since a shared
// chunk is never written in place; in a chunk that is not, a partition at
// the same place with the same leader and partition epochs is unchanged,
// since every change bumps the partition epoch. A zero old yields
// everything.
func (t *PartitionTable) ChangedSince(old *PartitionTable) func(func(int, PartitionState) bool) {
	return func(yield func(int, PartitionState) bool) {
		for k, c := range t.chunks {
			var was []PartitionState
			if k < len(old.chunks) {
				if old.chunks[k] == c {
					continue
				}
				was = old.chunks[k].states
			}
			for j, s := range c.states {
				if j < len(was) && was[j].TP == s.TP && was[j].LeaderEpoch == s.LeaderEpoch && was[j].PartitionEpoch == s.PartitionEpoch {
					continue
				}
				if !yield(k*partitionChunkSize+j, s) {
					return
				}
			}
		}
	}
}

// Find returns the index of tp, and whether it is in the table.
func (t *PartitionTable) Find(tp TopicPartition) (int, bool) {
	i := sort.Search(t.n, func(i int) bool { return t.At(i).TP.Compare(tp) >= 0 })
	return i, i < t.n && t.At(i).TP == tp
}

// Slice returns the partitions as one slice (a copy).
func (t *PartitionTable) Slice() []PartitionState {
	out := make([]PartitionState, 0, t.n)
	for _, c := range t.chunks {
		out = append(out, c.states...)
	}
	return out
}
