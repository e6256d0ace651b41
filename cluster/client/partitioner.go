package client

import (
	"cmp"
	"slices"

	"github.com/tideline-sim/tideline/cluster/protocol"
)

// Where the application's records go. tideline's records have no key, so
// Kafka's built-in partitioner (BuiltInPartitioner, KIP-794, the default
// since 3.3) sends them to one partition — the sticky partition — until
// batch.size bytes went to it, and then to another, drawn at random among
// the partitions with a known leader; with adaptive partitioning (the
// default) a partition's chance shrinks with the batches queued for it,
// so a slow or unreachable broker gets less. partitioner.class
// RoundRobinPartitioner sends each record to the next partition instead.

// stickyPartition is the built-in partitioner's current partition.
type stickyPartition struct {
	part     *producerPartition // nil before the first record
	produced int64              // bytes sent to it since it was chosen
}

// partitionFor picks the next record's partition.
func (p *Producer) partitionFor() *producerPartition {
	if p.cfg.RoundRobin {
		part := p.parts[p.turn%len(p.parts)]
		p.turn++
		return part
	}
	s := &p.sticky
	// A switch held back while the partition had an incomplete batch
	// happens once its batches are full (RecordAccumulator.partitionChanged).
	if s.part == nil || s.produced >= p.cfg.BatchSize && p.allBatchesFull(s.part) {
		p.switchPartition()
	}
	return s.part
}

// appended counts a record sent to the sticky partition and switches once
// batch.size bytes went to it (BuiltInPartitioner.updatePartitionInfo):
// only when its batches are full, so as not to leave a fractional batch
// behind, or at twice batch.size whatever they are.
func (p *Producer) appended(part *producerPartition) {
	s := &p.sticky
	if p.cfg.RoundRobin || part != s.part {
		return
	}
	s.produced += p.cfg.RecordSize
	if s.produced >= p.cfg.BatchSize && p.allBatchesFull(part) || s.produced >= 2*p.cfg.BatchSize {
		p.switchPartition()
	}
}

// allBatchesFull reports whether part's newest batch is full (or it has
// none): records wait unbatched here, a batch.size of them to a batch.
func (p *Producer) allBatchesFull(part *producerPartition) bool {
	return len(part.queue)%p.batchRecords() == 0
}

// switchPartition draws the next sticky partition
// (BuiltInPartitioner.nextPartition): among the partitions whose leader is
// known, uniformly — or, with adaptive partitioning and queues of unequal
// length, with weight (longest queue + 1 − its queue), the cumulative
// frequency table of updatePartitionLoadStats. Kafka takes the queue
// lengths from the sender's last ready check; tideline from now.
func (p *Producer) switchPartition() {
	p.sticky.produced = 0
	available := p.availableParts()
	if len(available) == 0 {
		p.sticky.part = p.parts[p.env.Rand().IntN(len(p.parts))]
		return
	}
	if p.cfg.Adaptive && len(p.parts) > 1 {
		// Only listed partitions have a queue (activate): the weights of
		// the rest are all longest + 1, so the draw walks the listed ones
		// and steps over the stretches between them.
		longest, equal, listed, queued := 0, true, 0, 0
		for _, i := range p.active {
			part := p.parts[i]
			if !p.hasLeader(part) {
				continue
			}
			q := p.queuedBatches(part)
			if listed > 0 && q != longest {
				equal = false
			}
			longest, listed, queued = max(longest, q), listed+1, queued+q
		}
		if listed < len(available) && longest > 0 {
			equal = false // the unlisted ones queue nothing
		}
		if !equal || len(available) < len(p.parts) {
			w := longest + 1 // an unlisted partition's weight
			r := p.env.Rand().IntN(len(available)*w - queued)
			pos := 0 // available partitions stepped over
			for _, i := range p.active {
				part := p.parts[i]
				if !p.hasLeader(part) {
					continue
				}
				at, _ := slices.BinarySearchFunc(available, part.index, func(a *producerPartition, i int32) int { return cmp.Compare(a.index, i) })
				if r < (at-pos)*w {
					p.sticky.part = available[pos+r/w]
					return
				}
				r -= (at - pos) * w
				if r -= w - p.queuedBatches(part); r < 0 {
					p.sticky.part = part
					return
				}
				pos = at + 1
			}
			p.sticky.part = available[pos+r/w]
			return
		}
	}
	p.sticky.part = available[p.env.Rand().IntN(len(available))]
}

// availableParts returns the partitions whose leader is known, in order,
// rebuilt only when the metadata changed.
func (p *Producer) availableParts() []*producerPartition {
	if p.availableAt != p.meta.changes+1 {
		p.available = p.available[:0]
		for _, part := range p.parts {
			if p.hasLeader(part) {
				p.available = append(p.available, part)
			}
		}
		p.availableAt = p.meta.changes + 1
	}
	return p.available
}

func (p *Producer) hasLeader(part *producerPartition) bool {
	leader, _ := p.meta.leader(part.tp.Partition)
	return leader != protocol.NoLeader
}

// queuedBatches is the length of part's queue in batches, as Kafka's deque
// holds them: the retried ones and the records waiting, a batch.size a batch.
func (p *Producer) queuedBatches(part *producerPartition) int {
	n := p.batchRecords()
	return len(part.retries) + (len(part.queue)+n-1)/n
}
