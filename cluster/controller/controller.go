// Package controller is the KRaft controller (Kafka's QuorumController
// and its managers): broker registration, heartbeats, sessions and
// fencing, leader election (clean, unclean, preferred, and from the
// eligible leader replicas of KIP-966), AlterPartition, producer ID
// blocks, and the metadata it commits through a raft quorum — or, alone,
// to its own disk — before any effect of a decision leaves it. It imports
// metadata, raft and the monitor it reports to, never a broker or a
// client.
package controller

import (
	"fmt"
	"slices"
	"time"

	"github.com/tideline-sim/tideline/clock"
	"github.com/tideline-sim/tideline/cluster/config"
	"github.com/tideline-sim/tideline/cluster/internal/planted"
	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/cluster/metadata"
	"github.com/tideline-sim/tideline/cluster/monitor"
	"github.com/tideline-sim/tideline/cluster/node"
	"github.com/tideline-sim/tideline/cluster/protocol"
	"github.com/tideline-sim/tideline/cluster/raft"
	"github.com/tideline-sim/tideline/sim"
)

// Controller is a KRaft-style controller node: brokers register and
// heartbeat to it; it fences brokers whose session expires, elects leaders,
// commits ISR changes and pushes metadata.
type Controller struct {
	node.Recyclers // of the messages and timers it makes

	cfg     config.BrokerConfig
	topics  []config.TopicConfig
	dir     node.Directory
	monitor *monitor.Monitor

	env           sim.Env
	st            metadata.State
	lastHeartbeat []clock.Time // volatile: a restarted controller grants every broker a fresh session
	// Volatile too, as KRaft's BrokerHeartbeatManager keeps them: the
	// metadata version each broker last reported, and the version that
	// began each broker's controlled shutdown.
	reported   []int64
	shutdownAt []int64

	// With more than one controller, the quorum (package raft) replicates
	// every decision; the controller acts only while it leads and its
	// epoch's first record has committed, and answers a request only once
	// the decision it made commits.
	index     int
	quorum    *raft.Quorum[metadata.State]
	activated bool
	effects   []effect
	boot      *bool
}

// NewController returns the only controller of a cluster, for the given
// brokers and topics.
func New(cfg config.BrokerConfig, topics []config.TopicConfig, dir node.Directory, monitor *monitor.Monitor) *Controller {
	return &Controller{cfg: cfg, topics: topics, dir: dir, monitor: monitor}
}

// NewQuorumController returns controller index of a quorum of
// len(dir.Controllers).
// boot, while true, says the next start is the formed quorum's first
// (bootstrapQuorum); the start clears it.
func NewVoter(index int, cfg config.BrokerConfig, topics []config.TopicConfig, dir node.Directory, monitor *monitor.Monitor, boot *bool) *Controller {
	return &Controller{cfg: cfg, topics: topics, dir: dir, monitor: monitor, index: index, boot: boot}
}

// active reports whether this controller acts as the cluster's controller.
func (c *Controller) Active() bool { return c.quorum == nil || c.activated }

// Assignment is the replica assignment of a new partition: RF consecutive
// brokers starting at the partition number, as Kafka's round-robin
// assignment without racks spreads leaders over brokers.
func Assignment(partition, replicationFactor, brokers int) []protocol.BrokerID {
	if planted.Bugs.ShortAssignment && replicationFactor > 1 {
		replicationFactor--
	}
	replicas := make([]protocol.BrokerID, replicationFactor)
	for i := range replicas {
		replicas[i] = protocol.BrokerID((partition + i) % brokers)
	}
	return replicas
}

// InitialState is a new cluster's metadata: brokers unregistered, and the
// topics created with every replica in the ISR and the first replica
// leading.
func InitialState(topics []config.TopicConfig, brokers int) metadata.State {
	st := metadata.State{NextBrokerEpoch: 1, NextProducerID: 1000, Brokers: make([]metadata.BrokerRecord, brokers)}
	var partitions []protocol.PartitionState
	for _, t := range topics {
		for p := range t.Partitions {
			replicas := Assignment(p, t.ReplicationFactor, brokers)
			if t.Assignment != nil {
				replicas = slices.Clone(t.Assignment[p])
			}
			partitions = append(partitions, protocol.PartitionState{
				TP:       protocol.TopicPartition{Topic: t.Name, Partition: int32(p)},
				Replicas: replicas,
				ISR:      slices.Clone(replicas),
				Leader:   replicas[0],
			})
		}
	}
	slices.SortFunc(partitions, func(a, b protocol.PartitionState) int { return a.TP.Compare(b.TP) })
	st.Partitions = protocol.TableOf(partitions...)
	return st
}

