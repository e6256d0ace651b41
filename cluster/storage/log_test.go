package storage

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tideline-sim/tideline/cluster/protocol"
	"github.com/tideline-sim/tideline/sim"
)

var orders0 = protocol.TopicPartition{Topic: "orders", Partition: 0}

// logWithEpochs holds offsets 0-4 at epoch 1, 5-6 at epoch 3 and 7-9 at
// epoch 4 (epoch 2 led and wrote nothing).
func logWithEpochs() *Log {
	l := Open(sim.NewDisk(), orders0, 0)
	for off, epoch := range []int32{1, 1, 1, 1, 1, 3, 3, 4, 4, 4} {
		l.Append(&protocol.Batch{BaseOffset: int64(off), ProducerID: -1, BaseSequence: -1, Payloads: []int64{int64(off)}, Epoch: epoch})
	}
	return l
}

// OffsetsForLeaderEpoch as Kafka's LeaderEpochFileCache.endOffsetFor
// answers it (KIP-101, KIP-279): the largest epoch at or below the one
// asked for, and where it ends.
func TestEndOffsetForEpoch(t *testing.T) {
	l := logWithEpochs()
	for _, tt := range []struct {
		asked, epoch int32
		end          int64
	}{
		{1, 1, 5},
		{2, 1, 5}, // no epoch 2 here: epoch 1, which ends where 3 starts
		{3, 3, 7},
		{4, 4, 10}, // the latest ends at the log end
		{0, 0, 0},  // older than any: where the first starts
		{5, protocol.NoEpoch, -1},
		{protocol.NoEpoch, protocol.NoEpoch, -1},
	} {
		epoch, end := l.EndOffsetForEpoch(tt.asked)
		assert.Equal(t, tt.epoch, epoch, "epoch asked %d", tt.asked)
		assert.Equal(t, tt.end, end, "end for epoch asked %d", tt.asked)
	}
}

// A truncation takes the epoch cache with it: a follower cut back into
// epoch 3 no longer claims epoch 4, and its prefix hash is the one it had
// at that length.
func TestTruncateTrimsEpochs(t *testing.T) {
	l := logWithEpochs()
	h6 := l.PrefixHash(6)
	l.Truncate(6)
	assert.Equal(t, int64(6), l.LEO())
	assert.Equal(t, int32(3), l.LatestEpoch())
	assert.Equal(t, int64(5), l.EpochStart())
	assert.Equal(t, h6, l.PrefixHash(6))
}

// UnifiedLog.truncateTo at or past the log end removes no record but still
// drops the epochs that start there: a broker that led epoch 5 and wrote
// nothing in it must not keep claiming epoch 5 once the new leader says
// its last epoch ends at this log's end (else it fetches with epoch 5, is
// told to truncate, and loops).
func TestTruncateAtLogEndDropsEmptyEpoch(t *testing.T) {
	l := logWithEpochs()
	l.AssignEpoch(5, l.LEO()) // led epoch 5, wrote nothing
	assert.Equal(t, int32(5), l.LatestEpoch())
	l.Truncate(l.LEO())
	assert.Equal(t, int64(10), l.LEO(), "no record removed")
	assert.Equal(t, int32(4), l.LatestEpoch(), "the empty epoch is gone")
}

// Raft's LogMatching holds logs to agree up to their last common (offset,
// epoch): past a point where their epochs part, nothing is compared.
func TestMatchingEndStopsWhereEpochsPart(t *testing.T) {
	log := func(epochs ...EpochEntry) *Log { return &Log{Epochs: epochs} }
	a := log(EpochEntry{0, 0}, EpochEntry{1, 50})
	assert.Equal(t, int64(100), MatchingEnd(a, log(EpochEntry{0, 0}, EpochEntry{1, 50}), 100), "the same epochs throughout")
	assert.Equal(t, int64(50), MatchingEnd(a, log(EpochEntry{0, 0}, EpochEntry{2, 50}), 100), "epoch 1 against epoch 2 from offset 50")
	assert.Equal(t, int64(100), MatchingEnd(a, log(EpochEntry{0, 0}, EpochEntry{2, 40}, EpochEntry{1, 50}), 100), "epoch 1 on both again from 50")
	assert.Equal(t, int64(0), MatchingEnd(log(EpochEntry{3, 0}), log(EpochEntry{4, 0}), 100), "nothing in common")
}

