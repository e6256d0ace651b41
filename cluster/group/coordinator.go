// Package group is Kafka's group coordinator as a broker runs it: one
// state machine per __consumer_offsets partition the broker leads (Kafka's
// CoordinatorRuntime), holding the classic consumer groups that hash to
// that partition — their members, generations and assignments
// (ClassicGroup, GroupMetadataManager) — and their committed offsets
// (OffsetMetadataManager). Every change it must keep is written to the
// partition as a GroupRecord and answered only once the partition's high
// watermark passes it; a broker that becomes leader of a partition loads
// the groups back from its log. It imports cluster/protocol, config, node
// and journal; the broker (its Host) owns the log, the clock and the
// network.
package group

import (
	"fmt"
	"slices"
	"time"

	"github.com/tideline-sim/tideline/clock"
	"github.com/tideline-sim/tideline/cluster/config"
	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/cluster/node"
	"github.com/tideline-sim/tideline/cluster/protocol"
	"github.com/tideline-sim/tideline/sim"
)

// Host is what the coordinator needs of its broker.
type Host interface {
	// Append writes records to a __consumer_offsets partition the broker
	// leads (acks=1, as Kafka's CoordinatorPartitionWriter), returning the
	// offset after them — the high watermark that commits them.
	Append(partition int32, records []protocol.GroupRecord) (end int64, err protocol.ErrorCode)
	// Event records a journal event.
	Event(e journal.Event)
}

// Coordinator is a broker's group coordinator.
type Coordinator struct {
	cfg    config.GroupCoordinatorConfig
	host   Host
	rec    *node.Recyclers
	env    sim.Env
	shards []*shard // by __consumer_offsets partition; nil: not ours
	nextID uint64
	// seen is each client's latest requests and their answers: a
	// request re-sent (node.Call) is answered as the original was, or
	// ignored while it is still held, as TCP never delivers one twice.
	seen map[sim.NodeID]*[seenRequests]seenRequest
}

const seenRequests = 16

type seenRequest struct {
	id       uint64
	answered bool
	answer   sim.Message
}

// first reports whether a request is new, re-sending the answer to one
// already answered.
func (c *Coordinator) first(from sim.NodeID, id uint64) bool {
	ring := c.seen[from]
	if ring == nil {
		ring = &[seenRequests]seenRequest{}
		c.seen[from] = ring
	}
	slot := &ring[id%seenRequests]
	if slot.id == id {
		if slot.answered {
			c.env.Send(from, slot.answer)
		}
		return false
	}
	*slot = seenRequest{id: id}
	return true
}

// send answers request id of a client, remembering the answer.
func (c *Coordinator) send(to sim.NodeID, id uint64, msg sim.Message) {
	if ring := c.seen[to]; ring != nil {
		if slot := &ring[id%seenRequests]; slot.id == id {
			slot.answered, slot.answer = true, msg
		}
	}
	c.env.Send(to, msg)
}

// New returns a broker's coordinator; rec is the broker's pools.
func New(cfg config.GroupCoordinatorConfig, host Host, rec *node.Recyclers, env sim.Env) *Coordinator {
	return &Coordinator{cfg: cfg, host: host, rec: rec, env: env, shards: make([]*shard, cfg.OffsetsTopicPartitions), seen: map[sim.NodeID]*[seenRequests]seenRequest{}}
}

type shardState uint8

const (
	loading shardState = iota
	active
)

// shard is the coordinator of one __consumer_offsets partition.
type shard struct {
	partition int32
	epoch     int32 // the leader epoch it was loaded at
	state     shardState
	groups    map[string]*group // looked up by id; iterate order
	order     []*group          // in order of creation
	pending   []pendingWrite    // by end offset
}

// pendingWrite is records appended and not yet committed: apply runs once
// the high watermark reaches end, answer (if still set) then or on failure.
type pendingWrite struct {
	id     uint64
	end    int64
	timer  sim.TimerID
	apply  func()
	answer func(protocol.ErrorCode)
}

func (c *Coordinator) newID() uint64 {
	c.nextID++
	return c.nextID
}

