package group

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

// fakeHost is the broker side: an offsets partition's log end, which the
// test commits by hand.
type fakeHost struct {
	end    int64
	events []journal.Event
	leader bool
}

func (h *fakeHost) Append(_ int32, recs []protocol.GroupRecord) (int64, protocol.ErrorCode) {
	if !h.leader {
		return -1, protocol.NotLeaderOrFollower
	}
	h.end += int64(len(recs))
	return h.end, protocol.None
}

func (h *fakeHost) Event(e journal.Event) { h.events = append(h.events, e) }

const client = sim.NodeID(7)

// loaded is a coordinator that leads every offsets partition, loaded.
func loaded(t *testing.T) (*Coordinator, *fakeHost, *nodetest.Env) {
	env := nodetest.NewEnv()
	host := &fakeHost{leader: true}
	cfg := config.DefaultGroupCoordinatorConfig()
	cfg.OffsetsTopicPartitions = 1
	var rec node.Recyclers
	c := New(cfg, host, &rec, env)
	c.Load(0, 1, nil)
	require.True(t, c.Timer(node.Timer{Kind: node.TGroupLoad, TP: protocol.TopicPartition{Topic: protocol.OffsetsTopic}, ID: 1}))
	return c, host, env
}

func join(c *Coordinator, env *nodetest.Env, id uint64, member string) protocol.JoinGroupResponse {
	env.Sent = nil
	c.Handle(client, protocol.JoinGroupRequest{RequestID: id, Group: "g", MemberID: member, ClientID: "c", SessionTimeoutMs: 45000, RebalanceTimeoutMs: 300000,
		Protocols: []protocol.GroupProtocol{{Name: "range", Topics: []string{"orders"}}}})
	r, _ := nodetest.Last[protocol.JoinGroupResponse](env)
	return r
}

// fire fires the last armed timer of a kind.
func fire(c *Coordinator, env *nodetest.Env, kind node.TimerKind) {
	for i := len(env.Armed) - 1; i >= 0; i-- {
		if tm := env.Armed[i].(*node.Timer); tm.Kind == kind {
			c.Timer(*tm)
			return
		}
	}
}

func TestCoordinatorIsLeaderOfHashedOffsetsPartition(t *testing.T) {
	// Java's "my-group".hashCode() is -1906497762: Utils.abs, mod 50.
	assert.Equal(t, int32(-1906497762), protocol.JavaStringHash("my-group"))
	assert.Equal(t, int32(12), protocol.CoordinatorPartition("my-group", 50))
	assert.Equal(t, int32(9), protocol.CoordinatorPartition("billing", 50))
	assert.Equal(t, int32(0), protocol.CoordinatorPartition("", 50))
	// A coordinator leading only partition 12 of 50 answers my-group and
	// sends billing elsewhere.
	env := nodetest.NewEnv()
	var rec node.Recyclers
	c := New(config.DefaultGroupCoordinatorConfig(), &fakeHost{leader: true}, &rec, env)
	c.Load(12, 0, nil)
	c.Timer(node.Timer{Kind: node.TGroupLoad, TP: protocol.TopicPartition{Topic: protocol.OffsetsTopic, Partition: 12}, ID: 0})
	c.Handle(client, protocol.OffsetFetchRequest{RequestID: 1, Group: "my-group"})
	r, _ := nodetest.Last[protocol.OffsetFetchResponse](env)
	assert.Equal(t, protocol.None, r.Err)
	c.Handle(client, protocol.OffsetFetchRequest{RequestID: 2, Group: "billing"})
	r, _ = nodetest.Last[protocol.OffsetFetchResponse](env)
	assert.Equal(t, protocol.NotCoordinator, r.Err)
}