func (c *Controller) initialState() metadata.State {
	return InitialState(c.topics, len(c.dir.Brokers))
}

// Start recovers the metadata from disk, or creates the cluster's topics
// on first boot.
func (c *Controller) Start(env sim.Env) {
	c.env = env
	if len(c.dir.Controllers) > 1 {
		c.startQuorum(env)
	} else if f := env.Disk().Open(metadata.LogName); f.Len() > 0 {
		last := f.Record(f.Len() - 1).(metadata.State)
		c.st = last.Clone()
	} else {
		c.st = c.initialState()
		c.persist()
	}
	c.grantSessions()
	c.SetTimer(env, c.sessionCheckInterval(), node.Timer{Kind: node.TSessionCheck})
	if c.cfg.AutoLeaderRebalance {
		c.SetTimer(env, c.cfg.LeaderImbalanceCheck, node.Timer{Kind: node.TRebalance})
	}
}

// grantSessions gives every broker a full session from now, and forgets
// what they reported to an earlier controller.
func (c *Controller) grantSessions() {
	n := len(c.dir.Brokers)
	c.lastHeartbeat, c.reported, c.shutdownAt = make([]clock.Time, n), make([]int64, n), make([]int64, n)
	for i := range c.lastHeartbeat {
		c.lastHeartbeat[i] = c.env.Now()
	}
}

// sessionCheckInterval is how often expired sessions are looked for; an
// eighth of the session keeps fencing within 12.5% of the timeout.
func (c *Controller) sessionCheckInterval() time.Duration {
	return max(c.cfg.SessionTimeout/8, time.Millisecond)
}

func (c *Controller) persist() {
	f := c.env.Disk().Open(metadata.LogName)
	f.Truncate(0)
	f.Append(c.st.Clone())
	f.Sync()
}

// image is the metadata as it stands, sharing the partitions' chunks with
// the live state (which copies a chunk before it writes one it shares).
func (c *Controller) image() protocol.Image {
	st := c.st.Clone()
	return st.SharedImage()
}

// commit makes a change durable and tells every registered broker: at
// once for a lone controller, once the quorum commits it otherwise.
func (c *Controller) commit() {
	c.st.Version++
	if c.quorum != nil {
		c.tagEffects(c.quorum.LEO())
		c.quorum.Append(raft.Entry[metadata.State]{Epoch: c.quorum.Epoch(), Value: c.st.Clone()})
		return
	}
	c.persist()
	c.push()
}

// push sends every registered broker the image of the state.
func (c *Controller) push() {
	img := c.image()
	for b, rec := range c.st.Brokers {
		if rec.Registered {
			c.env.Send(c.dir.Node(protocol.BrokerID(b)), protocol.UpdateMetadata{Image: img})
		}
	}
}

// respond answers a request, once the decisions made so far are committed.
func (c *Controller) respond(to sim.NodeID, msg sim.Message) {
	if q := c.quorum; q != nil && q.HW() < q.LEO() {
		c.effects = append(c.effects, effect{entry: q.LEO() - 1, do: func() { c.env.Send(to, msg) }})
		return
	}
	c.env.Send(to, msg)
}

func (c *Controller) Receive(env sim.Env, from sim.NodeID, msg sim.Message) {
	if _, stop := msg.(node.Terminate); stop {
		// An orderly stop: a leading voter first ends its epoch, so that
		// the others elect a successor at once (KIP-595's EndQuorumEpoch);
		// the metadata log is synced on every append, nothing else to
		// flush.
		if c.quorum != nil {
			c.quorum.Resign()
		}
		env.Exit()
		return
	}
	if c.quorum != nil {
		defer c.applyEffects(true)
		if c.quorum.Handle(from, msg) {
			return
		}
	}
	if !c.Active() {
		switch msg.(type) {
		case protocol.BrokerRegistration, protocol.BrokerHeartbeat, protocol.AlterPartitionRequest, protocol.AllocateProducerIDRequest:
			// Name the leader: another controller, or this one while its
			// first record has yet to commit.
			leader := sim.NodeID(-1)
			if q := c.quorum; q.Leader() >= 0 {
				leader = c.dir.Controllers[q.Leader()]
			}
			env.Send(from, node.NotController{Leader: leader, Request: msg})
		}
		return
	}
	switch m := msg.(type) {
	case protocol.BrokerRegistration:
		c.register(from, m)
	case protocol.BrokerHeartbeat:
		c.heartbeat(from, m)
	case protocol.AlterPartitionRequest:
		c.respond(from, c.alterPartition(m))
	case protocol.AllocateProducerIDRequest:
		pid := c.st.NextProducerID
		c.st.NextProducerID++
		c.commit()
		c.respond(from, protocol.AllocateProducerIDResponse{Client: m.Client, RequestID: m.RequestID, ProducerID: pid})
	}
}