// shardOf returns the active shard of a group, or the error Kafka answers
// with: NOT_COORDINATOR where this broker does not lead its partition,
// COORDINATOR_LOAD_IN_PROGRESS while it loads.
func (c *Coordinator) shardOf(groupID string) (*shard, protocol.ErrorCode) {
	s := c.shards[protocol.CoordinatorPartition(groupID, len(c.shards))]
	switch {
	case s == nil:
		return nil, protocol.NotCoordinator
	case s.state == loading:
		return nil, protocol.CoordinatorLoadInProgress
	}
	return s, protocol.None
}

// Load makes the broker coordinator of a partition it now leads at epoch:
// the groups are replayed from its log, and the partition answers once the
// load is done (Kafka's scheduleLoadOperation; a load at an epoch no newer
// than the current one is ignored, and one while loaded or loading only
// takes the new epoch). Reading the log takes a moment: a millisecond, and
// a microsecond a record.
func (c *Coordinator) Load(partition, epoch int32, records []protocol.GroupRecord) {
	if s := c.shards[partition]; s != nil {
		s.epoch = max(s.epoch, epoch)
		return
	}
	s := &shard{partition: partition, epoch: epoch, state: loading, groups: map[string]*group{}}
	c.shards[partition] = s
	for i := range records {
		c.replay(s, &records[i])
	}
	d := time.Millisecond + time.Duration(len(records))*time.Microsecond
	c.rec.SetTimer(c.env, d, node.Timer{Kind: node.TGroupLoad, TP: protocol.TopicPartition{Topic: protocol.OffsetsTopic, Partition: partition}, ID: uint64(epoch)})
}

// Unload gives up a partition this broker no longer leads: writes waiting
// for their commit fail with NOT_COORDINATOR, as do waiting joins and syncs,
// and its groups are forgotten here (the new leader loads them).
func (c *Coordinator) Unload(partition int32) {
	s := c.shards[partition]
	if s == nil {
		return
	}
	c.shards[partition] = nil
	for _, w := range s.pending {
		c.env.CancelTimer(w.timer)
		if w.answer != nil {
			w.answer(protocol.NotCoordinator)
		}
	}
	for _, g := range s.order {
		for _, m := range g.members {
			c.answerJoin(g, m, protocol.JoinGroupResponse{Err: protocol.NotCoordinator})
			c.answerSync(m, protocol.SyncGroupResponse{Err: protocol.NotCoordinator})
		}
	}
	if len(s.order) == 0 {
		return
	}
	c.host.Event(journal.Event{Kind: journal.EvCoordinatorUnloaded, TP: protocol.TopicPartition{Topic: protocol.OffsetsTopic, Partition: partition}, Epoch: s.epoch,
		Leader: protocol.NoLeader, Detail: fmt.Sprintf("no longer coordinator of %s/%d: %d groups leave with it", protocol.OffsetsTopic, partition, len(s.order))})
}

// Committed tells the coordinator a partition's high watermark moved:
// writes below it are committed and answered.
func (c *Coordinator) Committed(partition int32, hw int64) {
	s := c.shards[partition]
	if s == nil {
		return
	}
	n := 0
	for n < len(s.pending) && s.pending[n].end <= hw {
		n++
	}
	done := slices.Clone(s.pending[:n])
	s.pending = slices.Delete(s.pending, 0, n)
	for _, w := range done {
		c.env.CancelTimer(w.timer)
		w.apply()
		if w.answer != nil {
			w.answer(protocol.None)
		}
	}
}

// write appends records for a group's shard; apply runs once they commit,
// answer with the outcome. The append's own errors map as Kafka's
// CoordinatorOperationExceptionHelper maps them.
func (c *Coordinator) write(s *shard, records []protocol.GroupRecord, apply func(), answer func(protocol.ErrorCode)) {
	end, err := c.host.Append(s.partition, records)
	if err != protocol.None {
		answer(coordinatorError(err))
		return
	}
	id := c.newID()
	t := c.rec.SetTimer(c.env, c.cfg.CommitTimeout, node.Timer{Kind: node.TGroupWrite, TP: protocol.TopicPartition{Topic: protocol.OffsetsTopic, Partition: s.partition}, ID: id})
	s.pending = append(s.pending, pendingWrite{id: id, end: end, timer: t, apply: apply, answer: answer})
}

