package controller

import (
	"fmt"
	"slices"

	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/cluster/protocol"
)

// Partition reassignment (KIP-455, kafka-reassign-partitions.sh), as
// KRaft's ReplicationControlManager and PartitionReassignmentReplicas do
// it: the replicas become the target followed by the replicas it drops;
// the new ones join as followers, copy the log from its start and enter
// the ISR through the leader's AlterPartition once caught up, like any
// follower; when every target replica is in the ISR the reassignment
// completes — the dropped replicas leave the replicas and the ISR, and if
// the leader was one of them the first target replica in the ISR leads.
// Rules: anchors/operations-and-clients.md §3.

// Reassign starts moving tp to target (its order is the new assignment,
// target[0] the preferred leader). It reports whether anything changed:
// the same replicas again, or an unknown partition, change nothing.
func (c *Controller) Reassign(tp protocol.TopicPartition, target []protocol.BrokerID) bool {
	i, ok := c.partitionIndex(tp)
	if !ok {
		return false
	}
	p := c.st.Partitions.At(i)
	current := p.Target() // a new target replaces one in progress
	if slices.Equal(current, target) {
		return false
	}
	removing := difference(p.Replicas, target)
	adding := difference(target, p.Replicas)
	p.Replicas = append(slices.Clone(target), removing...)
	p.Adding, p.Removing = adding, removing
	p.PartitionEpoch++
	c.partitionEvent(journal.EvReassignStarted, p, p.Leader, fmt.Sprintf("replicas %v -> target %v: adding %v, removing %v", current, target, adding, removing))
	c.completeReassignment(&p)
	c.st.Partitions.Set(i, p)
	c.commit()
	return true
}

// completeReassignment finishes p's reassignment once every target replica
// is in the ISR (PartitionReassignmentReplicas.maybeCompleteReassignment):
// the removed replicas leave the replicas and the ISR; a leader among them
// hands over to the first target replica in the ISR that is active, with a
// new leader epoch, as does a replica set that lost members.
func (c *Controller) completeReassignment(p *protocol.PartitionState) {
	if len(p.Adding) == 0 && len(p.Removing) == 0 {
		return
	}
	keep := func(r protocol.BrokerID) bool { return !slices.Contains(p.Removing, r) }
	isr := slices.DeleteFunc(slices.Clone(p.ISR), func(r protocol.BrokerID) bool { return !keep(r) })
	replicas := slices.DeleteFunc(slices.Clone(p.Replicas), func(r protocol.BrokerID) bool { return !keep(r) })
	if len(isr) == 0 || len(replicas) == 0 || slices.ContainsFunc(replicas, func(r protocol.BrokerID) bool { return !slices.Contains(isr, r) }) {
		return
	}
	removed := p.Removing
	p.Replicas, p.Adding, p.Removing = replicas, nil, nil
	c.setISR(p, isr)
	p.ELR = slices.DeleteFunc(p.ELR, func(r protocol.BrokerID) bool { return slices.Contains(removed, r) })
	p.PartitionEpoch++
	detail := fmt.Sprintf("reassignment complete: replicas %v, isr %v (removed %v)", p.Replicas, p.ISR, removed)
	if slices.Contains(removed, p.Leader) {
		c.electInto(p, journal.EvElected)
	} else if len(removed) > 0 {
		p.LeaderEpoch++ // the replica set shrank: triggerLeaderEpochBumpForReplicaReassignmentIfNeeded
	}
	c.partitionEvent(journal.EvReassignCompleted, *p, p.Leader, detail)
}

// difference is a's members not in b, sorted (a TreeSet, as Kafka's).
func difference(a, b []protocol.BrokerID) []protocol.BrokerID {
	var out []protocol.BrokerID
	for _, r := range a {
		if !slices.Contains(b, r) {
			out = append(out, r)
		}
	}
	slices.Sort(out)
	return out
}
