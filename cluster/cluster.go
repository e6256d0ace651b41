// Package cluster assembles a Kafka cluster in a simulated world: the
// Spec (brokers, controllers, topics, clients and their settings), Build,
// which adds the brokers (cluster/broker), the KRaft controllers
// (cluster/controller over cluster/raft), the clients (cluster/client)
// and the protocol monitor (cluster/monitor) to a sim.World, and the
// assembled Cluster that runners, faults and checkers read. It holds no
// protocol logic of its own, and no package under it imports it; the
// rooms and what each may import are in the README's Layout table.
//
// Behaviour and configuration names mirror Apache Kafka; where tideline
// simplifies, the comment at the spot says how and why.
package cluster

import (
	"fmt"
	"slices"

	"github.com/tideline-sim/tideline/cluster/broker"
	"github.com/tideline-sim/tideline/cluster/client"
	"github.com/tideline-sim/tideline/cluster/config"
	"github.com/tideline-sim/tideline/cluster/controller"
	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/cluster/metadata"
	"github.com/tideline-sim/tideline/cluster/monitor"
	"github.com/tideline-sim/tideline/cluster/node"
	"github.com/tideline-sim/tideline/cluster/protocol"
	"github.com/tideline-sim/tideline/cluster/raft"
	"github.com/tideline-sim/tideline/cluster/storage"
	"github.com/tideline-sim/tideline/sim"
)

// Spec describes a cluster and its clients.
type Spec struct {
	Brokers int
	// Controllers is the size of the KRaft controller quorum: 1 (one
	// controller, no quorum) or an odd number up to MaxControllers.
	Controllers int
	Broker      config.BrokerConfig
	// Racks is each broker's broker.rack ("" for none); nil: no racks.
	Racks     []string
	Topics    []config.TopicConfig
	Producers []config.ProducerConfig
	Consumers []config.ConsumerConfig
}

// Validate reports a cluster that cannot be built.
func (s Spec) Validate() error {
	if s.Brokers < 1 {
		return fmt.Errorf("brokers: %d, need at least 1", s.Brokers)
	}
	if s.Racks != nil && len(s.Racks) != s.Brokers {
		return fmt.Errorf("racks: %d given for %d brokers", len(s.Racks), s.Brokers)
	}
	if s.Controllers > 1 && (s.Controllers%2 == 0 || s.Controllers > MaxControllers) {
		return fmt.Errorf("controllers: %d, want 1 or an odd number up to %d", s.Controllers, MaxControllers)
	}
	for _, t := range s.Topics {
		switch {
		case t.Partitions < 1:
			return fmt.Errorf("topic %s: partitions %d, need at least 1", t.Name, t.Partitions)
		case t.ReplicationFactor < 1 || t.ReplicationFactor > s.Brokers:
			return fmt.Errorf("topic %s: replication.factor %d with %d brokers", t.Name, t.ReplicationFactor, s.Brokers)
		}
	}
	for i, p := range s.Producers {
		if _, ok := s.Topic(p.Topic); !ok {
			return fmt.Errorf("producer %d: unknown topic %q", i, p.Topic)
		}
		if err := p.Validate(); err != nil {
			return fmt.Errorf("producer %d: %w", i, err)
		}
	}
	for i, c := range s.Consumers {
		if _, ok := s.Topic(c.Topic); !ok {
			return fmt.Errorf("consumer %d: unknown topic %q", i, c.Topic)
		}
		if err := c.Validate(); err != nil {
			return fmt.Errorf("consumer %d: %w", i, err)
		}
	}
	if t, ok := s.OffsetsTopic(); ok && t.ReplicationFactor > s.Brokers {
		// KafkaApis refuses to create it, and every FindCoordinator fails.
		return fmt.Errorf("Number of alive brokers '%d' does not meet the required replication factor '%d' for the offsets topic (configured via 'offsets.topic.replication.factor')", s.Brokers, t.ReplicationFactor)
	}
	return nil
}

// OffsetsTopic is __consumer_offsets, which the brokers create when the
// first group looks for its coordinator: a run with any consumer group
// has it from the start.
func (s Spec) OffsetsTopic() (config.TopicConfig, bool) {
	if !slices.ContainsFunc(s.Consumers, func(c config.ConsumerConfig) bool { return c.GroupID != "" }) {
		return config.TopicConfig{}, false
	}
	return config.TopicConfig{Name: protocol.OffsetsTopic, Partitions: s.Broker.Group.OffsetsTopicPartitions, ReplicationFactor: s.Broker.Group.OffsetsTopicReplicas}, true
}