// coordinatorError is the error a client sees for a failed write.
func coordinatorError(err protocol.ErrorCode) protocol.ErrorCode {
	switch err {
	case protocol.NotEnoughReplicas, protocol.NotEnoughReplicasAfterAppend, protocol.UnknownTopicOrPartition, protocol.RequestTimedOut:
		return protocol.CoordinatorNotAvailable
	case protocol.NetworkException:
		return protocol.CoordinatorLoadInProgress
	}
	return protocol.NotCoordinator
}

// Timer handles the coordinator's timers; it reports whether t was one.
func (c *Coordinator) Timer(t node.Timer) bool {
	switch t.Kind {
	case node.TGroupLoad:
		if s := c.shards[t.TP.Partition]; s != nil && s.state == loading && uint64(s.epoch) == t.ID {
			c.activate(s)
		}
	case node.TGroupWrite:
		if s := c.shards[t.TP.Partition]; s != nil {
			// offsets.commit.timeout.ms: the client hears REQUEST_TIMED_OUT
			// as COORDINATOR_NOT_AVAILABLE; the records stay in the log and
			// take effect if they commit after all.
			for i := range s.pending {
				if w := &s.pending[i]; w.id == t.ID && w.answer != nil {
					c.host.Event(journal.Event{Kind: journal.EvCommitTimedOut, TP: t.TP, Offset: w.end, Leader: protocol.NoLeader,
						Detail: fmt.Sprintf("a write to %s/%d ending at %d not committed within offsets.commit.timeout.ms", t.TP.Topic, t.TP.Partition, w.end)})
					w.answer(protocol.CoordinatorNotAvailable)
					w.answer = nil
				}
			}
		}
	case node.TGroupSession, node.TGroupJoin, node.TGroupSync:
		s, err := c.shardOf(t.TP.Topic)
		if err != protocol.None {
			return true
		}
		if g := s.groups[t.TP.Topic]; g != nil {
			c.groupTimer(s, g, t)
		}
	default:
		return false
	}
	return true
}

func (c *Coordinator) activate(s *shard) {
	s.state = active
	members := 0
	for _, g := range s.order {
		for _, m := range g.members {
			c.scheduleSession(g, m)
			members++
		}
	}
	if len(s.order) == 0 {
		return // nothing moved: not worth telling
	}
	c.host.Event(journal.Event{Kind: journal.EvCoordinatorLoaded, TP: protocol.TopicPartition{Topic: protocol.OffsetsTopic, Partition: s.partition}, Epoch: s.epoch,
		Leader: protocol.NoLeader, Detail: fmt.Sprintf("coordinator of %s/%d at epoch %d: loaded %d groups, %d members", protocol.OffsetsTopic, s.partition, s.epoch, len(s.order), members)})
}

// replay applies one record read back from the log.
func (c *Coordinator) replay(s *shard, r *protocol.GroupRecord) {
	g := s.group(r.Group)
	if r.Commit != nil {
		g.offsets[r.Commit.TP] = *r.Commit
		return
	}
	g.generation, g.protocolName, g.leader = r.Generation, r.Protocol, r.Leader
	g.members = g.members[:0]
	for _, gm := range r.Members {
		// The record keeps a member's subscription to the group's
		// protocol alone, so that is all it supports once loaded (as
		// Kafka's GroupMetadataValue restores it).
		g.members = append(g.members, &member{id: gm.MemberID, instance: gm.InstanceID, clientID: gm.ClientID,
			sessionTimeout: time.Duration(gm.SessionTimeoutMs) * time.Millisecond, rebalanceTimeout: time.Duration(gm.RebalanceTimeoutMs) * time.Millisecond,
			topics: gm.Topics, assignment: gm.Assignment, protocols: []protocol.GroupProtocol{{Name: r.Protocol, Topics: gm.Topics}}})
	}
	if len(g.members) == 0 {
		g.state = empty
	} else {
		g.state = stable
	}
}

