// Package storage is one replica's partition log on a broker's simulated
// disk, as Kafka's storage module keeps it (UnifiedLog with its
// LeaderEpochFileCache and ProducerStateManager): record batches, the
// leader-epoch checkpoint, the high watermark, the idempotent producers'
// last sequences, and prefix hashes for cheap agreement checks. It knows
// nothing of leaders, followers or the network; it imports only protocol
// and sim.
package storage

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/tideline-sim/tideline/cluster/protocol"
	"github.com/tideline-sim/tideline/sim"
)

// EpochEntry is one entry of the leader-epoch cache: the first offset
// written under a leader epoch.
type EpochEntry struct {
	Epoch       int32
	StartOffset int64
}

// producerRun is a run of records from one producer with consecutive
// sequence numbers at consecutive offsets.
type producerRun struct {
	firstSeq, lastSeq int32
	firstOffset       int64
}

// producerState is what the log remembers of an idempotent producer. Like
// Kafka, it keeps the last few batches so that a retried batch is recognised
// and answered with its original offset.
type producerState struct {
	epoch int16
	runs  []producerRun // oldest first, at most maxProducerRuns
}

// maxProducerRuns mirrors Kafka's five cached batches per producer.
const maxProducerRuns = 5

func (p *producerState) lastSeq() int32 { return p.runs[len(p.runs)-1].lastSeq }

// Log is one replica's log of a partition, kept on the broker's
// simulated disk: the records file, the leader-epoch checkpoint, and in
// memory the page-cache view of both plus the producer state.
type Log struct {
	TP        protocol.TopicPartition
	file      *sim.File // record batches (*Batch), as Kafka writes them: the one copy of the records
	epochFile *sim.File // the epoch cache, rewritten and synced on change
	end       int64     // the log end offset
	// batches mirrors the file's batches, typed. Its array is only ever
	// appended to (a truncation starts a new one), so a fetch response
	// can carry a window of it, not a copy, while it is in flight.
	batches []*protocol.Batch
	// hashes[i] chains every record up to the end of batch i: prefix
	// hashes for cheap agreement checks, a word a batch, not a record.
	hashes    []uint64
	Epochs    []EpochEntry
	HW        int64
	Unflushed int64
	producers map[int64]*producerState // looked up, never iterated
}

func fileName(tp protocol.TopicPartition) string {
	return tp.Topic + "-" + itoa(tp.Partition) + "/log"
}
func epochFileName(tp protocol.TopicPartition) string {
	return tp.Topic + "-" + itoa(tp.Partition) + "/leader-epoch-checkpoint"
}

// Open recovers a partition's log from disk, as Kafka does at startup:
// the records that survived, the epoch cache trimmed to the log end (a power
// loss may have taken records the checkpoint still names), and the producer
// state rebuilt by scanning the log.
func Open(disk *sim.Disk, tp protocol.TopicPartition, hwCheckpoint int64) *Log {
	l := &Log{
		TP:        tp,
		file:      disk.Open(fileName(tp)),
		epochFile: disk.Open(epochFileName(tp)),
		producers: map[int64]*producerState{},
	}
	for i := range l.file.Len() {
		b := l.file.Record(i).(*protocol.Batch)
		if b.BaseOffset != l.LEO() {
			panic(fmt.Sprintf("cluster: %v log holds offset %d at %d", tp, b.BaseOffset, l.LEO()))
		}
		l.pushBatch(b)
	}
	if n := l.epochFile.Len(); n > 0 {
		l.Epochs = slices.Clone(l.epochFile.Record(n - 1).([]EpochEntry))
	}
	l.trimEpochsFrom(l.LEO())
	l.HW = min(hwCheckpoint, l.LEO())
	l.rebuildProducers()
	return l
}

func (l *Log) LEO() int64 { return l.end }

