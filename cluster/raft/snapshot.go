package raft

import (
	"slices"
)

// Snapshot is the state the log's entries before End left (KIP-630): a
// voter takes one once enough committed records followed the last
// (metadata.log.max.record.bytes.between.snapshots, or
// metadata.log.max.snapshot.interval.ms), keeps it on disk and drops the
// entries it replaces; a voter or an observer whose fetch falls below the
// leader's log start loads the leader's snapshot, then fetches after it.
// Since each entry carries the whole state after it, the snapshot is the
// value of its last entry.
type Snapshot[T any] struct {
	End   int64 // the offset after the last entry it replaces; 0: none
	Epoch int32 // that entry's epoch
	Value T
}

// snapshotFileSuffix names a voter's snapshot file beside its log.
const snapshotFileSuffix = ".snapshot"

// recordBytes is what tideline counts a metadata record as toward
// metadata.log.max.record.bytes.between.snapshots: Kafka's partition
// change, registration and NoOp records are tens to a few hundred bytes.
const recordBytes = 100

// LogStart is the log start offset: the entries before it are in the snapshot.
func (q *Quorum[T]) LogStart() int64 { return q.snap.End }

// LastEpoch is the epoch of the last entry, in the log or the snapshot.
func (q *Quorum[T]) LastEpoch() int32 { return q.lastEpoch() }

// epochAt is the epoch of the entry at off, which must be the snapshot's
// last or in the log.
func (q *Quorum[T]) epochAt(off int64) int32 {
	if off < q.snap.End {
		return q.snap.Epoch
	}
	return q.log[off-q.snap.End].Epoch
}

// LastValue is the state after the last entry (the zero value if none).
func (q *Quorum[T]) LastValue() T {
	if len(q.log) > 0 {
		return q.log[len(q.log)-1].Value
	}
	return q.snap.Value
}

// CommittedEpoch is the epoch of the last committed entry.
func (q *Quorum[T]) CommittedEpoch() int32 { return q.epochAt(q.hw - 1) }

// maybeSnapshot takes a snapshot at the high watermark once enough
// committed records, or enough time, followed the last.
func (q *Quorum[T]) maybeSnapshot() {
	records := q.hw - q.snap.End
	if records <= 0 {
		return
	}
	byBytes := q.cfg.SnapshotBytes > 0 && records*recordBytes >= q.cfg.SnapshotBytes
	byTime := q.cfg.SnapshotInterval > 0 && q.env.Now().Sub(q.snapAt) >= q.cfg.SnapshotInterval
	if !byBytes && !byTime {
		return
	}
	last := q.log[q.hw-1-q.snap.End]
	q.install(Snapshot[T]{End: q.hw, Epoch: last.Epoch, Value: last.Value})
}

// install makes s this voter's snapshot and drops the entries it covers,
// on disk too (Kafka deletes the log segments below the snapshot).
func (q *Quorum[T]) install(s Snapshot[T]) {
	keep := []Entry[T]{}
	if s.End < q.leo() && s.End >= q.snap.End {
		keep = slices.Clone(q.log[s.End-q.snap.End:]) // a fresh array: the dropped entries go to the collector
	}
	q.snap, q.log, q.snapAt = s, keep, q.env.Now()
	q.snapF.Truncate(0)
	q.snapF.Append(s)
	q.snapF.Sync()
	q.logF.Truncate(0)
	for _, e := range q.log {
		q.logF.Append(e)
	}
	q.logF.Sync()
}