func (s *shard) group(id string) *group {
	if g := s.groups[id]; g != nil {
		return g
	}
	g := &group{id: id, offsets: map[protocol.TopicPartition]protocol.CommittedOffset{}}
	s.groups[id] = g
	s.order = append(s.order, g)
	return g
}

// Handle answers a group request from a client; it reports whether msg was
// one.
func (c *Coordinator) Handle(from sim.NodeID, msg sim.Message) bool {
	switch m := msg.(type) {
	case protocol.JoinGroupRequest:
		if c.first(from, m.RequestID) {
			c.join(from, m)
		}
	case protocol.SyncGroupRequest:
		if c.first(from, m.RequestID) {
			c.sync(from, m)
		}
	case protocol.HeartbeatRequest:
		if c.first(from, m.RequestID) {
			c.send(from, m.RequestID, protocol.HeartbeatResponse{RequestID: m.RequestID, Err: c.heartbeat(m)})
		}
	case protocol.LeaveGroupRequest:
		if c.first(from, m.RequestID) {
			c.send(from, m.RequestID, protocol.LeaveGroupResponse{RequestID: m.RequestID, Err: c.leave(m)})
		}
	case protocol.OffsetCommitRequest:
		if c.first(from, m.RequestID) {
			c.commit(from, m)
		}
	case protocol.OffsetFetchRequest:
		if c.first(from, m.RequestID) {
			c.send(from, m.RequestID, c.fetchOffsets(m))
		}
	default:
		return false
	}
	return true
}

// commit validates and writes an OffsetCommit, answering it once it is
// committed (ClassicGroup.validateOffsetCommit).
func (c *Coordinator) commit(from sim.NodeID, m protocol.OffsetCommitRequest) {
	respond := func(err protocol.ErrorCode) {
		c.send(from, m.RequestID, protocol.OffsetCommitResponse{RequestID: m.RequestID, Err: err})
	}
	s, err := c.shardOf(m.Group)
	if err != protocol.None {
		respond(err)
		return
	}
	g := s.group(m.Group)
	switch {
	case m.Generation < 0 && g.state == empty:
		// From outside group management: taken while the group is empty.
	case m.Generation >= 0 || m.MemberID != "":
		if g.member(m.MemberID) == nil {
			respond(protocol.UnknownMemberID)
			return
		}
		if m.Generation != g.generation {
			respond(protocol.IllegalGeneration)
			return
		}
	default:
		respond(protocol.UnknownMemberID)
		return
	}
	if g.state == completingRebalance {
		respond(protocol.RebalanceInProgress)
		return
	}
	records := make([]protocol.GroupRecord, len(m.Offsets))
	for i := range m.Offsets {
		o := m.Offsets[i]
		records[i] = protocol.GroupRecord{Group: g.id, Commit: &o}
	}
	c.write(s, records, func() {
		for _, r := range records {
			g.offsets[r.Commit.TP] = *r.Commit
		}
	}, respond)
}

// fetchOffsets answers an OffsetFetch from the committed state.
func (c *Coordinator) fetchOffsets(m protocol.OffsetFetchRequest) protocol.OffsetFetchResponse {
	resp := protocol.OffsetFetchResponse{RequestID: m.RequestID}
	s, err := c.shardOf(m.Group)
	if err != protocol.None {
		resp.Err = err
		return resp
	}
	g := s.groups[m.Group]
	for _, tp := range m.Partitions {
		o := protocol.CommittedOffset{TP: tp, Offset: -1, LeaderEpoch: protocol.NoEpoch}
		if g != nil {
			if have, ok := g.offsets[tp]; ok {
				o = have
			}
		}
		resp.Offsets = append(resp.Offsets, o)
	}
	return resp
}

// Offset returns a group's committed offset of tp here, -1 if none.
func (c *Coordinator) Offset(groupID string, tp protocol.TopicPartition) int64 {
	s, err := c.shardOf(groupID)
	if err != protocol.None {
		return -1
	}
	if g := s.groups[groupID]; g != nil {
		if o, ok := g.offsets[tp]; ok {
			return o.Offset
		}
	}
	return -1
}

func (c *Coordinator) now() clock.Time { return c.env.Now() }
