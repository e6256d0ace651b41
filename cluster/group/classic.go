package group

import (
	"fmt"
	"slices"
	"time"

	"github.com/tideline-sim/tideline/clock"
	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/cluster/node"
	"github.com/tideline-sim/tideline/cluster/protocol"
	"github.com/tideline-sim/tideline/sim"
)

// groupState is a classic group's state (Kafka's ClassicGroupState).
type groupState uint8

const (
	empty groupState = iota
	preparingRebalance
	completingRebalance
	stable
)

func (s groupState) String() string {
	return [...]string{"Empty", "PreparingRebalance", "CompletingRebalance", "Stable"}[s]
}

// reply is a request the coordinator holds to answer later.
type reply struct {
	to sim.NodeID
	id uint64
}

type member struct {
	id, instance, clientID string
	sessionTimeout         time.Duration
	rebalanceTimeout       time.Duration
	protocols              []protocol.GroupProtocol
	topics                 []string
	assignment             []protocol.TopicPartition
	join, sync             *reply // a JoinGroup or SyncGroup awaiting its answer
	deadline               clock.Time
	timer                  uint64 // the session timer armed for it, 0 if none
}

type group struct {
	id           string
	state        groupState
	generation   int32
	protocolName string
	leader       string
	members      []*member // in order of joining
	pendingIDs   []string  // member ids handed out with MEMBER_ID_REQUIRED, not yet used (KIP-394)
	offsets      map[protocol.TopicPartition]protocol.CommittedOffset
	// The join phase: its timer's token, whether it is the first
	// rebalance's delayed join, and what remains of that delay's budget.
	phase          uint64
	initialDelay   bool
	delayRemaining time.Duration
	newMember      bool
}

func (g *group) member(id string) *member {
	if id == "" {
		return nil
	}
	for _, m := range g.members {
		if m.id == id {
			return m
		}
	}
	return nil
}

func (g *group) rebalanceTimeout() time.Duration {
	var d time.Duration
	for _, m := range g.members {
		d = max(d, m.rebalanceTimeout)
	}
	return d
}

func (c *Coordinator) groupTimer(s *shard, g *group, t node.Timer) {
	switch t.Kind {
	case node.TGroupSession:
		m := slices.IndexFunc(g.members, func(m *member) bool { return m.timer == t.ID })
		if m < 0 {
			return
		}
		mb := g.members[m]
		mb.timer = 0
		if mb.join != nil || mb.sync != nil || c.now() < mb.deadline {
			// A member awaiting an answer is alive by definition
			// (hasSatisfiedHeartbeat); one that heartbeated has a later
			// deadline.
			c.scheduleSession(g, mb)
			return
		}
		c.removeMember(s, g, mb, "its session timed out (session.timeout.ms)")
	case node.TGroupJoin:
		if t.ID != g.phase || g.state != preparingRebalance {
			return
		}
		if g.initialDelay && g.newMember && g.delayRemaining > 0 {
			// group.initial.rebalance.delay.ms: each member that joined
			// during the delay extends it, within the rebalance timeout.
			g.newMember = false
			d := min(c.cfg.InitialRebalanceDelay, g.delayRemaining)
			g.delayRemaining -= d
			c.armPhase(g, node.TGroupJoin, d)
			return
		}
		c.completeJoin(s, g)
	case node.TGroupSync:
		if t.ID != g.phase || g.state != completingRebalance {
			return
		}
		// expirePendingSync: members that never sent SyncGroup are removed.
		for _, m := range slices.Clone(g.members) {
			if m.sync == nil {
				c.dropMember(g, m, "it sent no SyncGroup within the rebalance timeout")
			}
		}
		c.prepareRebalance(s, g, "members missed the sync phase")
	}
}

func (c *Coordinator) armPhase(g *group, kind node.TimerKind, d time.Duration) {
	g.phase = c.newID()
	c.rec.SetTimer(c.env, d, node.Timer{Kind: kind, TP: protocol.TopicPartition{Topic: g.id}, ID: g.phase})
}

// scheduleSession (re)arms a member's session timer from now.
func (c *Coordinator) scheduleSession(g *group, m *member) {
	m.deadline = c.now().Add(m.sessionTimeout)
	if m.timer != 0 {
		return // the armed timer finds the new deadline and re-arms
	}
	m.timer = c.newID()
	c.rec.SetTimer(c.env, m.sessionTimeout, node.Timer{Kind: node.TGroupSession, TP: protocol.TopicPartition{Topic: g.id}, ID: m.timer})
}