func (c *Controller) Timer(env sim.Env, t sim.Timer) {
	if c.quorum != nil {
		defer c.applyEffects(true)
	}
	switch tm := *t.(*node.Timer); tm.Kind {
	case node.TSessionCheck:
		if c.Active() {
			c.fenceExpired()
		}
		c.SetTimer(env, c.sessionCheckInterval(), tm)
	case node.TRebalance:
		if c.Active() {
			c.preferredElection()
		}
		c.SetTimer(env, c.cfg.LeaderImbalanceCheck, tm)
	case node.TNoOp:
		// metadata.max.idle.interval.ms: while active, a NoOp record keeps
		// the log (and every follower's and observer's view of it) moving.
		if q := c.quorum; c.Active() && int32(tm.ID) == q.Epoch() {
			q.Append(raft.Entry[metadata.State]{Epoch: q.Epoch(), NoOp: true, Value: q.LastValue()})
			c.SetTimer(env, c.cfg.Quorum.NoOpInterval, tm)
		}
	default:
		if c.quorum != nil {
			c.quorum.Timer(tm)
		}
	}
}

// register gives a new broker incarnation a new broker epoch, as KRaft's
// ClusterControlManager.registerBroker does. While the previous
// incarnation's session is still valid the registration is refused with
// DUPLICATE_BROKER_REGISTRATION and the broker retries: the old session
// must expire, and the broker be fenced (out of every ISR, its leaderships
// moved with new leader epochs), before the new incarnation joins. So a
// leader epoch never names two different logs of one broker — a power loss
// between them included. A broker that stopped cleanly was fenced as its
// controlled shutdown ended, and registers at once.
//
// With ELR on, a restart after an unclean shutdown takes the broker out of
// every ISR and ELR (KIP-966: its log may have lost what made it
// eligible); a clean one — the PreviousBrokerEpoch from its clean-shutdown
// marker equals the epoch registered last (KAFKA-18635) — keeps them.
func (c *Controller) register(from sim.NodeID, m protocol.BrokerRegistration) {
	if int(m.Broker) >= len(c.st.Brokers) || c.dir.Node(m.Broker) != from {
		return
	}
	rec := &c.st.Brokers[m.Broker]
	now := c.env.Now()
	if rec.Registered && rec.Incarnation != m.Incarnation {
		if !rec.Fenced && now.Sub(c.lastHeartbeat[m.Broker]) <= c.cfg.SessionTimeout {
			c.event(journal.Event{Kind: journal.EvRegistrationRefused, Leader: protocol.NoLeader, Broker: m.Broker,
				Detail: fmt.Sprintf("broker %d registration refused: its previous incarnation's session is valid until %v", m.Broker, c.lastHeartbeat[m.Broker].Add(c.cfg.SessionTimeout))})
			c.respond(from, protocol.BrokerRegistrationResponse{Broker: m.Broker, Incarnation: m.Incarnation, Err: protocol.DuplicateBrokerRegistration})
			return
		}
		if !rec.Fenced {
			// The session ran out before the periodic check fenced it.
			c.fence(m.Broker, fmt.Sprintf("no heartbeat for %v", c.cfg.SessionTimeout))
		}
		if c.cfg.ELR && !cleanRestart(*rec, m) {
			c.forgetUnclean(m.Broker)
		}
	}
	c.lastHeartbeat[m.Broker] = now
	if !rec.Registered || rec.Incarnation != m.Incarnation {
		rec.Registered = true
		rec.Incarnation = m.Incarnation
		rec.InControlledShutdown = false
		rec.Epoch = c.st.NextBrokerEpoch
		c.st.NextBrokerEpoch++
		c.event(journal.Event{Kind: journal.EvRegistered, Leader: protocol.NoLeader, Broker: m.Broker, Detail: fmt.Sprintf("broker %d registered with epoch %d", m.Broker, rec.Epoch)})
		c.commit()
	}
	c.respond(from, protocol.BrokerRegistrationResponse{Broker: m.Broker, Incarnation: m.Incarnation, BrokerEpoch: rec.Epoch, Image: c.image()})
}