func TestCoordinatorLoadInProgress(t *testing.T) {
	env := nodetest.NewEnv()
	var rec node.Recyclers
	cfg := config.DefaultGroupCoordinatorConfig()
	cfg.OffsetsTopicPartitions = 1
	c := New(cfg, &fakeHost{leader: true}, &rec, env)
	c.Load(0, 3, []protocol.GroupRecord{{Group: "g", Commit: &protocol.CommittedOffset{TP: protocol.TopicPartition{Topic: "orders"}, Offset: 42}}})
	c.Handle(client, protocol.OffsetFetchRequest{RequestID: 1, Group: "g", Partitions: []protocol.TopicPartition{{Topic: "orders"}}})
	r, _ := nodetest.Last[protocol.OffsetFetchResponse](env)
	assert.Equal(t, protocol.CoordinatorLoadInProgress, r.Err, "COORDINATOR_LOAD_IN_PROGRESS while loading")
	c.Timer(node.Timer{Kind: node.TGroupLoad, TP: protocol.TopicPartition{Topic: protocol.OffsetsTopic}, ID: 3})
	c.Handle(client, protocol.OffsetFetchRequest{RequestID: 2, Group: "g", Partitions: []protocol.TopicPartition{{Topic: "orders"}}})
	r, _ = nodetest.Last[protocol.OffsetFetchResponse](env)
	require.Equal(t, protocol.None, r.Err)
	assert.Equal(t, int64(42), r.Offsets[0].Offset, "the commit is loaded from the log")
}