func (c *Coordinator) join(from sim.NodeID, m protocol.JoinGroupRequest) {
	respond := func(r protocol.JoinGroupResponse) {
		r.RequestID = m.RequestID
		c.send(from, m.RequestID, r)
	}
	s, err := c.shardOf(m.Group)
	if err != protocol.None {
		respond(protocol.JoinGroupResponse{Err: err, Generation: -1})
		return
	}
	session := time.Duration(m.SessionTimeoutMs) * time.Millisecond
	if session < c.cfg.MinSessionTimeout || session > c.cfg.MaxSessionTimeout {
		respond(protocol.JoinGroupResponse{Err: protocol.InvalidSessionTimeout, Generation: -1})
		return
	}
	g := s.group(m.Group)
	if len(g.members) > 0 && !g.supports(m.Protocols) {
		respond(protocol.JoinGroupResponse{Err: protocol.InconsistentGroupProtocol, Generation: -1})
		return
	}
	if m.MemberID == "" && m.InstanceID != "" {
		c.joinStatic(s, g, from, m, session)
		return
	}
	if m.MemberID == "" {
		// KIP-394: a new member first gets its id, and joins with it.
		id := m.ClientID + "-" + uuid(c.env)
		g.pendingIDs = append(g.pendingIDs, id)
		respond(protocol.JoinGroupResponse{Err: protocol.MemberIDRequired, MemberID: id, Generation: -1})
		return
	}
	mb := g.member(m.MemberID)
	if mb == nil {
		i := slices.Index(g.pendingIDs, m.MemberID)
		if i < 0 {
			respond(protocol.JoinGroupResponse{Err: protocol.UnknownMemberID, Generation: -1})
			return
		}
		g.pendingIDs = slices.Delete(g.pendingIDs, i, i+1)
		mb = &member{id: m.MemberID, instance: m.InstanceID, clientID: m.ClientID}
		g.members = append(g.members, mb)
		if g.leader == "" {
			g.leader = mb.id
		}
		g.newMember = true
	}
	changed := !slices.EqualFunc(mb.protocols, m.Protocols, sameProtocol)
	mb.protocols, mb.sessionTimeout = m.Protocols, session
	mb.rebalanceTimeout = time.Duration(m.RebalanceTimeoutMs) * time.Millisecond
	if len(m.Protocols) > 0 {
		mb.topics = m.Protocols[0].Topics
	}
	if mb.join != nil && (mb.join.to != from || mb.join.id != m.RequestID) {
		// A newer join from the same member replaces the one held.
		c.answerJoin(g, mb, protocol.JoinGroupResponse{Err: protocol.UnknownMemberID, Generation: -1})
	}
	mb.join = &reply{from, m.RequestID}
	c.scheduleSession(g, mb)
	switch g.state {
	case preparingRebalance:
		c.maybeCompleteJoin(s, g)
	case completingRebalance, stable:
		if !changed && mb.id != g.leader && g.state == stable || !changed && g.state == completingRebalance {
			// Nothing new: the member gets the current generation again.
			c.answerJoin(g, mb, c.joinResponse(g, mb))
			return
		}
		c.prepareRebalance(s, g, fmt.Sprintf("member %s joined or changed its subscription", mb.id))
	case empty:
		c.prepareRebalance(s, g, fmt.Sprintf("member %s joined an empty group", mb.id))
	}
}

// joinStatic is a static member joining (KIP-345): a group.instance.id
// the group knows takes its place under a new member id — the old id is
// fenced — and, in a stable group with the same subscription, gets the
// current generation back with no rebalance; a new one joins at once,
// without MEMBER_ID_REQUIRED.
func (c *Coordinator) joinStatic(s *shard, g *group, from sim.NodeID, m protocol.JoinGroupRequest, session time.Duration) {
	id := m.InstanceID + "-" + uuid(c.env)
	i := slices.IndexFunc(g.members, func(x *member) bool { return x.instance == m.InstanceID })
	if i < 0 {
		g.pendingIDs = append(g.pendingIDs, id)
		m.MemberID = id
		c.join(from, m)
		return
	}
	mb := g.members[i]
	c.answerJoin(g, mb, protocol.JoinGroupResponse{Err: protocol.FencedInstanceID, Generation: -1})
	c.answerSync(mb, protocol.SyncGroupResponse{Err: protocol.FencedInstanceID})
	old := mb.id
	changed := !slices.EqualFunc(mb.protocols, m.Protocols, sameProtocol)
	mb.id, mb.clientID, mb.protocols, mb.sessionTimeout = id, m.ClientID, m.Protocols, session
	mb.rebalanceTimeout = time.Duration(m.RebalanceTimeoutMs) * time.Millisecond
	if g.leader == old {
		g.leader = id
	}
	mb.join = &reply{from, m.RequestID}
	c.scheduleSession(g, mb)
	switch {
	case g.state == preparingRebalance:
		c.maybeCompleteJoin(s, g)
	case g.state == stable && g.selectProtocol() == g.protocolName:
		// updateStaticMemberThenRebalanceOrCompleteJoin: the new member id
		// is persisted, and the member gets the current generation (the
		// leader too, told to skip the assignment).
		generation := g.generation
		c.write(s, []protocol.GroupRecord{g.record()}, func() {}, func(err protocol.ErrorCode) {
			if err != protocol.None || g.generation != generation || mb.join == nil {
				c.answerJoin(g, mb, protocol.JoinGroupResponse{Err: coordinatorError(err), Generation: -1})
				return
			}
			c.answerJoin(g, mb, c.joinResponse(g, mb))
		})
	case g.state == completingRebalance && !changed:
		c.answerJoin(g, mb, c.joinResponse(g, mb))
	default:
		c.prepareRebalance(s, g, fmt.Sprintf("static member %s rejoined as %s", m.InstanceID, id))
	}
}

