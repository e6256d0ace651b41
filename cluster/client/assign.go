package client

import (
	"cmp"
	"slices"

	"github.com/tideline-sim/tideline/cluster/config"
	"github.com/tideline-sim/tideline/cluster/protocol"
)

// The assignors a group leader runs client-side, as Kafka's consumer does:
// range (RangeAssignor) and cooperative-sticky (CooperativeStickyAssignor).
// Every member subscribes to one topic here.

// assign computes the leader's assignment of topic's partitions.
func assign(name string, members []protocol.JoinedMember, topic string, partitions int) []protocol.MemberAssignment {
	sorted := slices.Clone(members)
	// AbstractPartitionAssignor.MemberInfo.compareTo: static members by
	// group.instance.id first, then member ids.
	slices.SortFunc(sorted, func(a, b protocol.JoinedMember) int {
		switch {
		case a.InstanceID != "" && b.InstanceID != "":
			return cmp.Or(cmp.Compare(a.InstanceID, b.InstanceID), cmp.Compare(a.MemberID, b.MemberID))
		case a.InstanceID != "":
			return -1
		case b.InstanceID != "":
			return 1
		}
		return cmp.Compare(a.MemberID, b.MemberID)
	})
	if name == config.AssignorCooperativeSticky {
		return cooperativeSticky(sorted, topic, partitions)
	}
	return rangeAssign(sorted, topic, partitions)
}

// rangeAssign gives each member ⌊P/C⌋ consecutive partitions, the first
// P mod C members one more (RangeAssignor).
func rangeAssign(members []protocol.JoinedMember, topic string, partitions int) []protocol.MemberAssignment {
	out := make([]protocol.MemberAssignment, len(members))
	per, extra := partitions/len(members), partitions%len(members)
	next := 0
	for i, m := range members {
		n := per
		if i < extra {
			n++
		}
		out[i].MemberID = m.MemberID
		for range n {
			out[i].Partitions = append(out[i].Partitions, protocol.TopicPartition{Topic: topic, Partition: int32(next)})
			next++
		}
	}
	return out
}

// cooperativeSticky balances the partitions while each member keeps as
// many of those it owns as its quota allows (AbstractStickyAssignor's
// constrained assignment), then withholds every partition that changes
// owner: its old owner revokes it first, and it is assigned in the
// rebalance that follows (CooperativeStickyAssignor.adjustAssignment).
func cooperativeSticky(members []protocol.JoinedMember, topic string, partitions int) []protocol.MemberAssignment {
	n := len(members)
	minQuota, maxSlots := partitions/n, partitions%n
	owner := make([]int, partitions)
	for p := range owner {
		owner[p] = -1
	}
	for i, m := range members {
		for _, tp := range m.Owned {
			if tp.Topic == topic && int(tp.Partition) < partitions && owner[tp.Partition] < 0 {
				owner[tp.Partition] = i
			}
		}
	}
	assigned := make([][]int32, n)
	taken := make([]bool, partitions)
	for i, m := range members {
		var kept []int32
		for _, tp := range m.Owned {
			if tp.Topic == topic && int(tp.Partition) < partitions && owner[tp.Partition] == i {
				kept = append(kept, tp.Partition)
			}
		}
		slices.Sort(kept)
		quota := minQuota
		if len(kept) > minQuota && maxSlots > 0 {
			quota++
			maxSlots--
		}
		kept = kept[:min(len(kept), quota)]
		for _, p := range kept {
			taken[p] = true
		}
		assigned[i] = kept
	}
	var free []int32
	for p := range partitions {
		if !taken[p] {
			free = append(free, int32(p))
		}
	}
	for i := range members { // up to the minimum quota
		for len(assigned[i]) < minQuota && len(free) > 0 {
			assigned[i], free = append(assigned[i], free[0]), free[1:]
		}
	}
	for i := range members { // then the remaining one-more slots
		if len(free) == 0 {
			break
		}
		if len(assigned[i]) == minQuota && maxSlots > 0 {
			assigned[i], free = append(assigned[i], free[0]), free[1:]
			maxSlots--
		}
	}
	out := make([]protocol.MemberAssignment, n)
	for i, m := range members {
		out[i].MemberID = m.MemberID
		for _, p := range assigned[i] {
			if owner[p] >= 0 && owner[p] != i {
				continue // owned elsewhere: revoked first, assigned next time
			}
			out[i].Partitions = append(out[i].Partitions, protocol.TopicPartition{Topic: topic, Partition: p})
		}
		slices.SortFunc(out[i].Partitions, protocol.TopicPartition.Compare)
	}
	return out
}