// cleanRestart reports whether a registration follows a clean shutdown of
// the incarnation rec records.
func cleanRestart(rec metadata.BrokerRecord, m protocol.BrokerRegistration) bool {
	return m.PreviousBrokerEpoch > 0 && m.PreviousBrokerEpoch == rec.Epoch
}

func (c *Controller) heartbeat(from sim.NodeID, m protocol.BrokerHeartbeat) {
	if int(m.Broker) >= len(c.st.Brokers) || c.dir.Node(m.Broker) != from {
		return
	}
	rec := &c.st.Brokers[m.Broker]
	if !rec.Registered || rec.Epoch != m.BrokerEpoch {
		c.respond(from, protocol.BrokerHeartbeatResponse{Err: protocol.StaleBrokerEpoch, Fenced: true})
		return
	}
	c.lastHeartbeat[m.Broker] = c.env.Now()
	c.reported[m.Broker] = m.MetadataVersion
	if m.WantShutDown {
		c.respond(from, c.controlledShutdown(m.Broker))
		return
	}
	if rec.Fenced {
		c.unfence(m.Broker)
	}
	resp := protocol.BrokerHeartbeatResponse{Fenced: rec.Fenced}
	if m.MetadataVersion < c.st.Version && c.quorum == nil {
		resp.HasImage, resp.Image = true, c.image() // with a quorum, brokers fetch the log
	}
	c.respond(from, resp)
}

func (c *Controller) fenceExpired() {
	now := c.env.Now()
	changed := false
	for b := range c.st.Brokers {
		rec := &c.st.Brokers[b]
		if !rec.Fenced && now.Sub(c.lastHeartbeat[b]) > c.cfg.SessionTimeout {
			c.fence(protocol.BrokerID(b), fmt.Sprintf("no heartbeat for %v", c.cfg.SessionTimeout))
			changed = true
		}
	}
	if changed {
		c.commit()
	}
}

// fence takes a broker out of service: out of every ISR (unless it is the
// last member, which stays as Kafka's "last replica standing"), and every
// partition it led gets a new leader — or none.
func (c *Controller) fence(b protocol.BrokerID, why string) {
	c.st.Brokers[b].Fenced = true
	c.event(journal.Event{Kind: journal.EvFenced, Leader: protocol.NoLeader, Broker: b, Detail: fmt.Sprintf("broker %d fenced: %s", b, why)})
	for i := range c.st.Partitions.Len() {
		p := c.st.Partitions.At(i)
		if !slices.Contains(p.Replicas, b) {
			continue
		}
		changed := false
		// Without ELR the last ISR member stays ("last replica standing");
		// with it the ISR may empty, its members kept as eligible.
		if p.InISR(b) && (len(p.ISR) > 1 || c.cfg.ELR) && !planted.Bugs.FencedStaysInISR {
			detail := fmt.Sprintf("isr %v -> ", p.ISR)
			c.setISR(&p, slices.DeleteFunc(slices.Clone(p.ISR), func(r protocol.BrokerID) bool { return r == b }))
			changed = true
			if p.Leader != b {
				c.partitionEvent(journal.EvISRShrink, p, b, detail+fmt.Sprint(p.ISR)+fmt.Sprintf(" (broker %d fenced)", b))
			}
		}
		if p.Leader == b {
			c.electInto(&p, journal.EvElected)
			changed = true
		}
		if changed {
			p.PartitionEpoch++
			c.st.Partitions.Set(i, p)
		}
	}
	if c.monitor != nil {
		fenced := c.st.Partitions.Slice() // as this fencing leaves them
		c.afterCommit(func() { c.monitor.BrokerFenced(c.env.Now(), b, fenced) })
	}
}

