package protocol

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func tableOf(n int) PartitionTable {
	states := make([]PartitionState, n)
	for i := range states {
		states[i] = PartitionState{TP: TopicPartition{Topic: "orders", Partition: int32(i)}, LeaderEpoch: 1}
	}
	return TableOf(states...)
}

// TestMetadataDeltaCopiesOnlyChangedPartitions: a shared copy of the
// table costs its chunk index, a change to either copies one chunk, and
// neither sees the other's change (issue 28; Kafka's MetadataImage over
// persistent collections).
func TestMetadataDeltaCopiesOnlyChangedPartitions(t *testing.T) {
	live := tableOf(10_000)
	logged := live.Share()
	p := live.At(5000)
	p.LeaderEpoch = 2
	live.Set(5000, p)
	assert.Equal(t, int32(2), live.At(5000).LeaderEpoch)
	assert.Equal(t, int32(1), logged.At(5000).LeaderEpoch, "the shared copy keeps its partitions")
	assert.Same(t, live.chunks[0], logged.chunks[0], "unchanged chunks stay shared")
	assert.NotSame(t, live.chunks[5000/partitionChunkSize], logged.chunks[5000/partitionChunkSize])

	// A broker going from logged to live looks at the one partition that
	// changed, not the table (Kafka's MetadataDelta).
	var walked []int
	for i := range live.ChangedSince(&logged) {
		walked = append(walked, i)
	}
	assert.Equal(t, []int{5000}, walked)
	var zero PartitionTable
	n := 0
	for range live.ChangedSince(&zero) {
		n++
	}
	assert.Equal(t, 10_000, n, "from no image, every partition")

	i, ok := live.Find(TopicPartition{Topic: "orders", Partition: 4321})
	require.True(t, ok)
	assert.Equal(t, 4321, i)
	_, ok = live.Find(TopicPartition{Topic: "orders", Partition: 10_000})
	assert.False(t, ok)

	// A commit: share, then change one partition. Measured in bytes, it
	// is the chunk index and one chunk, not the table.
	bytes := testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			logged = live.Share()
			live.Set(7, p)
		}
	}).AllocedBytesPerOp()
	whole := int64(10_000) * int64(sizeofPartitionState())
	assert.Less(t, bytes, whole/20, "a commit copies %d bytes; the whole table is %d", bytes, whole)
}

func sizeofPartitionState() uintptr { return unsafe.Sizeof(PartitionState{}) }