func sameProtocol(a, b protocol.GroupProtocol) bool {
	return a.Name == b.Name && slices.Equal(a.Topics, b.Topics) && slices.Equal(a.Owned, b.Owned)
}

// supports reports whether protocols share one with every member.
func (g *group) supports(protocols []protocol.GroupProtocol) bool {
	for _, p := range protocols {
		if g.allSupport(p.Name) {
			return true
		}
	}
	return false
}

func (g *group) allSupport(name string) bool {
	for _, m := range g.members {
		if !slices.ContainsFunc(m.protocols, func(p protocol.GroupProtocol) bool { return p.Name == name }) {
			return false
		}
	}
	return true
}

// prepareRebalance starts a join phase (GroupMetadataManager.prepareRebalance).
func (c *Coordinator) prepareRebalance(s *shard, g *group, why string) {
	if g.state == completingRebalance {
		// Members waiting for their assignment must rejoin.
		for _, m := range g.members {
			c.answerSync(m, protocol.SyncGroupResponse{Err: protocol.RebalanceInProgress})
		}
	}
	wasEmpty := g.state == empty
	g.state = preparingRebalance
	c.host.Event(journal.Event{Kind: journal.EvGroupRebalance, Group: g.id, TP: protocol.TopicPartition{Topic: protocol.OffsetsTopic, Partition: s.partition},
		Epoch: g.generation, Leader: protocol.NoLeader, Detail: fmt.Sprintf("group %s rebalances after generation %d: %s", g.id, g.generation, why)})
	if wasEmpty && c.cfg.InitialRebalanceDelay > 0 {
		g.initialDelay, g.newMember = true, false
		g.delayRemaining = max(g.rebalanceTimeout()-c.cfg.InitialRebalanceDelay, 0)
		c.armPhase(g, node.TGroupJoin, c.cfg.InitialRebalanceDelay)
		return
	}
	g.initialDelay = false
	c.armPhase(g, node.TGroupJoin, g.rebalanceTimeout())
	c.maybeCompleteJoin(s, g)
}

// maybeCompleteJoin ends the join phase once every member has rejoined
// and no handed-out member id is still to join.
func (c *Coordinator) maybeCompleteJoin(s *shard, g *group) {
	if g.state != preparingRebalance || g.initialDelay {
		return
	}
	for _, m := range g.members {
		if m.join == nil {
			return
		}
	}
	if len(g.pendingIDs) > 0 {
		return
	}
	c.completeJoin(s, g)
}

