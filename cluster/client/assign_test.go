package client

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/tideline-sim/tideline/cluster/protocol"
)

func tps(ps ...int32) []protocol.TopicPartition {
	out := []protocol.TopicPartition{}
	for _, p := range ps {
		out = append(out, protocol.TopicPartition{Topic: "t0", Partition: p})
	}
	return out
}

func partitionsOf(as []protocol.MemberAssignment) map[string][]protocol.TopicPartition {
	out := map[string][]protocol.TopicPartition{}
	for _, a := range as {
		out[a.MemberID] = append([]protocol.TopicPartition{}, a.Partitions...)
	}
	return out
}

// RangeAssignor's javadoc example, per topic: C0 gets t0p0 and t0p1, C1 t0p2.
func TestRangeAssignsConsecutivePartitions(t *testing.T) {
	got := partitionsOf(assign("range", []protocol.JoinedMember{{MemberID: "C1"}, {MemberID: "C0"}}, "t0", 3))
	assert.Equal(t, tps(0, 1), got["C0"])
	assert.Equal(t, tps(2), got["C1"])
	// Static members sort by group.instance.id before member ids.
	got = partitionsOf(assign("range", []protocol.JoinedMember{{MemberID: "a"}, {MemberID: "z", InstanceID: "i"}}, "t0", 3))
	assert.Equal(t, tps(0, 1), got["z"])
}

// TestCooperativeStickyRevokesOnlyMovedPartitions: a third member joins two
// that own three partitions each. They keep two each; the partitions that
// must move are withheld from the newcomer in this generation (their
// owners revoke them first) and given to it in the next.
func TestCooperativeStickyRevokesOnlyMovedPartitions(t *testing.T) {
	first := partitionsOf(assign("cooperative-sticky", []protocol.JoinedMember{
		{MemberID: "A", Owned: tps(0, 1, 2)}, {MemberID: "B", Owned: tps(3, 4, 5)}, {MemberID: "C"}}, "t0", 6))
	assert.Equal(t, tps(0, 1), first["A"], "A keeps what it can")
	assert.Equal(t, tps(3, 4), first["B"])
	assert.Empty(t, first["C"], "nothing still owned elsewhere is handed over in the same generation")
	second := partitionsOf(assign("cooperative-sticky", []protocol.JoinedMember{
		{MemberID: "A", Owned: first["A"]}, {MemberID: "B", Owned: first["B"]}, {MemberID: "C"}}, "t0", 6))
	assert.Equal(t, tps(0, 1), second["A"])
	assert.Equal(t, tps(3, 4), second["B"])
	assert.Equal(t, tps(2, 5), second["C"], "the revoked partitions, in the rebalance that follows")
	// Eager range, for contrast, moves partitions owners still held.
	eager := partitionsOf(assign("range", []protocol.JoinedMember{{MemberID: "A"}, {MemberID: "B"}, {MemberID: "C"}}, "t0", 6))
	assert.Equal(t, tps(2, 3), eager["B"])
}
