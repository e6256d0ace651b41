package cluster

import (
	"fmt"
	"slices"
	"time"

	"github.com/tideline-sim/tideline/clock"
	"github.com/tideline-sim/tideline/sim"
)

// Directory is the static address book every node is configured with:
// where the controller is (controller.quorum.voters) and which node each
// broker ID runs on (bootstrap.servers).
type Directory struct {
	Controller sim.NodeID
	Brokers    []sim.NodeID // indexed by BrokerID
}

func (d Directory) node(b BrokerID) sim.NodeID { return d.Brokers[b] }

func (d Directory) brokerOf(n sim.NodeID) (BrokerID, bool) {
	i := slices.Index(d.Brokers, n)
	return BrokerID(i), i >= 0
}

// brokerRecord is the controller's record of one broker.
type brokerRecord struct {
	Registered  bool
	Incarnation uint64
	Epoch       int64
	Fenced      bool
}

// controllerState is everything the controller decides with. In KRaft it is
// the replicated metadata log; here it is snapshotted to the controller's
// disk and synced on every change, so a restarted controller resumes where
// it stopped. Keeping it in one value keeps the later step to a Raft quorum
// small: this is the state machine the quorum would replicate.
type controllerState struct {
	Version         int64
	NextBrokerEpoch int64
	NextProducerID  int64
	Brokers         []brokerRecord   // indexed by BrokerID
	Partitions      []PartitionState // sorted by TP
}

const metadataFile = "__cluster_metadata"

// Controller is a KRaft-style controller node: brokers register and
// heartbeat to it; it fences brokers whose session expires, elects leaders,
// commits ISR changes and pushes metadata.
type Controller struct {
	cfg     BrokerConfig
	topics  []TopicConfig
	dir     Directory
	journal *Journal

	env           sim.Env
	st            controllerState
	lastHeartbeat []clock.Time // volatile: a restarted controller grants every broker a fresh session
}

// NewController returns a controller for the given brokers and topics.
func NewController(cfg BrokerConfig, topics []TopicConfig, dir Directory, journal *Journal) *Controller {
	return &Controller{cfg: cfg, topics: topics, dir: dir, journal: journal}
}

// Assignment is the replica assignment of a new partition: RF consecutive
// brokers starting at the partition number, as Kafka's round-robin
// assignment without racks spreads leaders over brokers.
func Assignment(partition, replicationFactor, brokers int) []BrokerID {
	replicas := make([]BrokerID, replicationFactor)
	for i := range replicas {
		replicas[i] = BrokerID((partition + i) % brokers)
	}
	return replicas
}

func (c *Controller) initialState() controllerState {
	st := controllerState{NextBrokerEpoch: 1, NextProducerID: 1000, Brokers: make([]brokerRecord, len(c.dir.Brokers))}
	for _, t := range c.topics {
		for p := range t.Partitions {
			replicas := Assignment(p, t.ReplicationFactor, len(c.dir.Brokers))
			st.Partitions = append(st.Partitions, PartitionState{
				TP:       TopicPartition{t.Name, int32(p)},
				Replicas: replicas,
				ISR:      slices.Clone(replicas),
				Leader:   replicas[0],
			})
		}
	}
	slices.SortFunc(st.Partitions, func(a, b PartitionState) int { return a.TP.Compare(b.TP) })
	return st
}

// Start recovers the metadata from disk, or creates the cluster's topics
// on first boot.
func (c *Controller) Start(env sim.Env) {
	c.env = env
	f := env.Disk().Open(metadataFile)
	if n := f.Len(); n > 0 {
		c.st = f.Record(n - 1).(controllerState).clone()
	} else {
		c.st = c.initialState()
		c.persist()
	}
	c.lastHeartbeat = make([]clock.Time, len(c.dir.Brokers))
	for i := range c.lastHeartbeat {
		c.lastHeartbeat[i] = env.Now()
	}
	env.SetTimer(c.sessionCheckInterval(), timer{kind: tSessionCheck})
	if c.cfg.AutoLeaderRebalance {
		env.SetTimer(c.cfg.LeaderImbalanceCheck, timer{kind: tRebalance})
	}
}

// sessionCheckInterval is how often expired sessions are looked for; an
// eighth of the session keeps fencing within 12.5% of the timeout.
func (c *Controller) sessionCheckInterval() time.Duration {
	return max(c.cfg.SessionTimeout/8, time.Millisecond)
}

func (s controllerState) clone() controllerState {
	s.Brokers = slices.Clone(s.Brokers)
	s.Partitions = slices.Clone(s.Partitions) // elements are copy-on-write
	return s
}