func TestNewMemberGetsMemberIDRequired(t *testing.T) {
	c, _, env := loaded(t)
	r := join(c, env, 1, "")
	assert.Equal(t, protocol.MemberIDRequired, r.Err, "KIP-394")
	assert.Regexp(t, `^c-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, r.MemberID, "<client.id>-<UUID>")
	assert.Equal(t, protocol.UnknownMemberID, join(c, env, 2, "c-unknown").Err)
}

func TestSessionTimeoutOutsideBrokerRangeRefused(t *testing.T) {
	c, _, env := loaded(t)
	c.Handle(client, protocol.JoinGroupRequest{RequestID: 1, Group: "g", ClientID: "c", SessionTimeoutMs: 5000, RebalanceTimeoutMs: 300000})
	r, _ := nodetest.Last[protocol.JoinGroupResponse](env)
	assert.Equal(t, protocol.InvalidSessionTimeout, r.Err, "below group.min.session.timeout.ms 6000")
}

// formGroup joins one member and runs the group to Stable.
func formGroup(t *testing.T, c *Coordinator, host *fakeHost, env *nodetest.Env) string {
	id := join(c, env, 1, "").MemberID
	assert.Empty(t, env.Sent[1:], "the first rebalance waits group.initial.rebalance.delay.ms")
	join(c, env, 2, id)
	fire(c, env, node.TGroupJoin)
	r, _ := nodetest.Last[protocol.JoinGroupResponse](env)
	require.Equal(t, int32(1), r.Generation)
	require.Equal(t, id, r.Leader)
	env.Sent = nil
	c.Handle(client, protocol.SyncGroupRequest{RequestID: 3, Group: "g", MemberID: id, Generation: 1,
		Assignments: []protocol.MemberAssignment{{MemberID: id, Partitions: []protocol.TopicPartition{{Topic: "orders"}}}}})
	_, answered := nodetest.Last[protocol.SyncGroupResponse](env)
	assert.False(t, answered, "SyncGroup waits for the assignment to commit")
	c.Committed(0, host.end)
	s, _ := nodetest.Last[protocol.SyncGroupResponse](env)
	require.Equal(t, []protocol.TopicPartition{{Topic: "orders"}}, s.Partitions)
	return id
}

func TestOffsetCommitAnsweredOnlyOnceCommitted(t *testing.T) {
	c, host, env := loaded(t)
	id := formGroup(t, c, host, env)
	env.Sent = nil
	c.Handle(client, protocol.OffsetCommitRequest{RequestID: 10, Group: "g", MemberID: id, Generation: 1,
		Offsets: []protocol.CommittedOffset{{TP: protocol.TopicPartition{Topic: "orders"}, Offset: 5}}})
	_, answered := nodetest.Last[protocol.OffsetCommitResponse](env)
	assert.False(t, answered, "appended, not yet committed: no answer")
	assert.Equal(t, int64(-1), c.Offset("g", protocol.TopicPartition{Topic: "orders"}), "reads see only committed offsets")
	c.Committed(0, host.end)
	r, _ := nodetest.Last[protocol.OffsetCommitResponse](env)
	assert.Equal(t, protocol.None, r.Err)
	assert.Equal(t, int64(5), c.Offset("g", protocol.TopicPartition{Topic: "orders"}))

	// One that never commits (the ISR below min.insync.replicas holds the
	// high watermark) times out after offsets.commit.timeout.ms.
	env.Sent = nil
	c.Handle(client, protocol.OffsetCommitRequest{RequestID: 11, Group: "g", MemberID: id, Generation: 1,
		Offsets: []protocol.CommittedOffset{{TP: protocol.TopicPartition{Topic: "orders"}, Offset: 9}}})
	fire(c, env, node.TGroupWrite)
	r, _ = nodetest.Last[protocol.OffsetCommitResponse](env)
	assert.Equal(t, protocol.CoordinatorNotAvailable, r.Err, "REQUEST_TIMED_OUT reaches the client as COORDINATOR_NOT_AVAILABLE")
	c.Committed(0, host.end)
	assert.Equal(t, int64(9), c.Offset("g", protocol.TopicPartition{Topic: "orders"}), "it takes effect if it commits after all")
}

func TestOffsetCommitValidatedAsClassicGroup(t *testing.T) {
	c, host, env := loaded(t)
	id := formGroup(t, c, host, env)
	commit := func(rid uint64, member string, gen int32) protocol.ErrorCode {
		env.Sent = nil
		c.Handle(client, protocol.OffsetCommitRequest{RequestID: rid, Group: "g", MemberID: member, Generation: gen,
			Offsets: []protocol.CommittedOffset{{TP: protocol.TopicPartition{Topic: "orders"}, Offset: 1}}})
		c.Committed(0, host.end)
		r, _ := nodetest.Last[protocol.OffsetCommitResponse](env)
		return r.Err
	}
	assert.Equal(t, protocol.IllegalGeneration, commit(20, id, 0))
	assert.Equal(t, protocol.UnknownMemberID, commit(21, "someone", 1))
	assert.Equal(t, protocol.UnknownMemberID, commit(22, "", -1), "from outside the group while it has members")
	// A second member joins: the group rebalances; once the join phase
	// completes, commits wait for the sync (REBALANCE_IN_PROGRESS).
	other := join(c, env, 30, "").MemberID
	join(c, env, 31, other)
	join(c, env, 32, id)
	r, _ := nodetest.Last[protocol.JoinGroupResponse](env)
	require.Equal(t, int32(2), r.Generation)
	assert.Equal(t, protocol.RebalanceInProgress, commit(33, id, 2), "CompletingRebalance: REBALANCE_IN_PROGRESS")
}

func TestSessionExpiryRemovesMember(t *testing.T) {
	c, host, env := loaded(t)
	formGroup(t, c, host, env)
	// Time stands still in the test env: move the deadline into the past.
	c.shards[0].groups["g"].members[0].deadline = -1
	fire(c, env, node.TGroupSession)
	assert.Empty(t, c.shards[0].groups["g"].members)
	assert.Equal(t, empty, c.shards[0].groups["g"].state, "its only member gone, the group is empty")
}

// TestLoadedGroupTakesNewMembers: a group loaded from the log knows each
// member's subscription to the group's protocol only; a member joining
// with that protocol among others is consistent with it.
func TestLoadedGroupTakesNewMembers(t *testing.T) {
	env := nodetest.NewEnv()
	var rec node.Recyclers
	cfg := config.DefaultGroupCoordinatorConfig()
	cfg.OffsetsTopicPartitions = 1
	c := New(cfg, &fakeHost{leader: true}, &rec, env)
	c.Load(0, 1, []protocol.GroupRecord{{Group: "g", Generation: 4, Protocol: "range", Leader: "m1",
		Members: []protocol.GroupMember{{MemberID: "m1", SessionTimeoutMs: 45000, RebalanceTimeoutMs: 300000, Topics: []string{"orders"}}}}})
	c.Timer(node.Timer{Kind: node.TGroupLoad, TP: protocol.TopicPartition{Topic: protocol.OffsetsTopic}, ID: 1})
	env.Sent = nil
	c.Handle(client, protocol.JoinGroupRequest{RequestID: 1, Group: "g", ClientID: "c", SessionTimeoutMs: 45000, RebalanceTimeoutMs: 300000,
		Protocols: []protocol.GroupProtocol{{Name: "range", Topics: []string{"orders"}}, {Name: "cooperative-sticky", Topics: []string{"orders"}}}})
	r, _ := nodetest.Last[protocol.JoinGroupResponse](env)
	assert.Equal(t, protocol.MemberIDRequired, r.Err, "not INCONSISTENT_GROUP_PROTOCOL")
}