// Partitions counts the partitions of every topic together.
func (s Spec) Partitions() int {
	n := 0
	for _, t := range s.Topics {
		n += t.Partitions
	}
	return n
}

// Replicas counts the replicas of every partition of every topic.
func (s Spec) Replicas() int {
	n := 0
	for _, t := range s.Topics {
		n += t.Partitions * t.ReplicationFactor
	}
	return n
}

// Topic finds a topic by name.
func (s Spec) Topic(name string) (config.TopicConfig, bool) {
	i := slices.IndexFunc(s.Topics, func(t config.TopicConfig) bool { return t.Name == name })
	if i < 0 {
		return config.TopicConfig{}, false
	}
	return s.Topics[i], true
}

// Cluster is a built cluster inside a world: where its nodes are, and what
// they recorded.
type Cluster struct {
	World     *sim.World
	Spec      Spec
	Dir       node.Directory
	History   *journal.History
	Journal   *journal.Journal
	Monitor   *monitor.Monitor // watches the journal: the protocol rules broken as the run went
	Producers []sim.NodeID
	// ProducerMetrics are each producer's own counts, by index.
	ProducerMetrics []*journal.ProducerMetrics
	Consumers       []sim.NodeID
}

// Build adds the cluster's nodes to w: brokers ("broker-0"…), the
// controller, producers ("producer-0"…) and consumers ("consumer-0"…).
func Build(w *sim.World, spec Spec) (*Cluster, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if t, ok := spec.OffsetsTopic(); ok {
		if _, exists := spec.Topic(t.Name); !exists {
			spec.Topics = append(slices.Clip(spec.Topics), t)
		}
	}
	topics, err := place(w, spec)
	if err != nil {
		return nil, err
	}
	spec.Topics = topics
	c := &Cluster{World: w, Spec: spec, History: &journal.History{}, Journal: &journal.Journal{}}
	c.Monitor = monitor.New(c.Journal, spec.Broker, spec.Topics)
	// IDs are handed out in order of adding, so they are known up front:
	// every node's directory is complete before the first one is built.
	c.Dir.Brokers = make([]sim.NodeID, spec.Brokers)
	next := sim.NodeID(len(w.Nodes()))
	for i := range spec.Brokers {
		c.Dir.Brokers[i] = next + sim.NodeID(i)
	}
	c.Dir.Controller = next + sim.NodeID(spec.Brokers)
	for i := range max(spec.Controllers, 1) {
		c.Dir.Controllers = append(c.Dir.Controllers, c.Dir.Controller+sim.NodeID(i))
	}
	for i := range spec.Brokers {
		id := w.AddNode(fmt.Sprintf("broker-%d", i), func() sim.Node {
			return broker.New(protocol.BrokerID(i), spec.Broker, spec.Topics, c.Dir, c.Monitor)
		})
		if id != c.Dir.Brokers[i] {
			panic("cluster: node IDs not handed out in order")
		}
		w.Disk(id).SetWriteback(sim.Writeback{Expire: spec.Broker.DirtyExpire, Interval: spec.Broker.DirtyWriteback})
	}
	if len(c.Dir.Controllers) == 1 {
		w.AddNode("controller", func() sim.Node { return controller.New(spec.Broker, spec.Topics, c.Dir, c.Monitor) })
	} else {
		// The quorum is formed before the scenario starts, as a running
		// cluster's is: epoch 1, led by controller-0, its first metadata
		// on every voter's disk.
		initial := controller.InitialState(spec.Topics, spec.Brokers)
		boot := make([]bool, len(c.Dir.Controllers))
		for i := range c.Dir.Controllers {
			boot[i] = true
			id := w.AddNode(fmt.Sprintf("controller-%d", i), func() sim.Node {
				return controller.NewVoter(i, spec.Broker, spec.Topics, c.Dir, c.Monitor, &boot[i])
			})
			if !spec.Broker.Quorum.ColdStart {
				raft.Bootstrap(w.Disk(id), metadata.LogName, initial)
			}
		}
	}
	for i, pc := range spec.Producers {
		if len(pc.PartitionsToProduce) == 0 {
			t, _ := spec.Topic(pc.Topic)
			for p := range t.Partitions {
				pc.PartitionsToProduce = append(pc.PartitionsToProduce, int32(p))
			}
		}
		metrics := &journal.ProducerMetrics{}
		c.ProducerMetrics = append(c.ProducerMetrics, metrics)
		c.Producers = append(c.Producers, w.AddNode(fmt.Sprintf("producer-%d", i), func() sim.Node {
			return client.NewProducer(i, pc, c.Dir, c.History, metrics)
		}))
		c.Monitor.Producer(c.Producers[i], spec.Producers[i]) // the scenario's settings, not the client's copy
	}
	w.OnLifecycle(func(kind string, node sim.NodeID) {
		broker, ok := c.Dir.BrokerOf(node)
		if !ok {
			broker = protocol.NoLeader
		}
		c.Journal.Lifecycle(w.Now(), w.Name(node), broker, kind)
	})
	inGroup := map[string]int{}
	for i, cc := range spec.Consumers {
		t, _ := spec.Topic(cc.Topic)
		if cc.GroupID != "" && cc.ClientID == "" {
			// Kafka's default client.id: consumer-<group.id>-<n>.
			inGroup[cc.GroupID]++
			cc.ClientID = fmt.Sprintf("consumer-%s-%d", cc.GroupID, inGroup[cc.GroupID])
		}
		c.Consumers = append(c.Consumers, w.AddNode(fmt.Sprintf("consumer-%d", i), func() sim.Node {
			if cc.GroupID != "" {
				return client.NewMember(cc, t.Partitions, c.Dir, c.History)
			}
			return client.NewConsumer(cc, t.Partitions, c.Dir, c.History)
		}))
	}
	return c, nil
}

