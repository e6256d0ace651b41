package broker

import (
	"math"

	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/cluster/protocol"
	"github.com/tideline-sim/tideline/sim"
)

// The broker's side of its group coordinator (cluster/group): it finds
// coordinators for clients, hands the coordinator its group requests, and
// is the coordinator's Host — its __consumer_offsets replicas are the
// coordinator's storage.

// Append writes group records as leader of an offsets partition, with
// acks=1 as Kafka's CoordinatorPartitionWriter: no min ISR check at the
// append; the high watermark that answers the write waits for the ISR.
func (b *Broker) Append(partition int32, records []protocol.GroupRecord) (int64, protocol.ErrorCode) {
	r := b.hosted(protocol.TopicPartition{Topic: protocol.OffsetsTopic, Partition: partition})
	if r == nil || r.role != roleLeader {
		return -1, protocol.NotLeaderOrFollower
	}
	payloads := make([]int64, len(records))
	for i := range payloads {
		payloads[i] = -1
	}
	batch := b.batches.One()
	*batch = protocol.Batch{BaseOffset: r.log.LEO(), ProducerID: -1, Payloads: payloads, BaseSequence: -1, Epoch: r.state.LeaderEpoch, Group: records}
	r.log.Append(batch)
	if r.log.Unflushed >= r.flushMessages {
		r.log.Flush()
	}
	b.wakeParked(r)
	b.maybeIncrementHW(r)
	return batch.End(), protocol.None
}

// Event records a coordinator's event as the broker's.
func (b *Broker) Event(e journal.Event) {
	e.Broker = b.id
	b.event(e)
}

// loadGroups makes the broker coordinator of an offsets partition it now
// leads, from what its log holds.
func (b *Broker) loadGroups(r *replica) {
	var records []protocol.GroupRecord
	for _, batch := range r.log.Read(0, r.log.LEO(), math.MaxInt) {
		records = append(records, batch.Group...)
	}
	b.coord.Load(r.tp.Partition, r.state.LeaderEpoch, records)
}

// findCoordinator names the leader of the group's offsets partition
// (KafkaApis.getCoordinator).
func (b *Broker) findCoordinator(from sim.NodeID, m protocol.FindCoordinatorRequest) {
	resp := protocol.FindCoordinatorResponse{RequestID: m.RequestID, Err: protocol.CoordinatorNotAvailable, Coordinator: protocol.NoLeader}
	if n := b.cfg.Group.OffsetsTopicPartitions; n > 0 {
		tp := protocol.TopicPartition{Topic: protocol.OffsetsTopic, Partition: protocol.CoordinatorPartition(m.Group, n)}
		if st, ok := b.image.Find(tp); ok && st.Leader != protocol.NoLeader {
			resp.Err, resp.Coordinator = protocol.None, st.Leader
		}
	}
	b.env.Send(from, resp)
}

// listOffsets answers a consumer's ListOffsets as the partition's leader:
// the latest offset a consumer may read is the high watermark.
func (b *Broker) listOffsets(from sim.NodeID, m protocol.ListOffsetsRequest) {
	resp := protocol.ListOffsetsResponse{RequestID: m.RequestID, TP: m.TP, Offset: -1, LeaderEpoch: protocol.NoEpoch}
	r, err := b.leaderAt(m.TP, m.CurrentLeaderEpoch)
	switch {
	case err != protocol.None:
		resp.Err = err
	case m.Timestamp == protocol.EarliestTimestamp:
		resp.Offset, resp.LeaderEpoch = 0, r.state.LeaderEpoch
	default:
		resp.Offset, resp.LeaderEpoch = r.log.HW, r.state.LeaderEpoch
	}
	b.env.Send(from, resp)
}

// offsetsForLeaderEpoch answers a consumer validating its position
// (KIP-320), as the partition's leader.
func (b *Broker) offsetsForLeaderEpoch(from sim.NodeID, m protocol.OffsetsForLeaderEpochRequest) {
	resp := protocol.OffsetsForLeaderEpochResponse{RequestID: m.RequestID, TP: m.TP, LeaderEpoch: protocol.NoEpoch, EndOffset: -1}
	r, err := b.leaderAt(m.TP, m.CurrentLeaderEpoch)
	switch {
	case err != protocol.None:
		resp.Err = err
	default:
		resp.LeaderEpoch, resp.EndOffset = r.log.EndOffsetForEpoch(m.LeaderEpoch)
	}
	b.env.Send(from, resp)
}

// leaderAt is this broker's replica of tp if it leads it at the client's
// leader epoch (KIP-320 fencing; NoEpoch skips the check), or the error a
// consumer's request gets.
func (b *Broker) leaderAt(tp protocol.TopicPartition, epoch int32) (*replica, protocol.ErrorCode) {
	r := b.hosted(tp)
	switch {
	case r == nil:
		return nil, protocol.UnknownTopicOrPartition
	case r.role != roleLeader:
		return nil, protocol.NotLeaderOrFollower
	case epoch != protocol.NoEpoch && epoch < r.state.LeaderEpoch:
		return nil, protocol.FencedLeaderEpoch
	case epoch > r.state.LeaderEpoch:
		return nil, protocol.UnknownLeaderEpoch
	}
	return r, protocol.None
}