func (c *Controller) persist() {
	f := c.env.Disk().Open(metadataFile)
	f.Truncate(0)
	f.Append(c.st.clone())
	f.Sync()
}

func (c *Controller) image() Image {
	brokers := make([]BrokerState, len(c.st.Brokers))
	for i, rec := range c.st.Brokers {
		brokers[i] = BrokerState{Epoch: rec.Epoch, Fenced: rec.Fenced || !rec.Registered}
	}
	return Image{Version: c.st.Version, Partitions: slices.Clone(c.st.Partitions), Brokers: brokers}
}

// commit makes a change durable and tells every registered broker.
func (c *Controller) commit() {
	c.st.Version++
	c.persist()
	img := c.image()
	for b, rec := range c.st.Brokers {
		if rec.Registered {
			c.env.Send(c.dir.node(BrokerID(b)), UpdateMetadata{Image: img})
		}
	}
}

func (c *Controller) Receive(env sim.Env, from sim.NodeID, msg sim.Message) {
	switch m := msg.(type) {
	case BrokerRegistration:
		c.register(from, m)
	case BrokerHeartbeat:
		c.heartbeat(from, m)
	case AlterPartitionRequest:
		env.Send(from, c.alterPartition(m))
	case AllocateProducerIDRequest:
		pid := c.st.NextProducerID
		c.st.NextProducerID++
		c.commit()
		env.Send(from, AllocateProducerIDResponse{Client: m.Client, RequestID: m.RequestID, ProducerID: pid})
	}
}

func (c *Controller) Timer(env sim.Env, t sim.Timer) {
	switch t.(timer).kind {
	case tSessionCheck:
		c.fenceExpired()
		env.SetTimer(c.sessionCheckInterval(), t)
	case tRebalance:
		c.preferredElection()
		env.SetTimer(c.cfg.LeaderImbalanceCheck, t)
	}
}

// register gives a new broker incarnation a new broker epoch, as KRaft's
// ClusterControlManager.registerBroker does. While the previous
// incarnation's session is still valid the registration is refused with
// DUPLICATE_BROKER_REGISTRATION and the broker retries: the old session
// must expire, and the broker be fenced (out of every ISR, its leaderships
// moved with new leader epochs), before the new incarnation joins. So a
// leader epoch never names two different logs of one broker — a power loss
// between them included. (KIP-966's unclean-shutdown detection, which also
// takes a re-registered broker out of the ISRs, is not modelled here.)
func (c *Controller) register(from sim.NodeID, m BrokerRegistration) {
	if int(m.Broker) >= len(c.st.Brokers) || c.dir.node(m.Broker) != from {
		return
	}
	rec := &c.st.Brokers[m.Broker]
	now := c.env.Now()
	if rec.Registered && rec.Incarnation != m.Incarnation {
		if !rec.Fenced && now.Sub(c.lastHeartbeat[m.Broker]) <= c.cfg.SessionTimeout {
			c.event(Event{Kind: EvRegistrationRefused, Leader: NoLeader, Broker: m.Broker,
				Detail: fmt.Sprintf("broker %d registration refused: its previous incarnation's session is valid until %v", m.Broker, c.lastHeartbeat[m.Broker].Add(c.cfg.SessionTimeout))})
			c.env.Send(from, BrokerRegistrationResponse{Broker: m.Broker, Incarnation: m.Incarnation, Err: DuplicateBrokerRegistration})
			return
		}
		if !rec.Fenced {
			// The session ran out before the periodic check fenced it.
			c.fence(m.Broker)
		}
		if c.cfg.ELR {
			c.forgetUnclean(m.Broker)
		}
	}
	c.lastHeartbeat[m.Broker] = now
	if !rec.Registered || rec.Incarnation != m.Incarnation {
		rec.Registered = true
		rec.Incarnation = m.Incarnation
		rec.Epoch = c.st.NextBrokerEpoch
		c.st.NextBrokerEpoch++
		c.event(Event{Kind: EvRegistered, Leader: NoLeader, Broker: m.Broker, Detail: fmt.Sprintf("broker %d registered with epoch %d", m.Broker, rec.Epoch)})
		c.commit()
	}
	c.env.Send(from, BrokerRegistrationResponse{Broker: m.Broker, Incarnation: m.Incarnation, BrokerEpoch: rec.Epoch, Image: c.image()})
}