// place gives every topic its replicas as the controller places them at
// creation (tideline.placement), before any node is built: Kafka's
// StripedReplicaPlacer over the brokers' racks, or ignoring them, with a
// java.util.Random seeded from the run's seed; or the fixed layout.
func place(w *sim.World, spec Spec) ([]config.TopicConfig, error) {
	how := spec.Placement()
	if how == config.PlacementFixed {
		return spec.Topics, nil
	}
	brokers := make([]controller.UsableBroker, spec.Brokers)
	for i := range brokers {
		brokers[i].ID = protocol.BrokerID(i)
		if how == config.PlacementStriped && spec.Racks != nil {
			brokers[i].Rack = spec.Racks[i]
		}
	}
	random := controller.NewJavaRandom(w.Stream("placement").Int64())
	topics := slices.Clone(spec.Topics)
	for i := range topics {
		a, err := controller.Place(random, brokers, topics[i].Partitions, topics[i].ReplicationFactor)
		if err != nil {
			return nil, fmt.Errorf("topic %s: %w", topics[i].Name, err)
		}
		topics[i].Assignment = a
	}
	return topics, nil
}

// RackNames lists the racks brokers are in, each once, in broker order.
func (s Spec) RackNames() []string {
	var names []string
	for _, r := range s.Racks {
		if r != "" && !slices.Contains(names, r) {
			names = append(names, r)
		}
	}
	return names
}

// Placement is how the cluster places its topics' replicas: as
// tideline.placement says, or by default striped over racks when any
// broker has one, and fixed otherwise.
func (s Spec) Placement() config.Placement {
	if s.Broker.Placement != config.PlacementDefault {
		return s.Broker.Placement
	}
	if slices.ContainsFunc(s.Racks, func(r string) bool { return r != "" }) {
		return config.PlacementStriped
	}
	return config.PlacementFixed
}

// Reassign is an operator's kafka-reassign-partitions.sh moving tp to
// target: the monitor hears what was asked (its judge of replica counts),
// then the active controller starts the move. It reports whether the
// controller took it.
func (c *Cluster) Reassign(tp protocol.TopicPartition, target []protocol.BrokerID) bool {
	c.Monitor.OperatorReassignment(tp)
	ctl := c.Controller()
	return ctl != nil && ctl.Reassign(tp, target)
}

// Partitions lists every partition of every topic, in order.
func (c *Cluster) Partitions() []protocol.TopicPartition {
	var tps []protocol.TopicPartition
	for _, t := range c.Spec.Topics {
		for p := range t.Partitions {
			tps = append(tps, protocol.TopicPartition{Topic: t.Name, Partition: int32(p)})
		}
	}
	slices.SortFunc(tps, protocol.TopicPartition.Compare)
	return tps
}

// BrokerNode returns the node running a broker.
func (c *Cluster) BrokerNode(b protocol.BrokerID) sim.NodeID { return c.Dir.Brokers[b] }