// batchIndex returns the index in the file of the batch holding offset.
func (l *Log) batchIndex(offset int64) int {
	n := len(l.batches)
	// Most reads are near the log's end: followers and consumers that keep
	// up fetch at it, the high watermark trails it by a batch or two. Look
	// at the last few batches before searching.
	for i := n - 1; i >= max(0, n-8); i-- {
		if b := l.batches[i]; offset >= b.BaseOffset {
			if offset >= b.BaseOffset+int64(len(b.Payloads)) {
				return i + 1
			}
			return i
		}
	}
	lo, hi := 0, n
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if l.batches[mid].BaseOffset+int64(len(l.batches[mid].Payloads)) > offset {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

func (l *Log) batch(i int) *protocol.Batch { return l.batches[i] }

// LatestEpoch is the epoch of the newest cache entry, NoEpoch if none.
func (l *Log) LatestEpoch() int32 {
	if len(l.Epochs) == 0 {
		return protocol.NoEpoch
	}
	return l.Epochs[len(l.Epochs)-1].Epoch
}

// EpochStart is the start offset of the newest epoch (the LESO).
func (l *Log) EpochStart() int64 {
	if len(l.Epochs) == 0 {
		return 0
	}
	return l.Epochs[len(l.Epochs)-1].StartOffset
}

// EndOffsetForEpoch answers OffsetsForLeaderEpoch as Kafka's
// LeaderEpochFileCache.endOffsetFor does: the largest epoch at or below the
// requested one, and the offset where it ends (the start of the next epoch,
// or the log end for the latest). Undefined is (NoEpoch, -1).
func (l *Log) EndOffsetForEpoch(epoch int32) (int32, int64) {
	if epoch == protocol.NoEpoch || len(l.Epochs) == 0 {
		return protocol.NoEpoch, -1
	}
	if epoch == l.LatestEpoch() {
		return epoch, l.LEO()
	}
	higher := slices.IndexFunc(l.Epochs, func(e EpochEntry) bool { return e.Epoch > epoch })
	if higher < 0 {
		return protocol.NoEpoch, -1 // asked for an epoch newer than any here
	}
	if higher == 0 {
		return epoch, l.Epochs[0].StartOffset // older than any epoch here
	}
	return l.Epochs[higher-1].Epoch, l.Epochs[higher].StartOffset
}

// AssignEpoch records that epoch starts at offset, as a new leader does
// (with its LEO) and a follower does for the first record of a new epoch.
func (l *Log) AssignEpoch(epoch int32, offset int64) {
	if epoch <= l.LatestEpoch() {
		return
	}
	l.Epochs = append(l.Epochs, EpochEntry{epoch, offset})
	l.writeEpochs()
}

func (l *Log) writeEpochs() {
	l.epochFile.Truncate(0)
	l.epochFile.Append(slices.Clone(l.Epochs))
	l.epochFile.Sync()
}

func (l *Log) trimEpochsFrom(offset int64) {
	keep := len(l.Epochs)
	for keep > 0 && l.Epochs[keep-1].StartOffset >= offset {
		keep--
	}
	if keep < len(l.Epochs) {
		l.Epochs = l.Epochs[:keep]
		l.writeEpochs()
	}
}

// Append writes a batch at the log end; its offsets must continue the log.
// The log keeps b itself: nobody may change it afterwards.
func (l *Log) Append(b *protocol.Batch) {
	if b == nil || b.Len() == 0 {
		return
	}
	if b.BaseOffset != l.LEO() {
		panic(fmt.Sprintf("cluster: %v append at offset %d, log end is %d", l.TP, b.BaseOffset, l.LEO()))
	}
	l.AssignEpoch(b.Epoch, b.BaseOffset)
	l.pushBatch(b)
	l.trackProducer(b)
	l.file.Append(b)
	l.Unflushed += int64(b.Len())
}

// Truncate removes every record at or above offset, with the epoch cache
// and the producer state that depended on them. Told to truncate at or past
// its end, the log keeps its records but still drops the epochs that start
// there, as Kafka's UnifiedLog.truncateTo does: a broker that led and
// wrote nothing in its epoch holds an epoch entry at its log end that the
// new leader's log does not, and fetching with it as the last fetched
// epoch would be told to truncate again, for ever.
func (l *Log) Truncate(offset int64) {
	if offset >= l.LEO() {
		l.trimEpochsFrom(l.LEO())
		return
	}
	offset = max(offset, 0)
	// Cut the file at the batch holding offset, and write back the part of
	// that batch below it (synced again if the batch had been).
	i := l.batchIndex(offset)
	start := l.batches[i].BaseOffset
	head := l.batch(i).Slice(start, offset)
	wasSynced := i < l.file.Synced()
	l.file.Truncate(i)
	l.batches = slices.Clone(l.batches[:i])
	l.hashes = l.hashes[:i]
	if offset > start {
		l.file.Append(head)
		l.pushBatch(head)
		if wasSynced {
			l.file.Sync()
		}
	}
	l.end = offset
	l.trimEpochsFrom(offset)
	l.HW = min(l.HW, offset)
	l.Unflushed = min(l.Unflushed, offset)
	l.rebuildProducers()
}

// Delete removes the log's files: a replica the broker no longer hosts.
func (l *Log) Delete(disk *sim.Disk) {
	disk.Remove(fileName(l.TP))
	disk.Remove(epochFileName(l.TP))
}

// Close syncs everything, as LogManager.shutdown flushes every log before
// writing the clean-shutdown marker.
func (l *Log) Close() {
	l.file.Sync()
	l.epochFile.Sync()
	l.Unflushed = 0
}

// Flush syncs the log file (fsync): what it holds survives a power loss.
func (l *Log) Flush() {
	if l.Unflushed > 0 {
		l.file.Sync()
		l.Unflushed = 0
	}
}

// Read returns the batches holding records [from, to), at most max
// records, cutting the first and last where they reach beyond: what a
// consumer reads.
func (l *Log) Read(from, to int64, max int) []*protocol.Batch {
	return l.read(from, min(to, from+int64(max)), max, false)
}

// ReadBatches returns whole batches from the one holding from up to to, as
// many as fit in max records but at least one: a follower's fetch never
// gets part of a batch (Kafka's fetch returns whole record batches, the
// first even beyond replica.fetch.max.bytes so that a fetch always makes
// progress), so its producer state never holds half a batch's sequences.
// Only from (a fetch offset inside a batch) or to (below the log end) can
// cut one.
func (l *Log) ReadBatches(from, to int64, max int) []*protocol.Batch {
	return l.read(from, to, max, true)
}

// read is Read and ReadBatches: they differ in where they stop.
func (l *Log) read(from, to int64, max int, whole bool) []*protocol.Batch {
	to = min(to, l.LEO())
	if from >= to {
		return nil
	}
	i := l.batchIndex(from)
	j := l.batchIndex(to-1) + 1
	if whole {
		n := l.batches[i].End() - from
		for j = i + 1; j < len(l.batches) && l.batches[j].End() <= to && n+int64(l.batches[j].Len()) <= int64(max); j++ {
			n += int64(l.batches[j].Len())
		}
	}
	window := l.batches[i:j:j]
	if window[0].BaseOffset == from && window[len(window)-1].End() <= to {
		return window // whole batches: no copy
	}
	out := slices.Clone(window)
	out[0] = out[0].Slice(from, to)
	out[len(out)-1] = out[len(out)-1].Slice(from, to)
	return out
}

// CheckSequence decides what to do with an idempotent batch, as Kafka's
// ProducerAppendInfo checks it: a duplicate of a batch the log remembers
// is answered with its original offset (dupOffset); the next sequence, a
// new epoch's sequence 0 or an unknown producer's any sequence is
// appended (but on a log never written, only sequence 0); anything else
// (a gap, a duplicate older than what the log remembers) is
// OUT_OF_ORDER_SEQUENCE_NUMBER.
func (l *Log) CheckSequence(pid int64, epoch int16, base int32, n int) (dupOffset int64, err protocol.ErrorCode) {
	if pid < 0 {
		return -1, protocol.None
	}
	p := l.producers[pid]
	last := base + int32(n) - 1
	switch {
	case p == nil && base != 0 && l.LEO() == 0:
		// KAFKA-15591 (Kafka trunk, 4.5): a log that has never held a
		// record takes a new producer's first batch only at sequence 0.
		// Before it, a batch that overtook a failed first batch (the
		// leader learning its partition in between) was appended, and
		// the first batch's retries were out of order until
		// delivery.timeout.ms: its records lost (KAFKA-14359).
		return -1, protocol.OutOfOrderSequenceNumber
	case p == nil:
		// KIP-360: a producer id the log does not know (never seen here,
		// or its state expired or truncated away) starts at any sequence.
		return -1, protocol.None
	case epoch > p.epoch:
		if base != 0 {
			return -1, protocol.OutOfOrderSequenceNumber
		}
		return -1, protocol.None
	case epoch < p.epoch:
		return -1, protocol.OutOfOrderSequenceNumber // Kafka: INVALID_PRODUCER_EPOCH; fatal either way
	}
	for _, r := range p.runs {
		if base >= r.firstSeq && last <= r.lastSeq {
			return r.firstOffset + int64(base-r.firstSeq), protocol.None
		}
	}
	if base != p.lastSeq()+1 {
		return -1, protocol.OutOfOrderSequenceNumber
	}
	return -1, protocol.None
}

func (l *Log) trackProducer(b *protocol.Batch) {
	if b.ProducerID < 0 {
		return
	}
	p := l.producers[b.ProducerID]
	if p == nil || b.ProducerEpoch > p.epoch {
		p = &producerState{epoch: b.ProducerEpoch}
		l.producers[b.ProducerID] = p
	}
	last := b.BaseSequence + int32(b.Len()) - 1
	if n := len(p.runs); n > 0 {
		run := &p.runs[n-1]
		if b.BaseSequence == run.lastSeq+1 && b.BaseOffset == run.firstOffset+int64(run.lastSeq-run.firstSeq)+1 {
			run.lastSeq = last
			return
		}
	}
	p.runs = append(p.runs, producerRun{firstSeq: b.BaseSequence, lastSeq: last, firstOffset: b.BaseOffset})
	if len(p.runs) > maxProducerRuns {
		p.runs = slices.Delete(p.runs, 0, 1)
	}
}

func (l *Log) rebuildProducers() {
	clear(l.producers)
	for i := range l.file.Len() {
		l.trackProducer(l.batch(i))
	}
}

func itoa(n int32) string { return fmt.Sprint(n) }

// pushBatch indexes a batch written at the log end.
func (l *Log) pushBatch(b *protocol.Batch) {
	l.hashes = append(l.hashes, l.chainBatch(len(l.batches), b, b.End()))
	l.batches = append(l.batches, b)
	l.end = b.End()
}

// chainBatch chains batch b's records below end onto the hash of every
// batch before i.
func (l *Log) chainBatch(i int, b *protocol.Batch, end int64) uint64 {
	var h uint64
	if i > 0 {
		h = l.hashes[i-1]
	}
	for j := range int(end - b.BaseOffset) {
		h = chain(h, b.Record(j))
	}
	return h
}

// PrefixHash returns the hash of every record below offset end.
func (l *Log) PrefixHash(end int64) uint64 {
	if end <= 0 {
		return 0
	}
	i := l.batchIndex(end - 1)
	if b := l.batch(i); end < b.End() {
		return l.chainBatch(i, b, end)
	}
	return l.hashes[i]
}

// chain extends a prefix hash by one record.
func chain(h uint64, r protocol.Record) uint64 {
	for _, v := range [...]uint64{uint64(r.Offset), uint64(r.Epoch), uint64(r.ProducerID), uint64(r.Sequence), uint64(r.Payload)} {
		h ^= v
		h *= 0xbf58476d1ce4e5b9
		h ^= h >> 31
	}
	return h
}

// ReadLog returns the records of tp's log on a broker's disk: what the
// broker would recover, whether it is up or not.
func ReadLog(disk *sim.Disk, tp protocol.TopicPartition) protocol.Records {
	name := fileName(tp)
	if !disk.Exists(name) {
		return protocol.Records{}
	}
	f := disk.Open(name)
	batches := make([]*protocol.Batch, f.Len())
	for i := range batches {
		batches[i] = f.Record(i).(*protocol.Batch)
	}
	return protocol.RecordsOfBatches(batches)
}

// MatchingEnd is how far two logs are held to agree below end under Raft's
// LogMatching: up to the last offset before end at which both hold a record
// of the same leader epoch (logs that agree there agree on all before it).
// Where their epochs differ all the way to end — a replica back from a total
// power loss, holding records its new leader lost and rewrote under a newer
// epoch, before it truncates — nothing is compared: that is loss, which
// the durability checker counts, not a divergence of the protocol.
func MatchingEnd(a, b *Log, end int64) int64 {
	var starts []int64
	for _, l := range []*Log{a, b} {
		for _, e := range l.Epochs {
			if e.StartOffset < end {
				starts = append(starts, e.StartOffset)
			}
		}
	}
	starts = append(starts, 0)
	slices.Sort(starts)
	starts = slices.Compact(starts)
	for i := len(starts) - 1; i >= 0; i-- {
		if a.epochAt(starts[i]) == b.epochAt(starts[i]) {
			if i+1 < len(starts) {
				return starts[i+1]
			}
			return end
		}
	}
	return 0
}

// epochAt is the leader epoch of the record at offset, NoEpoch before the
// first epoch the cache knows.
func (l *Log) epochAt(offset int64) int32 {
	i, found := slices.BinarySearchFunc(l.Epochs, offset, func(e EpochEntry, o int64) int { return cmp.Compare(e.StartOffset, o) })
	if !found {
		i--
	}
	if i < 0 {
		return protocol.NoEpoch
	}
	return l.Epochs[i].Epoch
}