func (c *Controller) heartbeat(from sim.NodeID, m BrokerHeartbeat) {
	if int(m.Broker) >= len(c.st.Brokers) || c.dir.node(m.Broker) != from {
		return
	}
	rec := &c.st.Brokers[m.Broker]
	if !rec.Registered || rec.Epoch != m.BrokerEpoch {
		c.env.Send(from, BrokerHeartbeatResponse{Err: StaleBrokerEpoch, Fenced: true})
		return
	}
	c.lastHeartbeat[m.Broker] = c.env.Now()
	if rec.Fenced {
		c.unfence(m.Broker)
	}
	resp := BrokerHeartbeatResponse{Fenced: rec.Fenced}
	if m.MetadataVersion < c.st.Version {
		resp.HasImage, resp.Image = true, c.image()
	}
	c.env.Send(from, resp)
}

func (c *Controller) fenceExpired() {
	now := c.env.Now()
	changed := false
	for b := range c.st.Brokers {
		rec := &c.st.Brokers[b]
		if !rec.Fenced && now.Sub(c.lastHeartbeat[b]) > c.cfg.SessionTimeout {
			c.fence(BrokerID(b))
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
func (c *Controller) fence(b BrokerID) {
	c.st.Brokers[b].Fenced = true
	c.event(Event{Kind: EvFenced, Leader: NoLeader, Broker: b, Detail: fmt.Sprintf("broker %d fenced: no heartbeat for %v", b, c.cfg.SessionTimeout)})
	for i := range c.st.Partitions {
		p := c.st.Partitions[i]
		if !slices.Contains(p.Replicas, b) {
			continue
		}
		changed := false
		// Without ELR the last ISR member stays ("last replica standing");
		// with it the ISR may empty, its members kept as eligible.
		if p.inISR(b) && (len(p.ISR) > 1 || c.cfg.ELR) {
			detail := fmt.Sprintf("isr %v -> ", p.ISR)
			c.setISR(&p, slices.DeleteFunc(slices.Clone(p.ISR), func(r BrokerID) bool { return r == b }))
			changed = true
			if p.Leader != b {
				c.partitionEvent(EvISRShrink, p, b, detail+fmt.Sprint(p.ISR)+fmt.Sprintf(" (broker %d fenced)", b))
			}
		}
		if p.Leader == b {
			c.electInto(&p)
			changed = true
		}
		if changed {
			p.PartitionEpoch++
			c.st.Partitions[i] = p
		}
	}
}

func (c *Controller) unfence(b BrokerID) {
	c.st.Brokers[b].Fenced = false
	c.event(Event{Kind: EvUnfenced, Leader: NoLeader, Broker: b, Detail: fmt.Sprintf("broker %d unfenced", b)})
	for i := range c.st.Partitions {
		p := c.st.Partitions[i]
		if p.Leader == NoLeader && slices.Contains(p.Replicas, b) {
			if c.electInto(&p) {
				p.PartitionEpoch++
				c.st.Partitions[i] = p
			}
		}
	}
	c.commit()
}

func (c *Controller) eligible(b BrokerID) bool {
	rec := c.st.Brokers[b]
	return rec.Registered && !rec.Fenced
}

// electInto picks a new leader for p and bumps its leader epoch: the first
// replica in assignment order that is in the ISR and unfenced; failing
// that, with unclean election on, the first unfenced replica at all, whose
// log becomes the truth. It reports whether the leader changed.
func (c *Controller) electInto(p *PartitionState) bool {
	old := p.Leader
	p.Leader = NoLeader
	kind := EvOffline
	if c.cfg.AutomaticLeaderElection {
		for _, r := range p.Replicas {
			if p.inISR(r) && c.eligible(r) {
				p.Leader, kind = r, EvElected
				break
			}
		}
		if p.Leader == NoLeader && c.cfg.ELR && len(p.ISR) == 0 {
			p.Leader, kind = c.electFromELR(p)
		}
		if p.Leader == NoLeader && c.uncleanEnabled(p.TP.Topic) {
			for _, r := range p.Replicas {
				if c.eligible(r) {
					p.Leader, kind = r, EvUncleanElected
					p.ISR = []BrokerID{r}
					p.ELR = nil
					break
				}
			}
		}
		if p.Leader != NoLeader {
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
	for i := range c.st.Partitions {
		p := c.st.Partitions[i]
		pref := p.Replicas[0]
		if p.Leader == pref || !p.inISR(pref) || !c.eligible(pref) {
			continue
		}
		p.Leader = pref
		p.LeaderEpoch++
		p.PartitionEpoch++
		c.st.Partitions[i] = p
		c.partitionEvent(EvPreferredElected, p, pref, fmt.Sprintf("leadership back to preferred broker %d at epoch %d", pref, p.LeaderEpoch))
		changed = true
	}
	if changed {
		c.commit()
	}
}

// ElectLeader is an operator's election of a partition's leader (what
// kafka-leader-election.sh asks for); unclean allows any live replica.
// It reports whether a leader was elected.
func (c *Controller) ElectLeader(tp TopicPartition, unclean bool) bool {
	i, ok := slices.BinarySearchFunc(c.st.Partitions, tp, func(s PartitionState, tp TopicPartition) int { return s.TP.Compare(tp) })
	if !ok {
		return false
	}
	p := c.st.Partitions[i]
	if p.Leader != NoLeader && c.eligible(p.Leader) {
		return false
	}
	saved := c.cfg
	c.cfg.AutomaticLeaderElection = true
	if unclean {
		c.cfg.UncleanLeaderElection = true
	}
	changed := c.electInto(&p)
	c.cfg = saved
	if changed {
		p.PartitionEpoch++
		c.st.Partitions[i] = p
		c.commit()
	}
	return changed
}

// alterPartition validates and commits a leader's ISR change, as KRaft's
// ReplicationControlManager does: the request must come from the current
// leader at the current epochs, and every replica added must be live with
// the broker epoch the leader saw.
func (c *Controller) alterPartition(m AlterPartitionRequest) AlterPartitionResponse {
	resp := AlterPartitionResponse{RequestID: m.RequestID, TP: m.TP}
	i, ok := slices.BinarySearchFunc(c.st.Partitions, m.TP, func(s PartitionState, tp TopicPartition) int { return s.TP.Compare(tp) })
	if !ok {
		resp.Err = UnknownTopicOrPartition
		return resp
	}
	p := c.st.Partitions[i]
	resp.State = p
	switch rec := c.st.Brokers[m.Broker]; {
	case !rec.Registered || rec.Fenced || rec.Epoch != m.BrokerEpoch:
		resp.Err = StaleBrokerEpoch
	case p.Leader != m.Broker || p.LeaderEpoch != m.LeaderEpoch:
		resp.Err = FencedLeaderEpoch
	case p.PartitionEpoch != m.PartitionEpoch:
		resp.Err = InvalidUpdateVersion
	case !slices.Contains(m.NewISR, m.Broker):
		resp.Err = InvalidUpdateVersion
	}
	if resp.Err != None {
		return resp
	}
	for j, r := range m.NewISR {
		// KIP-903: a joining replica must be live with the broker epoch
		// the leader saw; -1 (a leader before 3.5) skips the epoch check.
		if !p.inISR(r) && (!c.eligible(r) || m.ISREpochs[j] != -1 && c.st.Brokers[r].Epoch != m.ISREpochs[j]) {
			c.partitionEvent(EvIneligibleReplica, p, r, fmt.Sprintf("isr %v -> %v refused: broker %d is not live with the broker epoch %d the leader saw (current %d)", p.ISR, m.NewISR, r, m.ISREpochs[j], c.st.Brokers[r].Epoch))
			resp.Err = IneligibleReplica
			return resp
		}
	}
	kind := EvISRExpand
	if len(m.NewISR) < len(p.ISR) {
		kind = EvISRShrink
	}
	detail := fmt.Sprintf("isr %v -> %v", p.ISR, m.NewISR)
	var added []BrokerID
	for _, r := range m.NewISR {
		if !p.inISR(r) {
			added = append(added, r)
		}
	}
	c.setISR(&p, slices.Clone(m.NewISR))
	p.PartitionEpoch++
	c.partitionEvent(kind, p, m.Broker, detail)
	c.st.Partitions[i] = p
	c.commit()
	if c.journal != nil && len(added) > 0 {
		c.journal.isrExpanded(c.env.Now(), p, added)
	}
	resp.State = p
	return resp
}

// partitionEvent records a change to a partition with the state after it.
func (c *Controller) partitionEvent(kind EventKind, p PartitionState, broker BrokerID, detail string) {
	c.event(Event{Kind: kind, TP: p.TP, Epoch: p.LeaderEpoch, Broker: broker, Detail: detail, Leader: p.Leader, ISR: slices.Clone(p.ISR), ELR: slices.Clone(p.ELR)})
}

func (c *Controller) event(e Event) {
	e.Time, e.Node = c.env.Now(), c.env.Name()
	if c.journal != nil {
		c.journal.add(e)
	}
}