// Broker returns a broker's live state machine, nil while it is down.
func (c *Cluster) Broker(b protocol.BrokerID) *broker.Broker {
	n, _ := c.World.Node(c.Dir.Brokers[b]).(*broker.Broker)
	return n
}

// MaxControllers bounds the quorum: Kafka runs 3 or 5.
const MaxControllers = 9

// Controller returns the active controller, nil while there is none.
func (c *Cluster) Controller() *controller.Controller {
	id, ok := c.ActiveController()
	if !ok {
		return nil
	}
	n, _ := c.World.Node(id).(*controller.Controller)
	return n
}

// ActiveController returns the node of the active controller, false if
// there is none.
func (c *Cluster) ActiveController() (sim.NodeID, bool) {
	for _, id := range c.Dir.Controllers {
		if n, _ := c.World.Node(id).(*controller.Controller); n != nil && n.Active() {
			return id, true
		}
	}
	return 0, false
}

// State returns the committed state of a partition: a lone controller's,
// read from its disk so that it answers while the controller is down; a
// quorum's, as its voters committed it.
func (c *Cluster) State(tp protocol.TopicPartition) protocol.PartitionState {
	var st metadata.State
	if len(c.Dir.Controllers) > 1 {
		st, _ = c.Monitor.CommittedMetadata()
	} else if f := c.World.Disk(c.Dir.Controller).Open(metadata.LogName); f.Len() > 0 {
		st = f.Record(f.Len() - 1).(metadata.State)
	}
	if st.Partitions.IsZero() {
		return protocol.PartitionState{TP: tp, Leader: protocol.NoLeader, LeaderEpoch: protocol.NoEpoch}
	}
	img := protocol.Image{Partitions: st.Partitions}
	s, _ := img.Find(tp)
	return s
}

// Quorum returns each controller's quorum view, for checkers after a run
// (nil for a lone controller).
func (c *Cluster) Quorum() []QuorumStatus {
	if len(c.Dir.Controllers) < 2 {
		return nil
	}
	var out []QuorumStatus
	for i, id := range c.Dir.Controllers {
		s := QuorumStatus{Voter: i, Up: c.World.Up(id)}
		if q := c.Monitor.Voter(i); q != nil {
			if n, _ := c.World.Node(id).(*controller.Controller); s.Up && n != nil {
				s.Active = n.Active()
			}
			s.Start = q.LogStart()
			for _, e := range q.Log()[:q.HW()-q.LogStart()] {
				s.Committed = append(s.Committed, monitor.EntryText(e))
			}
		}
		out = append(out, s)
	}
	return out
}

// FinalLog is what a partition holds at the end of a run: the log of its
// leader as the controller last named it, nil if it has none.
type FinalLog struct {
	TP      protocol.TopicPartition
	Leader  protocol.BrokerID
	Records protocol.Records
	// State is the controller's last committed state of the partition.
	State protocol.PartitionState
	// Replicas holds every replica's log by broker ID, for checkers that
	// compare them; HWs every replica's high watermark (-1 where the broker
	// is down or holds no replica).
	Replicas []protocol.Records
	HWs      []int64
}

// FinalLogs returns the final log of every partition.
func (c *Cluster) FinalLogs() []FinalLog {
	var out []FinalLog
	for _, tp := range c.Partitions() {
		st := c.State(tp)
		fl := FinalLog{TP: tp, Leader: st.Leader, State: st, Replicas: make([]protocol.Records, c.Spec.Brokers), HWs: make([]int64, c.Spec.Brokers)}
		for b := range fl.HWs {
			fl.HWs[b] = -1
		}
		for _, r := range st.Replicas {
			fl.Replicas[r] = storage.ReadLog(c.World.Disk(c.Dir.Brokers[r]), tp)
			if b := c.Broker(r); b != nil {
				fl.HWs[r] = b.HighWatermark(tp)
			}
		}
		if st.Leader != protocol.NoLeader {
			fl.Records = fl.Replicas[st.Leader]
		}
		out = append(out, fl)
	}
	return out
}

// QuorumStatus is each controller's view at the end of a run.
type QuorumStatus struct {
	Voter     int
	Up        bool
	Active    bool     // the leader, with its epoch's first record committed
	Committed []string // its committed records from Start, named by entryText
	Start     int64    // its log start: the records before it are in its snapshot (KIP-630)
}