func (c *Controller) unfence(b protocol.BrokerID) {
	c.st.Brokers[b].Fenced = false
	c.event(journal.Event{Kind: journal.EvUnfenced, Leader: protocol.NoLeader, Broker: b, Detail: fmt.Sprintf("broker %d unfenced", b)})
	for i := range c.st.Partitions.Len() {
		p := c.st.Partitions.At(i)
		if p.Leader == protocol.NoLeader && slices.Contains(p.Replicas, b) {
			if c.electInto(&p, journal.EvElected) {
				p.PartitionEpoch++
				c.st.Partitions.Set(i, p)
			}
		}
	}
	c.commit()
}

// eligible reports whether a broker may lead or join an ISR: registered,
// unfenced and not in controlled shutdown (ClusterControlManager.isActive).
func (c *Controller) eligible(b protocol.BrokerID) bool {
	rec := c.st.Brokers[b]
	return rec.Registered && !rec.Fenced && !rec.InControlledShutdown
}

// electInto picks a new leader for p and bumps its leader epoch: the first
// replica in assignment order that is in the ISR and active (recorded as
// clean, the kind of clean election the caller names); failing that, with
// unclean election on, the first active replica at all, whose log becomes
// the truth. It reports whether the leader changed.
func (c *Controller) electInto(p *protocol.PartitionState, clean journal.EventKind) bool {
	old := p.Leader
	p.Leader = protocol.NoLeader
	kind := journal.EvOffline
	if c.cfg.AutomaticLeaderElection {
		for _, r := range p.Replicas {
			if p.InISR(r) && c.eligible(r) {
				p.Leader, kind = r, clean
				break
			}
		}
		if p.Leader == protocol.NoLeader && c.cfg.ELR && len(p.ISR) == 0 {
			p.Leader, kind = c.electFromELR(p)
		}
		if p.Leader == protocol.NoLeader && c.uncleanEnabled(p.TP.Topic) {
			for _, r := range p.Replicas {
				if c.eligible(r) {
					p.Leader, kind = r, journal.EvUncleanElected
					p.ISR = []protocol.BrokerID{r}
					p.ELR = nil
					break
				}
			}
		}
		if p.Leader != protocol.NoLeader {
			p.LastKnownELR = nil
		}
	}
	if p.Leader == old {
		return false
	}
	p.LeaderEpoch++
	detail := fmt.Sprintf("leader %d -> %d at epoch %d, isr %v", old, p.Leader, p.LeaderEpoch, p.ISR)
	c.partitionEvent(kind, *p, p.Leader, detail)
	return true
}

func (c *Controller) uncleanEnabled(topic string) bool {
	if planted.Bugs.UncleanAlways {
		return true
	}
	for _, t := range c.topics {
		if t.Name == topic && t.UncleanLeaderElection != nil {
			return *t.UncleanLeaderElection
		}
	}
	return c.cfg.UncleanLeaderElection
}

// preferredElection moves leadership back to each partition's first
// replica when it is in the ISR and unfenced (auto.leader.rebalance.enable).
func (c *Controller) preferredElection() {
	changed := false
	for i := range c.st.Partitions.Len() {
		p := c.st.Partitions.At(i)
		if c.preferInto(&p) {
			c.st.Partitions.Set(i, p)
			changed = true
		}
	}
	if changed {
		c.commit()
	}
}

// preferInto gives p's leadership back to its first replica when that is
// in the ISR and unfenced, and reports whether it did.
func (c *Controller) preferInto(p *protocol.PartitionState) bool {
	pref := p.Replicas[0]
	if p.Leader == pref || !p.InISR(pref) && !planted.Bugs.PreferredAnyLive || !c.eligible(pref) {
		return false
	}
	p.Leader = pref
	p.LeaderEpoch++
	p.PartitionEpoch++
	c.partitionEvent(journal.EvPreferredElected, *p, pref, fmt.Sprintf("leadership back to preferred broker %d at epoch %d", pref, p.LeaderEpoch))
	return true
}

// ElectPreferred is an operator's preferred election of a partition
// (kafka-leader-election.sh --election-type preferred): its first replica
// leads, if it is in the ISR and live; otherwise nothing changes (Kafka's
// PREFERRED_LEADER_NOT_AVAILABLE, or ELECTION_NOT_NEEDED when it leads
// already). It reports whether the leader changed.
func (c *Controller) ElectPreferred(tp protocol.TopicPartition) bool {
	i, ok := c.partitionIndex(tp)
	if !ok {
		return false
	}
	p := c.st.Partitions.At(i)
	if !c.preferInto(&p) {
		return false
	}
	c.st.Partitions.Set(i, p)
	c.commit()
	return true
}