// completeJoin starts the next generation with the members that rejoined
// (completeClassicGroupJoin, ClassicGroup.initNextGeneration).
func (c *Coordinator) completeJoin(s *shard, g *group) {
	g.initialDelay = false
	for _, m := range slices.Clone(g.members) {
		if m.join == nil && m.instance == "" {
			// Dynamic members only: a static one keeps its place until
			// its session times out (KIP-345).
			c.dropMember(g, m, "it did not rejoin within the rebalance timeout")
		}
	}
	g.pendingIDs = nil
	g.generation++
	if len(g.members) == 0 {
		g.state, g.protocolName, g.leader = empty, "", ""
		c.host.Event(journal.Event{Kind: journal.EvGroupGeneration, Group: g.id, TP: protocol.TopicPartition{Topic: protocol.OffsetsTopic, Partition: s.partition},
			Epoch: g.generation, Leader: protocol.NoLeader, Detail: fmt.Sprintf("group %s is empty at generation %d", g.id, g.generation)})
		c.write(s, []protocol.GroupRecord{g.record()}, func() {}, func(protocol.ErrorCode) {})
		return
	}
	g.protocolName = g.selectProtocol()
	if l := g.member(g.leader); l == nil || l.join == nil {
		// maybeElectNewJoinedLeader: a member that rejoined leads.
		for _, m := range g.members {
			if m.join != nil {
				g.leader = m.id
				break
			}
		}
	}
	g.state = completingRebalance
	ids := make([]string, len(g.members))
	for i, m := range g.members {
		ids[i] = m.id
	}
	c.host.Event(journal.Event{Kind: journal.EvGroupGeneration, Group: g.id, TP: protocol.TopicPartition{Topic: protocol.OffsetsTopic, Partition: s.partition},
		Epoch: g.generation, Leader: protocol.NoLeader, Detail: fmt.Sprintf("group %s generation %d: protocol %s, leader %s, members %v", g.id, g.generation, g.protocolName, g.leader, ids)})
	for _, m := range g.members {
		c.answerJoin(g, m, c.joinResponse(g, m))
		c.scheduleSession(g, m)
	}
	c.armPhase(g, node.TGroupSync, g.rebalanceTimeout())
}

// selectProtocol is the protocol every member supports with the most
// votes, each member voting for its first supported one (ties: the first
// member's order).
func (g *group) selectProtocol() string {
	var names []string
	var votes []int
	for _, m := range g.members {
		for _, p := range m.protocols {
			if g.allSupport(p.Name) {
				i := slices.Index(names, p.Name)
				if i < 0 {
					names, votes = append(names, p.Name), append(votes, 0)
					i = len(names) - 1
				}
				votes[i]++
				break
			}
		}
	}
	best := 0
	for i := range votes {
		if votes[i] > votes[best] {
			best = i
		}
	}
	if len(names) == 0 {
		return ""
	}
	return names[best]
}

func (c *Coordinator) joinResponse(g *group, m *member) protocol.JoinGroupResponse {
	r := protocol.JoinGroupResponse{Generation: g.generation, Protocol: g.protocolName, Leader: g.leader, MemberID: m.id}
	if m.id == g.leader {
		for _, o := range g.members {
			jm := protocol.JoinedMember{MemberID: o.id, InstanceID: o.instance}
			for _, p := range o.protocols {
				if p.Name == g.protocolName {
					jm.Topics, jm.Owned = p.Topics, p.Owned
				}
			}
			r.Members = append(r.Members, jm)
		}
	}
	return r
}

func (c *Coordinator) answerJoin(g *group, m *member, r protocol.JoinGroupResponse) {
	if m.join == nil {
		return
	}
	r.RequestID = m.join.id
	c.send(m.join.to, m.join.id, r)
	m.join = nil
}

func (c *Coordinator) answerSync(m *member, r protocol.SyncGroupResponse) {
	if m.sync == nil {
		return
	}
	r.RequestID = m.sync.id
	c.send(m.sync.to, m.sync.id, r)
	m.sync = nil
}

// record is the group's metadata as a __consumer_offsets record.
func (g *group) record() protocol.GroupRecord {
	r := protocol.GroupRecord{Group: g.id, Generation: g.generation, Protocol: g.protocolName, Leader: g.leader}
	for _, m := range g.members {
		r.Members = append(r.Members, protocol.GroupMember{MemberID: m.id, InstanceID: m.instance, ClientID: m.clientID,
			SessionTimeoutMs: int32(m.sessionTimeout / time.Millisecond), RebalanceTimeoutMs: int32(m.rebalanceTimeout / time.Millisecond),
			Topics: m.topics, Assignment: m.assignment})
	}
	return r
}