// TestDuplicateBatchAcknowledgedWithOriginalOffset: the log remembers a
// producer's last batches; a retried one is answered with the offset it
// was first written at, a gap is OUT_OF_ORDER_SEQUENCE_NUMBER, a new epoch
// starts at sequence 0, and an unknown producer id at any sequence
// (KIP-360).
func TestDuplicateBatchAcknowledgedWithOriginalOffset(t *testing.T) {
	l := Open(sim.NewDisk(), orders0, 0)
	offset := int64(0)
	for seq := int32(0); seq < 12; seq += 3 { // four batches of three
		dup, err := l.CheckSequence(7, 0, seq, 3)
		assert.Equal(t, int64(-1), dup)
		assert.Equal(t, protocol.None, err)
		l.Append(&protocol.Batch{BaseOffset: offset, ProducerID: 7, BaseSequence: seq, Payloads: []int64{1, 2, 3}})
		l.Append(&protocol.Batch{BaseOffset: offset + 3, ProducerID: -1, BaseSequence: -1, Payloads: []int64{9}}) // another writer between
		offset += 4
	}
	dup, err := l.CheckSequence(7, 0, 6, 3)
	assert.Equal(t, protocol.None, err)
	assert.Equal(t, int64(8), dup, "the third batch, at its original offset")
	_, err = l.CheckSequence(7, 0, 15, 3)
	assert.Equal(t, protocol.OutOfOrderSequenceNumber, err, "a gap: 12 expected")
	_, err = l.CheckSequence(7, 1, 4, 3)
	assert.Equal(t, protocol.OutOfOrderSequenceNumber, err, "a new epoch starts at 0")
	_, err = l.CheckSequence(7, 1, 0, 3)
	assert.Equal(t, protocol.None, err)
	dup, err = l.CheckSequence(8, 0, 40, 3)
	assert.Equal(t, protocol.None, err, "KIP-360: an unknown producer id at any sequence")
	assert.Equal(t, int64(-1), dup)
}

// TestFirstSequenceMustBeZeroOnNeverWrittenLog: KAFKA-15591. A log that
// has never held a record takes a new producer only at sequence 0, so a
// batch that overtook the producer's failed first batch is refused rather
// than appended ahead of it; once the log holds records an unknown
// producer may start anywhere again (KIP-360).
func TestFirstSequenceMustBeZeroOnNeverWrittenLog(t *testing.T) {
	l := Open(sim.NewDisk(), orders0, 0)
	_, err := l.CheckSequence(7, 0, 16, 1)
	assert.Equal(t, protocol.OutOfOrderSequenceNumber, err, "sequence 16 first, on a log never written")
	_, err = l.CheckSequence(7, 0, 0, 16)
	assert.Equal(t, protocol.None, err)
	l.Append(&protocol.Batch{BaseOffset: 0, ProducerID: 9, BaseSequence: 0, Payloads: []int64{1}})
	_, err = l.CheckSequence(7, 0, 16, 1)
	assert.Equal(t, protocol.None, err, "the log holds a record: KIP-360's any sequence")
}

// TestReadBatchesNeverSplitsABatch: a follower's fetch gets whole batches,
// at least one beyond its limit — cut, it would hold half a batch's
// sequences and refuse the producer's retry of the whole as out of order,
// and the producer's epoch bump would write the other half twice.
func TestReadBatchesNeverSplitsABatch(t *testing.T) {
	l := Open(sim.NewDisk(), orders0, 0)
	l.Append(&protocol.Batch{BaseOffset: 0, ProducerID: 7, BaseSequence: 0, Payloads: []int64{1, 2, 3, 4}})
	l.Append(&protocol.Batch{BaseOffset: 4, ProducerID: 7, BaseSequence: 4, Payloads: []int64{5, 6, 7, 8}})
	got := l.ReadBatches(0, l.LEO(), 6)
	require.Len(t, got, 1, "the second batch does not fit whole")
	assert.Equal(t, 4, got[0].Len())
	got = l.ReadBatches(4, l.LEO(), 1)
	require.Len(t, got, 1)
	assert.Equal(t, 4, got[0].Len(), "one whole batch even past the limit")
	assert.Len(t, l.Read(0, l.LEO(), 6)[1].Payloads, 2, "a consumer's Read may cut")
}