// partitionIndex finds tp in the controller's state, sorted by TP.
func (c *Controller) partitionIndex(tp protocol.TopicPartition) (int, bool) {
	return c.st.Partitions.Find(tp)
}

// ElectLeader is an operator's election of a partition's leader (what
// kafka-leader-election.sh asks for); unclean allows any live replica.
// It reports whether a leader was elected.
func (c *Controller) ElectLeader(tp protocol.TopicPartition, unclean bool) bool {
	i, ok := c.partitionIndex(tp)
	if !ok {
		return false
	}
	p := c.st.Partitions.At(i)
	if p.Leader != protocol.NoLeader && c.eligible(p.Leader) {
		return false
	}
	saved := c.cfg
	c.cfg.AutomaticLeaderElection = true
	if unclean {
		c.cfg.UncleanLeaderElection = true
	}
	changed := c.electInto(&p, journal.EvElected)
	c.cfg = saved
	if changed {
		p.PartitionEpoch++
		c.st.Partitions.Set(i, p)
		c.commit()
	}
	return changed
}

// alterPartition validates and commits a leader's ISR change, as KRaft's
// ReplicationControlManager does: the request must come from the current
// leader at the current epochs, and every replica added must be live with
// the broker epoch the leader saw.
func (c *Controller) alterPartition(m protocol.AlterPartitionRequest) protocol.AlterPartitionResponse {
	resp := protocol.AlterPartitionResponse{RequestID: m.RequestID, TP: m.TP}
	i, ok := c.partitionIndex(m.TP)
	if !ok {
		resp.Err = protocol.UnknownTopicOrPartition
		return resp
	}
	p := c.st.Partitions.At(i)
	resp.State = p
	switch rec := c.st.Brokers[m.Broker]; {
	case !rec.Registered || rec.Fenced || rec.Epoch != m.BrokerEpoch:
		resp.Err = protocol.StaleBrokerEpoch
	case p.Leader != m.Broker || p.LeaderEpoch != m.LeaderEpoch:
		resp.Err = protocol.FencedLeaderEpoch
	case p.PartitionEpoch != m.PartitionEpoch:
		resp.Err = protocol.InvalidUpdateVersion
	case !slices.Contains(m.NewISR, m.Broker):
		resp.Err = protocol.InvalidUpdateVersion
	}
	if resp.Err != protocol.None {
		return resp
	}
	for j, r := range m.NewISR {
		// KIP-903: a joining replica must be live with the broker epoch
		// the leader saw; -1 (a leader before 3.5) skips the epoch check.
		if !p.InISR(r) && (!c.eligible(r) || m.ISREpochs[j] != -1 && c.st.Brokers[r].Epoch != m.ISREpochs[j]) {
			c.partitionEvent(journal.EvIneligibleReplica, p, r, fmt.Sprintf("isr %v -> %v refused: broker %d is not live with the broker epoch %d the leader saw (current %d)", p.ISR, m.NewISR, r, m.ISREpochs[j], c.st.Brokers[r].Epoch))
			resp.Err = protocol.IneligibleReplica
			return resp
		}
	}
	kind := journal.EvISRExpand
	if len(m.NewISR) < len(p.ISR) {
		kind = journal.EvISRShrink
	}
	detail := fmt.Sprintf("isr %v -> %v", p.ISR, m.NewISR)
	var added []protocol.BrokerID
	for _, r := range m.NewISR {
		if !p.InISR(r) {
			added = append(added, r)
		}
	}
	c.setISR(&p, slices.Clone(m.NewISR))
	p.PartitionEpoch++
	c.partitionEvent(kind, p, m.Broker, detail)
	expanded := p // as the leader's request left it, before a reassignment completes
	c.completeReassignment(&p)
	c.st.Partitions.Set(i, p)
	c.commit()
	if c.monitor != nil && len(added) > 0 {
		c.afterCommit(func() { c.monitor.ISRExpanded(c.env.Now(), expanded, added) })
	}
	resp.State = p
	return resp
}

// partitionEvent records a change to a partition with the state after it.
func (c *Controller) partitionEvent(kind journal.EventKind, p protocol.PartitionState, broker protocol.BrokerID, detail string) {
	c.event(journal.Event{Kind: kind, TP: p.TP, Epoch: p.LeaderEpoch, Broker: broker, Detail: detail, Leader: p.Leader, ISR: slices.Clone(p.ISR), ELR: slices.Clone(p.ELR)})
}

