package client

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tideline-sim/tideline/cluster/config"
	"github.com/tideline-sim/tideline/cluster/internal/nodetest"
	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/cluster/node"
	"github.com/tideline-sim/tideline/cluster/protocol"
	"github.com/tideline-sim/tideline/sim"
)

// threePartitions is a producer of orders/0-2, led by brokers 0-2, whose
// connections never open: every record stays in its partition's queue.
func threePartitions(t *testing.T, change func(*config.ProducerConfig)) *Producer {
	env := nodetest.NewEnv()
	cfg := config.DefaultProducerConfig("orders")
	cfg.Idempotence, cfg.PartitionsToProduce = false, []int32{0, 1, 2}
	cfg.BatchSize = 4 * cfg.RecordSize
	change(&cfg)
	p := NewProducer(0, cfg, node.Directory{Controller: 3, Brokers: []sim.NodeID{0, 1, 2}}, journal.HistoryOf(), &journal.ProducerMetrics{})
	p.Start(env)
	var parts []protocol.PartitionState
	for i := range int32(3) {
		parts = append(parts, protocol.PartitionState{TP: protocol.TopicPartition{Topic: "orders", Partition: i}, Leader: protocol.BrokerID(i)})
	}
	p.Receive(env, 1, protocol.MetadataResponse{RequestID: p.meta.request, Image: protocol.Image{Version: 1, Partitions: protocol.TableOf(parts...)}})
	require.Len(t, p.parts, 3)
	return p
}

func queued(p *Producer) []int {
	return []int{len(p.parts[0].queue), len(p.parts[1].queue), len(p.parts[2].queue)}
}

// TestStickyPartitionSwitchesAfterBatchSize: Kafka's built-in partitioner
// (KIP-794) sends keyless records to one partition until batch.size bytes
// went to it, then draws another.
func TestStickyPartitionSwitchesAfterBatchSize(t *testing.T) {
	p := threePartitions(t, func(*config.ProducerConfig) {})
	first := p.partitionFor()
	for range 4 {
		require.True(t, p.produceOne())
	}
	assert.Len(t, first.queue, 4, "a batch.size of records to one partition")
	assert.Zero(t, p.sticky.produced, "then a new partition is drawn (which may be the same one)")

	rr := threePartitions(t, func(c *config.ProducerConfig) { c.RoundRobin = true })
	for range 4 {
		rr.produceOne()
	}
	assert.Equal(t, []int{2, 1, 1}, queued(rr), "RoundRobinPartitioner: each record to the next partition")
}

// TestStickySwitchWaitsForAFullBatch: a switch due while the partition's
// newest batch is incomplete waits for it to fill, up to twice batch.size
// (BuiltInPartitioner.updatePartitionInfo's enableSwitch).
func TestStickySwitchWaitsForAFullBatch(t *testing.T) {
	p := threePartitions(t, func(*config.ProducerConfig) {})
	part := p.partitionFor()
	part.queue = append(part.queue, pendingRecord{payload: -1}) // an incomplete batch before the sticky run
	p.activate(part)
	for range 4 {
		p.produceOne()
	}
	assert.Equal(t, 4*p.cfg.RecordSize, p.sticky.produced, "batch.size bytes produced, but the newest batch holds 1 of 4: no switch")
	for range 3 {
		p.produceOne()
	}
	assert.Len(t, part.queue, 8)
	assert.Zero(t, p.sticky.produced, "switched once the batch filled")
}

// TestAdaptivePartitioningFavoursShortQueues: with queues of unequal
// length a partition is drawn with weight (longest + 1 − its queue)
// (updatePartitionLoadStats): here 1, 3 and 3 of 7, so the long queue is
// drawn about one time in seven; without adaptive partitioning, one in
// three.
func TestAdaptivePartitioningFavoursShortQueues(t *testing.T) {
	for _, adaptive := range []bool{true, false} {
		p := threePartitions(t, func(c *config.ProducerConfig) { c.Adaptive = adaptive })
		for range 8 {
			p.parts[0].queue = append(p.parts[0].queue, pendingRecord{}) // two batches queued
		}
		p.activate(p.parts[0])
		long := 0
		const draws = 7000
		for range draws {
			p.switchPartition()
			if p.sticky.part == p.parts[0] {
				long++
			}
		}
		want := 1000
		if !adaptive {
			want = draws / 3
		}
		assert.InDelta(t, want, long, float64(want)/5, "adaptive=%v", adaptive)
	}
}