func (c *Coordinator) sync(from sim.NodeID, m protocol.SyncGroupRequest) {
	respond := func(err protocol.ErrorCode) {
		c.send(from, m.RequestID, protocol.SyncGroupResponse{RequestID: m.RequestID, Err: err})
	}
	s, err := c.shardOf(m.Group)
	if err != protocol.None {
		respond(err)
		return
	}
	g := s.groups[m.Group]
	var mb *member
	if g != nil {
		mb = g.member(m.MemberID)
	}
	switch {
	case mb == nil:
		respond(protocol.UnknownMemberID)
		return
	case m.Generation != g.generation:
		respond(protocol.IllegalGeneration)
		return
	case g.state == preparingRebalance || g.state == empty:
		respond(protocol.RebalanceInProgress)
		return
	case g.state == stable:
		c.scheduleSession(g, mb)
		c.send(from, m.RequestID, protocol.SyncGroupResponse{RequestID: m.RequestID, Partitions: mb.assignment})
		return
	}
	mb.sync = &reply{from, m.RequestID}
	c.scheduleSession(g, mb)
	if mb.id != g.leader {
		return
	}
	for _, o := range g.members {
		o.assignment = nil
		for _, a := range m.Assignments {
			if a.MemberID == o.id {
				o.assignment = a.Partitions
			}
		}
	}
	generation := g.generation
	c.write(s, []protocol.GroupRecord{g.record()}, func() {}, func(err protocol.ErrorCode) {
		if g.generation != generation || g.state != completingRebalance {
			return
		}
		if err != protocol.None {
			// storeGroup failed: the members hear it and rejoin.
			for _, o := range g.members {
				o.assignment = nil
				c.answerSync(o, protocol.SyncGroupResponse{Err: err})
			}
			c.prepareRebalance(s, g, "its assignment could not be written: "+err.String())
			return
		}
		g.state = stable
		g.phase = 0
		c.host.Event(journal.Event{Kind: journal.EvGroupStable, Group: g.id, TP: protocol.TopicPartition{Topic: protocol.OffsetsTopic, Partition: s.partition},
			Epoch: g.generation, Leader: protocol.NoLeader, Detail: fmt.Sprintf("group %s stable at generation %d with %d members", g.id, g.generation, len(g.members))})
		for _, o := range g.members {
			c.answerSync(o, protocol.SyncGroupResponse{Partitions: o.assignment})
		}
	})
}

func (c *Coordinator) heartbeat(m protocol.HeartbeatRequest) protocol.ErrorCode {
	s, err := c.shardOf(m.Group)
	if err != protocol.None {
		return err
	}
	g := s.groups[m.Group]
	if g == nil || g.state == empty {
		return protocol.UnknownMemberID
	}
	mb := g.member(m.MemberID)
	switch {
	case mb == nil:
		return protocol.UnknownMemberID
	case m.Generation != g.generation:
		return protocol.IllegalGeneration
	}
	c.scheduleSession(g, mb)
	if g.state == preparingRebalance {
		return protocol.RebalanceInProgress
	}
	return protocol.None
}

func (c *Coordinator) leave(m protocol.LeaveGroupRequest) protocol.ErrorCode {
	s, err := c.shardOf(m.Group)
	if err != protocol.None {
		return err
	}
	g := s.groups[m.Group]
	if g == nil {
		return protocol.UnknownMemberID
	}
	mb := g.member(m.MemberID)
	if mb == nil {
		return protocol.UnknownMemberID
	}
	c.removeMember(s, g, mb, "it left the group")
	return protocol.None
}

// removeMember takes a member out and moves the group on
// (removeMemberAndUpdateClassicGroup).
func (c *Coordinator) removeMember(s *shard, g *group, m *member, why string) {
	c.dropMember(g, m, why)
	switch g.state {
	case stable, completingRebalance:
		c.prepareRebalance(s, g, fmt.Sprintf("member %s left: %s", m.id, why))
	case preparingRebalance:
		c.maybeCompleteJoin(s, g)
	}
}

func (c *Coordinator) dropMember(g *group, m *member, why string) {
	c.answerJoin(g, m, protocol.JoinGroupResponse{Err: protocol.UnknownMemberID, Generation: -1})
	c.answerSync(m, protocol.SyncGroupResponse{Err: protocol.UnknownMemberID})
	g.members = slices.DeleteFunc(g.members, func(x *member) bool { return x == m })
	if g.leader == m.id {
		g.leader = ""
		for _, o := range g.members {
			if o.join != nil {
				g.leader = o.id
				break
			}
		}
		if g.leader == "" && len(g.members) > 0 {
			g.leader = g.members[0].id
		}
	}
	c.host.Event(journal.Event{Kind: journal.EvGroupMemberRemoved, Group: g.id, Epoch: g.generation, Leader: protocol.NoLeader,
		Detail: fmt.Sprintf("group %s removed member %s: %s", g.id, m.id, why)})
}

// uuid draws a random UUID (version 4) from the node's seeded stream, as
// Kafka's Uuid.randomUuid names a member.
func uuid(env sim.Env) string {
	r := env.Rand()
	hi, lo := r.Uint64(), r.Uint64()
	hi = hi&^0xF000 | 0x4000
	lo = lo&^(3<<62) | 2<<62
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", hi>>32, hi>>16&0xFFFF, hi&0xFFFF, lo>>48, lo&0xFFFFFFFFFFFF)
}