// event records a decision's event: at once for a lone controller; in a
// quorum, once the record it went into commits (a decision a deposed
// leader never committed did not happen).
func (c *Controller) event(e journal.Event) {
	c.afterCommit(func() {
		e.Time, e.Node = c.env.Now(), c.env.Name()
		if c.monitor != nil {
			c.monitor.Add(e)
		}
	})
}

// effect is something a decision does to the world outside the quorum
// (an answer sent, an event told, the monitor told), held until the
// decision commits.
type effect struct {
	entry int64 // the log entry it waits for; -1 until the decision is appended
	do    func()
}

// afterCommit does f once the decision being made commits. A decision
// that appends nothing (a refusal) takes effect when its message or timer
// has been handled.
func (c *Controller) afterCommit(f func()) {
	if c.quorum == nil {
		f()
		return
	}
	c.effects = append(c.effects, effect{entry: -1, do: f})
}

// tagEffects ties the effects waiting for a decision to its log entry.
func (c *Controller) tagEffects(entry int64) {
	for i := range c.effects {
		if c.effects[i].entry < 0 {
			c.effects[i].entry = entry
		}
	}
}

// applyEffects does every effect whose entry has committed (and, at the end
// of a handler, those no entry followed).
func (c *Controller) applyEffects(untagged bool) {
	hw := int64(0)
	if c.quorum != nil {
		hw = c.quorum.HW()
	}
	var kept []effect
	for _, e := range c.effects {
		if e.entry >= 0 && e.entry < hw || e.entry < 0 && untagged {
			e.do()
		} else {
			kept = append(kept, e)
		}
	}
	c.effects = kept
}

// startQuorum joins the controller quorum: the metadata log and quorum
// state come back from disk; until this controller leads and its epoch's
// first record commits, it only replicates.
func (c *Controller) startQuorum(env sim.Env) {
	c.activated, c.effects = false, nil
	c.quorum = raft.New(c.cfg.Quorum, c.cfg.Retransmit, c.index, c.dir.Controllers, metadata.LogName, raft.Observer[metadata.State](c.monitor), c.committed, c.leading)
	c.monitor.JoinQuorum(c.index, c.quorum)
	first := c.boot != nil && *c.boot
	if c.boot != nil {
		*c.boot = false
	}
	c.quorum.Start(env, first)
	c.st = c.initialState()
	if c.quorum.LEO() > 0 {
		last := c.quorum.LastValue()
		c.st = last.Clone()
	}
}

// committed follows the quorum's high watermark: a follower takes the
// committed state; the leader activates once its LeaderChange record
// commits, then sends the answers and metadata its committed decisions
// allow.
func (c *Controller) committed() {
	q := c.quorum
	st, _ := q.Committed()
	if !q.Leading() {
		c.st = st.Clone()
		return
	}
	if !c.activated {
		if q.CommittedEpoch() != q.Epoch() {
			return
		}
		// KRaft's ClusterControlManager.activate: every registered broker
		// gets a full session from now before it can be fenced.
		c.activated = true
		last := q.LastValue()
		c.st = last.Clone()
		if c.st.Brokers == nil {
			c.st = c.initialState()
		}
		c.grantSessions()
		c.monitor.Event(c.env.Now(), c.env.Name(), q.Self(), journal.EvControllerActive, q.Epoch(), q.Self(), fmt.Sprintf("controller-%d is the active controller (epoch %d)", q.Self(), q.Epoch()))
		c.SetTimer(c.env, c.cfg.Quorum.NoOpInterval, node.Timer{Kind: node.TNoOp, ID: uint64(q.Epoch())})
		if st.Brokers == nil {
			c.commit() // the cluster's first metadata: its topics
			return
		}
	}
	c.applyEffects(false)
	// Brokers fetch the metadata log as observers: nothing to push.
}

// leading hears that this controller stopped leading: decisions not yet
// committed are dropped, as KRaft's controller renounces them.
func (c *Controller) leading(leader bool) {
	if leader {
		return
	}
	c.activated, c.effects = false, nil
	st, _ := c.quorum.Committed()
	c.st = st.Clone()
	if c.st.Brokers == nil {
		c.st = c.initialState()
	}
}

// Node is the controller's node.
func (c *Controller) Node() sim.NodeID { return c.env.Self() }
