// Package config is Kafka's configuration as tideline models it, by
// Kafka's own property names: the broker's (server.properties, with the
// controller quorum's timing), a topic's overrides, the producer's and the
// consumer's, each with Kafka's defaults, its ConfigDef range, and the
// combinations Kafka refuses. It imports only cluster/protocol (for
// inter.broker.protocol.version) and the did-you-mean helper.
package config

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tideline-sim/tideline/cluster/protocol"
	"github.com/tideline-sim/tideline/internal/suggest"
)

// BrokerConfig holds the broker and controller settings, with Kafka's
// defaults. Kafka's property names are accepted by Set.
type BrokerConfig struct {
	HeartbeatInterval       time.Duration            // broker.heartbeat.interval.ms
	SessionTimeout          time.Duration            // broker.session.timeout.ms
	ReplicaLagTimeMax       time.Duration            // replica.lag.time.max.ms
	ReplicaFetchWaitMax     time.Duration            // replica.fetch.wait.max.ms
	ReplicaFetchMaxBytes    int64                    // replica.fetch.max.bytes
	ReplicaFetchBackoff     time.Duration            // replica.fetch.backoff.ms
	ReplicaFetchResponseMax int64                    // replica.fetch.response.max.bytes
	HWCheckpointInterval    time.Duration            // replica.high.watermark.checkpoint.interval.ms
	MinInsyncReplicas       int                      // min.insync.replicas
	UncleanLeaderElection   bool                     // unclean.leader.election.enable
	FlushIntervalMessages   int64                    // log.flush.interval.messages
	FlushInterval           time.Duration            // log.flush.interval.ms; 0: never by time
	AutoLeaderRebalance     bool                     // auto.leader.rebalance.enable
	ControlledShutdown      bool                     // controlled.shutdown.enable
	LeaderThrottle          int64                    // leader.replication.throttled.rate, bytes/s; 0: none
	FollowerThrottle        int64                    // follower.replication.throttled.rate, bytes/s; 0: none
	ShutdownTimeout         time.Duration            // tideline.shutdown.timeout.ms: KafkaBroker.shutdown()'s 5-minute deadline
	LeaderImbalanceCheck    time.Duration            // leader.imbalance.check.interval.seconds
	Protocol                protocol.ProtocolVersion // inter.broker.protocol.version (tideline.truncation: high-watermark is 0.10.2)
	LazyISR                 bool                     // tideline.isr: lazy (the HW counts only the committed ISR, as KIP-497 chose not to)
	ELR                     bool                     // eligible.leader.replicas.version: 1 (KIP-966, Kafka 4.0's feature; 0 = off)
	Retransmit              time.Duration            // tideline.retransmit.ms
	AutomaticLeaderElection bool                     // tideline.leader.election.automatic
	Placement               Placement                // tideline.placement
	RecordSize              int64                    // tideline.record.bytes
	// The OS's write-back of dirty pages on the broker's machine:
	// tideline.vm.dirty_expire_centisecs and
	// tideline.vm.dirty_writeback_centisecs, with Linux's defaults.
	DirtyExpire    time.Duration
	DirtyWriteback time.Duration
	// AvailabilityDeadline is how soon a write must be acknowledged for
	// the report to count its partition available then
	// (tideline.availability.deadline.ms). A measure, not a broker
	// setting: no broker reads it.
	AvailabilityDeadline time.Duration
	// Quorum is the KRaft controller quorum's timing (controller.quorum.*).
	Quorum QuorumConfig
	// Group is the group coordinator's settings.
	Group GroupCoordinatorConfig
}

// GroupCoordinatorConfig is the broker's group coordinator and its
// __consumer_offsets topic, with Kafka's defaults (GroupCoordinatorConfig).
type GroupCoordinatorConfig struct {
	OffsetsTopicPartitions int           // offsets.topic.num.partitions
	OffsetsTopicReplicas   int           // offsets.topic.replication.factor
	CommitTimeout          time.Duration // offsets.commit.timeout.ms
	InitialRebalanceDelay  time.Duration // group.initial.rebalance.delay.ms
	MinSessionTimeout      time.Duration // group.min.session.timeout.ms
	MaxSessionTimeout      time.Duration // group.max.session.timeout.ms
}

// DefaultGroupCoordinatorConfig returns Kafka's defaults.
func DefaultGroupCoordinatorConfig() GroupCoordinatorConfig {
	return GroupCoordinatorConfig{
		OffsetsTopicPartitions: 50,
		OffsetsTopicReplicas:   3,
		CommitTimeout:          5 * time.Second,
		InitialRebalanceDelay:  3 * time.Second,
		MinSessionTimeout:      6 * time.Second,
		MaxSessionTimeout:      30 * time.Minute,
	}
}

// DefaultBrokerConfig returns Kafka's defaults.
func DefaultBrokerConfig() BrokerConfig {
	return BrokerConfig{
		HeartbeatInterval:       2 * time.Second,
		SessionTimeout:          9 * time.Second,
		ReplicaLagTimeMax:       30 * time.Second,
		ReplicaFetchWaitMax:     500 * time.Millisecond,
		ReplicaFetchMaxBytes:    1 << 20,
		ReplicaFetchResponseMax: 10 << 20,
		ReplicaFetchBackoff:     time.Second,
		HWCheckpointInterval:    5 * time.Second,
		MinInsyncReplicas:       1,
		FlushIntervalMessages:   math.MaxInt64,
		AutoLeaderRebalance:     true,
		LeaderImbalanceCheck:    300 * time.Second,
		ControlledShutdown:      true,
		ShutdownTimeout:         5 * time.Minute,
		// A lost packet costs TCP one retransmission timeout (200 ms at
		// least); the simulated network drops whole messages, so requesters
		// re-send unanswered requests after this long, and servers answer a
		// re-sent request once. Kafka's request timeouts keep their meaning:
		// the connection is given up for dead.
		Retransmit:              200 * time.Millisecond,
		AutomaticLeaderElection: true,
		RecordSize:              1024,
		Protocol:                protocol.LatestProtocol,
		DirtyExpire:             30 * time.Second,
		DirtyWriteback:          5 * time.Second,
		AvailabilityDeadline:    time.Second,
		Quorum:                  DefaultQuorumConfig(),
		Group:                   DefaultGroupCoordinatorConfig(),
	}
}

// Placement is how a new topic's replicas are placed (tideline.placement).
type Placement string

const (
	// PlacementDefault is striped over racks when any broker has one,
	// fixed otherwise.
	PlacementDefault Placement = ""
	// PlacementStriped is Kafka's StripedReplicaPlacer over the brokers'
	// racks, its random start offsets drawn from the run's seed.
	PlacementStriped Placement = "striped"
	// PlacementRackUnaware is the same placer with every broker in no
	// rack, as Kafka places when no broker sets broker.rack.
	PlacementRackUnaware Placement = "rack-unaware"
	// PlacementFixed is tideline's fixed layout: partition p on brokers
	// p, p+1, … (mod brokers) — what the striped placer gives the first
	// partitions when its random offsets come out 0 — so that broker-N in
	// a scenario names the same replica on every seed.
	PlacementFixed Placement = "fixed"
)

// TopicConfig is one topic and its overrides of the broker configuration.
type TopicConfig struct {
	Name              string
	Partitions        int
	ReplicationFactor int
	// Overrides, nil where the broker setting applies.
	MinInsyncReplicas     *int           // min.insync.replicas
	UncleanLeaderElection *bool          // unclean.leader.election.enable
	FlushMessages         *int64         // flush.messages
	FlushInterval         *time.Duration // flush.ms
	// Assignment is each partition's replicas as placed at creation,
	// leader first; nil: the fixed layout.
	Assignment [][]protocol.BrokerID
}

// ProducerConfig is one producer client and its workload.
type ProducerConfig struct {
	Topic               string
	Rate                float64       // records per second
	Start, Stop         time.Duration // when it produces; Stop 0: until the settle period
	Acks                int           // acks: 0, 1 or -1 (all)
	Idempotence         bool          // enable.idempotence
	Retries             int64         // retries
	RetryBackoff        time.Duration // retry.backoff.ms
	RetryBackoffMax     time.Duration // retry.backoff.max.ms (KIP-580)
	RequestTimeout      time.Duration // request.timeout.ms
	DeliveryTimeout     time.Duration // delivery.timeout.ms
	MaxInFlight         int           // max.in.flight.requests.per.connection
	BatchSize           int64         // batch.size (bytes)
	Linger              time.Duration // linger.ms
	MetadataMaxAge      time.Duration // metadata.max.age.ms
	ReconnectBackoff    time.Duration // reconnect.backoff.ms
	ReconnectBackoffMax time.Duration // reconnect.backoff.max.ms
	ConnectionSetup     time.Duration // socket.connection.setup.timeout.ms
	RecordSize          int64         // tideline.record.bytes
	Retransmit          time.Duration // tideline.retransmit.ms (see BrokerConfig)
	PartitionsToProduce []int32       // empty: every partition of the topic, in turn
	BufferMemory        int64         // buffer.memory (bytes)
	MaxBlock            time.Duration // max.block.ms: how long send() may block for buffer memory
	// RoundRobin is partitioner.class RoundRobinPartitioner: records go to
	// the partitions in turn. Otherwise tideline's records, which have no
	// key, go where Kafka's built-in partitioner sends keyless records
	// (KIP-794): to one partition until batch.size bytes went to it.
	RoundRobin bool
	Adaptive   bool // partitioner.adaptive.partitioning.enable: switch to partitions with shorter queues more often
	// Which settings the user gave: Kafka's client decides some others
	// by them (Resolve).
	idempotenceSet, deliveryTimeoutSet bool
}

// AcksAll is acks=all (-1).
const AcksAll = -1

// DefaultProducerConfig returns Kafka's producer defaults for a topic.
func DefaultProducerConfig(topic string) ProducerConfig {
	return ProducerConfig{
		Topic:           topic,
		Rate:            100,
		Acks:            AcksAll,
		Idempotence:     true,
		Retries:         math.MaxInt32,
		RetryBackoff:    100 * time.Millisecond,
		RetryBackoffMax: time.Second,
		RequestTimeout:  30 * time.Second,
		DeliveryTimeout: 120 * time.Second,
		MaxInFlight:     5,
		BatchSize:       16384,
		Linger:          5 * time.Millisecond,
		MetadataMaxAge:  300 * time.Second,
		RecordSize:      1024,
		Retransmit:      200 * time.Millisecond,

		ReconnectBackoff:    50 * time.Millisecond,
		ReconnectBackoffMax: time.Second,
		ConnectionSetup:     10 * time.Second,
		BufferMemory:        32 << 20,
		MaxBlock:            60 * time.Second,
		Adaptive:            true,
	}
}

// ConsumerConfig is one consumer client, reading every partition of a topic
// from offset zero (a group of one, without a coordinator).
type ConsumerConfig struct {
	Topic          string
	FetchMaxWait   time.Duration // fetch.max.wait.ms
	RequestTimeout time.Duration // request.timeout.ms
	RetryBackoff   time.Duration // retry.backoff.ms
	MaxPollRecords int           // max.poll.records
	MetadataMaxAge time.Duration // metadata.max.age.ms
	Retransmit     time.Duration // tideline.retransmit.ms (see BrokerConfig)
	// Rack is client.rack. Kafka's brokers serve a consumer from the
	// leader whatever it says unless replica.selector.class picks a
	// rack-aware selector (KIP-392, fetching from followers), which
	// tideline does not model: kept, and shown, but it moves no fetch.
	Rack string

	// A consumer with a group.id is a member of a consumer group (Kafka's
	// classic protocol); the settings below apply to it alone.
	GroupID            string        // group.id
	InstanceID         string        // group.instance.id (KIP-345), "" for a dynamic member
	ClientID           string        // client.id: member ids are <client.id>-<UUID>
	SessionTimeout     time.Duration // session.timeout.ms
	HeartbeatInterval  time.Duration // heartbeat.interval.ms
	MaxPollInterval    time.Duration // max.poll.interval.ms, also the rebalance timeout
	AutoCommit         bool          // enable.auto.commit
	AutoCommitInterval time.Duration // auto.commit.interval.ms
	AutoOffsetReset    string        // auto.offset.reset: latest, earliest or none
	Assignors          []string      // partition.assignment.strategy: range, cooperative-sticky
	// The application around the consumer: what it does with each polled
	// record, and when it commits.
	Commit           CommitMode    // tideline.commit
	Processing       time.Duration // tideline.processing.ms: per record
	ProcessingJitter time.Duration // tideline.processing.jitter.ms: up to this much more, drawn per record from the run's seed
}

// CommitMode is when the application commits its consumer's positions.
type CommitMode string

const (
	// CommitAuto leaves it to Kafka's auto-commit inside poll().
	CommitAuto CommitMode = "auto"
	// CommitAfterProcessing is commitSync after each polled batch is
	// processed: at-least-once.
	CommitAfterProcessing CommitMode = "after-processing"
	// CommitBeforeProcessing is commitSync as soon as poll() returns,
	// before processing: at-most-once.
	CommitBeforeProcessing CommitMode = "before-processing"
)

// Assignor names, as partition.assignment.strategy takes them (Kafka also
// takes the class names, which tideline maps to these).
const (
	AssignorRange             = "range"
	AssignorCooperativeSticky = "cooperative-sticky"
)

// DefaultConsumerConfig returns Kafka's consumer defaults for a topic.
func DefaultConsumerConfig(topic string) ConsumerConfig {
	return ConsumerConfig{
		Topic:          topic,
		FetchMaxWait:   500 * time.Millisecond,
		RequestTimeout: 30 * time.Second,
		RetryBackoff:   100 * time.Millisecond,
		MaxPollRecords: 500,
		MetadataMaxAge: 300 * time.Second,
		Retransmit:     200 * time.Millisecond,

		SessionTimeout:     45 * time.Second,
		HeartbeatInterval:  3 * time.Second,
		MaxPollInterval:    300 * time.Second,
		AutoCommit:         true,
		AutoCommitInterval: 5 * time.Second,
		AutoOffsetReset:    "latest",
		Assignors:          []string{AssignorRange, AssignorCooperativeSticky},
		Commit:             CommitAuto,
	}
}

// Set applies one broker property by its Kafka name.
func (c *BrokerConfig) Set(name, value string) error {
	var err error
	switch name {
	case "broker.heartbeat.interval.ms":
		c.HeartbeatInterval, err = parseMillis(value, 1)
	case "broker.session.timeout.ms":
		c.SessionTimeout, err = parseMillis(value, 1)
	case "replica.lag.time.max.ms":
		c.ReplicaLagTimeMax, err = parseMillis(value, 1)
	case "replica.fetch.wait.max.ms":
		c.ReplicaFetchWaitMax, err = parseMillis(value, 0)
	case "replica.fetch.max.bytes":
		c.ReplicaFetchMaxBytes, err = parseInt(value, 1)
	case "replica.fetch.response.max.bytes":
		c.ReplicaFetchResponseMax, err = parseInt(value, 1)
	case "replica.fetch.backoff.ms":
		c.ReplicaFetchBackoff, err = parseMillis(value, 0)
	case "replica.high.watermark.checkpoint.interval.ms":
		c.HWCheckpointInterval, err = parseMillis(value, 1)
	case "min.insync.replicas":
		var n int64
		n, err = parseInt(value, 1)
		c.MinInsyncReplicas = int(n)
	case "unclean.leader.election.enable":
		c.UncleanLeaderElection, err = strconv.ParseBool(value)
	case "log.flush.interval.messages":
		c.FlushIntervalMessages, err = parseInt(value, 1)
	case "log.flush.interval.ms":
		c.FlushInterval, err = parseMillis(value, 1)
	case "auto.leader.rebalance.enable":
		c.AutoLeaderRebalance, err = strconv.ParseBool(value)
	case "leader.imbalance.check.interval.seconds":
		var n int64
		n, err = parseInt(value, 1)
		c.LeaderImbalanceCheck = time.Duration(n) * time.Second
	case "leader.replication.throttled.rate":
		c.LeaderThrottle, err = parseInt(value, 1)
	case "follower.replication.throttled.rate":
		c.FollowerThrottle, err = parseInt(value, 1)
	case "controlled.shutdown.enable":
		c.ControlledShutdown, err = strconv.ParseBool(value)
	case "tideline.shutdown.timeout.ms":
		c.ShutdownTimeout, err = parseMillis(value, 1)
	case "inter.broker.protocol.version":
		c.Protocol, err = protocol.ParseProtocolVersion(value)
	case "tideline.truncation":
		// An alias kept for scenarios written before the version switch.
		switch value {
		case "leader-epoch":
			c.Protocol = protocol.LatestProtocol
		case "high-watermark":
			c.Protocol = protocol.MustProtocol("0.10.2")
		default:
			err = fmt.Errorf("want leader-epoch or high-watermark")
		}
	case "eligible.leader.replicas.version":
		switch value {
		case "0":
			c.ELR = false
		case "1":
			c.ELR = true
		default:
			err = fmt.Errorf("want 0 (off) or 1 (KIP-966's eligible leader replicas)")
		}
	case "tideline.isr":
		switch value {
		case "maximal":
			c.LazyISR = false
		case "lazy":
			c.LazyISR = true
		default:
			err = fmt.Errorf("want maximal (Kafka, KIP-497) or lazy")
		}
	case "tideline.retransmit.ms":
		c.Retransmit, err = parseMillis(value, 1)
	case "offsets.topic.num.partitions":
		c.Group.OffsetsTopicPartitions, err = parseCount(value, 1, MaxOffsetsTopicPartitions)
	case "offsets.topic.replication.factor":
		c.Group.OffsetsTopicReplicas, err = parseCount(value, 1, math.MaxInt16)
	case "offsets.commit.timeout.ms":
		c.Group.CommitTimeout, err = parseMillis(value, 1)
	case "group.initial.rebalance.delay.ms":
		c.Group.InitialRebalanceDelay, err = parseMillis(value, 0)
	case "group.min.session.timeout.ms":
		c.Group.MinSessionTimeout, err = parseMillis(value, 0)
	case "group.max.session.timeout.ms":
		c.Group.MaxSessionTimeout, err = parseMillis(value, 0)
	case "tideline.placement":
		switch Placement(value) {
		case PlacementStriped, PlacementRackUnaware, PlacementFixed:
			c.Placement = Placement(value)
		default:
			err = fmt.Errorf("want striped (Kafka's StripedReplicaPlacer over broker.rack), rack-unaware (the same placer ignoring racks) or fixed (partition p on brokers p, p+1, ...)")
		}
	case "tideline.leader.election.automatic":
		c.AutomaticLeaderElection, err = strconv.ParseBool(value)
	case "tideline.record.bytes":
		c.RecordSize, err = parseIntIn(value, 1, maxRecordBytes)
	case "tideline.vm.dirty_expire_centisecs":
		c.DirtyExpire, err = parseCentis(value, 0)
	case "tideline.vm.dirty_writeback_centisecs":
		c.DirtyWriteback, err = parseCentis(value, 0)
	case "controller.quorum.fetch.timeout.ms":
		c.Quorum.FetchTimeout, err = parseMillis(value, 1)
	case "controller.quorum.election.timeout.ms":
		c.Quorum.ElectionTimeout, err = parseMillis(value, 1)
	case "controller.quorum.election.backoff.max.ms":
		c.Quorum.ElectionBackoffMax, err = parseMillis(value, 1)
	case "controller.quorum.request.timeout.ms":
		c.Quorum.RequestTimeout, err = parseMillis(value, 1)
	case "metadata.max.idle.interval.ms":
		c.Quorum.NoOpInterval, err = parseMillis(value, 1)
	case "metadata.log.max.record.bytes.between.snapshots":
		c.Quorum.SnapshotBytes, err = parseInt(value, 1)
	case "metadata.log.max.snapshot.interval.ms":
		c.Quorum.SnapshotInterval, err = parseMillis(value, 0)
	case "tideline.quorum.pre-vote":
		c.Quorum.PreVote, err = strconv.ParseBool(value)
	case "tideline.quorum.cold-start":
		c.Quorum.ColdStart, err = strconv.ParseBool(value)
	case "tideline.availability.deadline.ms":
		c.AvailabilityDeadline, err = parseMillis(value, 1)
	default:
		return unknownProperty("broker", name, brokerProperties)
	}
	if err != nil {
		return fmt.Errorf("%s: bad value %q: %w", name, value, err)
	}
	return nil
}

// maxRecordBytes is Kafka's message.max.bytes default (1 MB and a batch
// header): a record larger than it is refused by the broker.
const maxRecordBytes = 1048588

// MaxOffsetsTopicPartitions bounds offsets.topic.num.partitions: Kafka's
// default is 50, and every partition is replicated whether a group uses it
// or not.
const MaxOffsetsTopicPartitions = 1000

// Validate reports broker settings Kafka would refuse together.
func (c BrokerConfig) Validate() error {
	// KafkaConfig requires a heartbeat inside the session it keeps alive.
	if c.HeartbeatInterval > c.SessionTimeout {
		return fmt.Errorf("broker.heartbeat.interval.ms %d is more than broker.session.timeout.ms %d: the session would end between heartbeats",
			c.HeartbeatInterval.Milliseconds(), c.SessionTimeout.Milliseconds())
	}
	return nil
}

var brokerProperties = []string{
	"auto.leader.rebalance.enable", "broker.heartbeat.interval.ms", "controlled.shutdown.enable", "controller.quorum.election.backoff.max.ms",
	"controller.quorum.election.timeout.ms", "controller.quorum.fetch.timeout.ms", "controller.quorum.request.timeout.ms", "broker.session.timeout.ms", "eligible.leader.replicas.version", "inter.broker.protocol.version",
	"leader.imbalance.check.interval.seconds", "log.flush.interval.messages", "log.flush.interval.ms", "metadata.log.max.record.bytes.between.snapshots", "metadata.log.max.snapshot.interval.ms", "metadata.max.idle.interval.ms",
	"min.insync.replicas", "replica.fetch.backoff.ms", "replica.fetch.max.bytes", "replica.fetch.response.max.bytes", "replica.fetch.wait.max.ms",
	"follower.replication.throttled.rate", "group.initial.rebalance.delay.ms", "group.max.session.timeout.ms", "group.min.session.timeout.ms", "leader.replication.throttled.rate",
	"offsets.commit.timeout.ms", "offsets.topic.num.partitions", "offsets.topic.replication.factor",
	"replica.high.watermark.checkpoint.interval.ms", "replica.lag.time.max.ms",
	"tideline.availability.deadline.ms", "tideline.isr", "tideline.placement", "tideline.quorum.cold-start", "tideline.quorum.pre-vote", "tideline.leader.election.automatic", "tideline.record.bytes", "tideline.retransmit.ms", "tideline.shutdown.timeout.ms", "tideline.truncation",
	"tideline.vm.dirty_expire_centisecs", "tideline.vm.dirty_writeback_centisecs", "unclean.leader.election.enable",
}

// Set applies one topic-level property by its Kafka name.
func (t *TopicConfig) Set(name, value string) error {
	var err error
	switch name {
	case "min.insync.replicas":
		var n int64
		n, err = parseInt(value, 1)
		m := int(n)
		t.MinInsyncReplicas = &m
	case "unclean.leader.election.enable":
		var b bool
		b, err = strconv.ParseBool(value)
		t.UncleanLeaderElection = &b
	case "flush.messages":
		var n int64
		n, err = parseInt(value, 1)
		t.FlushMessages = &n
	case "flush.ms":
		var d time.Duration
		d, err = parseMillis(value, 1)
		t.FlushInterval = &d
	default:
		return unknownProperty("topic", name, topicProperties)
	}
	if err != nil {
		return fmt.Errorf("%s: bad value %q: %w", name, value, err)
	}
	return nil
}

var topicProperties = []string{"flush.messages", "flush.ms", "min.insync.replicas", "unclean.leader.election.enable"}

// Set applies one producer property by its Kafka name.
func (p *ProducerConfig) Set(name, value string) error {
	var err error
	switch name {
	case "acks":
		switch value {
		case "all", "-1":
			p.Acks = AcksAll
		case "0", "1":
			p.Acks = int(value[0] - '0')
		default:
			err = fmt.Errorf("want 0, 1 or all")
		}
	case "enable.idempotence":
		p.Idempotence, err = strconv.ParseBool(value)
		p.idempotenceSet = true
	case "retries":
		p.Retries, err = parseInt(value, 0)
	case "retry.backoff.ms":
		p.RetryBackoff, err = parseMillis(value, 0)
	case "retry.backoff.max.ms":
		p.RetryBackoffMax, err = parseMillis(value, 0)
	case "request.timeout.ms":
		p.RequestTimeout, err = parseMillis(value, 1)
	case "delivery.timeout.ms":
		p.DeliveryTimeout, err = parseMillis(value, 0)
		p.deliveryTimeoutSet = true
	case "buffer.memory":
		p.BufferMemory, err = parseIntIn(value, 0, math.MaxInt64)
	case "max.block.ms":
		p.MaxBlock, err = parseMillis(value, 0)
	case "max.in.flight.requests.per.connection":
		var n int64
		n, err = parseInt(value, 1)
		p.MaxInFlight = int(n)
	case "batch.size":
		p.BatchSize, err = parseInt(value, 1)
	case "linger.ms":
		p.Linger, err = parseMillis(value, 0)
	case "metadata.max.age.ms":
		p.MetadataMaxAge, err = parseMillis(value, 1)
	case "reconnect.backoff.ms":
		p.ReconnectBackoff, err = parseMillis(value, 1)
	case "reconnect.backoff.max.ms":
		p.ReconnectBackoffMax, err = parseMillis(value, 1)
	case "socket.connection.setup.timeout.ms":
		p.ConnectionSetup, err = parseMillis(value, 1)
	case "tideline.record.bytes":
		p.RecordSize, err = parseIntIn(value, 1, maxRecordBytes)
	case "tideline.retransmit.ms":
		p.Retransmit, err = parseMillis(value, 1)
	case "partitioner.class":
		switch value {
		case "", "null":
			p.RoundRobin = false
		case roundRobinPartitioner:
			p.RoundRobin = true
		default:
			return fmt.Errorf("Invalid value %s for configuration partitioner.class: Class %s could not be found (tideline has %s, or none for Kafka's built-in partitioner)", value, value, roundRobinPartitioner)
		}
	case "partitioner.adaptive.partitioning.enable":
		p.Adaptive, err = strconv.ParseBool(value)
	default:
		return unknownProperty("producer", name, producerProperties)
	}
	if err != nil {
		return fmt.Errorf("%s: bad value %q: %w", name, value, err)
	}
	return nil
}

var producerProperties = []string{
	"acks", "batch.size", "buffer.memory", "delivery.timeout.ms", "enable.idempotence", "linger.ms", "max.block.ms",
	"max.in.flight.requests.per.connection", "metadata.max.age.ms", "partitioner.adaptive.partitioning.enable", "partitioner.class",
	"reconnect.backoff.max.ms", "reconnect.backoff.ms", "request.timeout.ms", "retries", "retry.backoff.max.ms", "retry.backoff.ms", "socket.connection.setup.timeout.ms",
	"tideline.record.bytes", "tideline.retransmit.ms",
}

// roundRobinPartitioner is the one partitioner.class tideline models
// besides Kafka's built-in one.
const roundRobinPartitioner = "org.apache.kafka.clients.producer.RoundRobinPartitioner"

// Resolve makes the decisions Kafka 4.x's client makes from what the user
// set (ProducerConfig.postProcessAndValidateIdempotenceConfigs,
// KafkaProducer.configureDeliveryTimeout): idempotence left at its default
// is turned off by acks other than all or retries=0 (4.0 refuses more than
// 5 in flight either way: Validate); a delivery.timeout.ms left at its
// default is raised to linger.ms + request.timeout.ms.
func (p *ProducerConfig) Resolve() {
	if p.Idempotence && !p.idempotenceSet && (p.Acks != AcksAll || p.Retries == 0) {
		p.Idempotence = false
	}
	if floor := p.Linger + p.RequestTimeout; !p.deliveryTimeoutSet && p.DeliveryTimeout < floor {
		p.DeliveryTimeout = floor
	}
}

// Validate reports settings Kafka would refuse, with Kafka's messages.
func (p ProducerConfig) Validate() error {
	if p.Idempotence && p.Acks != AcksAll {
		return fmt.Errorf("Must set acks to all in order to use the idempotent producer. Otherwise we cannot guarantee idempotence.")
	}
	if p.Idempotence && p.Retries == 0 {
		return fmt.Errorf("Must set retries to non-zero when using the idempotent producer.")
	}
	if p.Idempotence && p.MaxInFlight > 5 {
		return fmt.Errorf("Must set max.in.flight.requests.per.connection to at most 5 to use the idempotent producer.")
	}
	if p.DeliveryTimeout < p.Linger+p.RequestTimeout {
		return fmt.Errorf("delivery.timeout.ms should be equal to or larger than linger.ms + request.timeout.ms")
	}
	if p.BatchSize > p.BufferMemory {
		return fmt.Errorf("batch.size %d is larger than buffer.memory %d: no batch could ever be allocated", p.BatchSize, p.BufferMemory)
	}
	if p.Rate <= 0 {
		return fmt.Errorf("rate %v must be positive", p.Rate)
	}
	return nil
}

// Set applies one consumer property by its Kafka name.
func (c *ConsumerConfig) Set(name, value string) error {
	var err error
	switch name {
	case "fetch.max.wait.ms":
		c.FetchMaxWait, err = parseMillis(value, 0)
	case "request.timeout.ms":
		c.RequestTimeout, err = parseMillis(value, 1)
	case "retry.backoff.ms":
		c.RetryBackoff, err = parseMillis(value, 0)
	case "max.poll.records":
		var n int64
		n, err = parseInt(value, 1)
		c.MaxPollRecords = int(n)
	case "metadata.max.age.ms":
		c.MetadataMaxAge, err = parseMillis(value, 1)
	case "tideline.retransmit.ms":
		c.Retransmit, err = parseMillis(value, 1)
	case "client.rack":
		c.Rack, err = parseName(value, 64, "a rack name")
	case "group.id":
		c.GroupID, err = parseName(value, 249, "a group name")
	case "group.instance.id":
		c.InstanceID, err = parseName(value, 249, "an instance id")
	case "client.id":
		c.ClientID, err = parseName(value, 249, "a client id")
	case "session.timeout.ms":
		c.SessionTimeout, err = parseMillis(value, 1)
	case "heartbeat.interval.ms":
		c.HeartbeatInterval, err = parseMillis(value, 1)
	case "max.poll.interval.ms":
		c.MaxPollInterval, err = parseMillis(value, 1)
	case "enable.auto.commit":
		c.AutoCommit, err = strconv.ParseBool(value)
	case "auto.commit.interval.ms":
		c.AutoCommitInterval, err = parseMillis(value, 0)
	case "auto.offset.reset":
		switch value {
		case "latest", "earliest", "none":
			c.AutoOffsetReset = value
		default:
			err = fmt.Errorf("Invalid value %s for configuration auto.offset.reset: String must be one of: latest, earliest, none", value)
		}
	case "partition.assignment.strategy":
		c.Assignors, err = parseAssignors(value)
	case "tideline.commit":
		switch CommitMode(value) {
		case CommitAuto, CommitAfterProcessing, CommitBeforeProcessing:
			c.Commit = CommitMode(value)
		default:
			err = fmt.Errorf("want auto (Kafka's auto-commit inside poll), after-processing (commitSync after each batch: at-least-once) or before-processing (commitSync before processing: at-most-once)")
		}
	case "tideline.processing.ms":
		c.Processing, err = parseMillis(value, 0)
	case "tideline.processing.jitter.ms":
		c.ProcessingJitter, err = parseMillis(value, 0)
	default:
		return unknownProperty("consumer", name, consumerProperties)
	}
	if err != nil {
		return fmt.Errorf("%s: bad value %q: %w", name, value, err)
	}
	return nil
}

var consumerProperties = []string{"auto.commit.interval.ms", "auto.offset.reset", "client.id", "client.rack", "enable.auto.commit", "fetch.max.wait.ms",
	"group.id", "group.instance.id", "heartbeat.interval.ms", "max.poll.interval.ms", "max.poll.records", "metadata.max.age.ms", "partition.assignment.strategy",
	"request.timeout.ms", "retry.backoff.ms", "session.timeout.ms", "tideline.commit", "tideline.processing.jitter.ms", "tideline.processing.ms", "tideline.retransmit.ms"}

// parseAssignors reads partition.assignment.strategy: a comma-separated
// list of assignor names or Kafka's class names.
func parseAssignors(value string) ([]string, error) {
	var out []string
	for _, name := range strings.Split(value, ",") {
		switch strings.TrimSpace(name) {
		case "range", "org.apache.kafka.clients.consumer.RangeAssignor":
			out = append(out, AssignorRange)
		case "cooperative-sticky", "org.apache.kafka.clients.consumer.CooperativeStickyAssignor":
			out = append(out, AssignorCooperativeSticky)
		default:
			return nil, fmt.Errorf("assignor %q: tideline has range and cooperative-sticky", strings.TrimSpace(name))
		}
	}
	return out, nil
}

// Validate reports settings Kafka's consumer refuses together.
func (c ConsumerConfig) Validate() error {
	if c.GroupID == "" {
		return nil
	}
	if c.HeartbeatInterval >= c.SessionTimeout {
		return fmt.Errorf("heartbeat.interval.ms must be set lower than session.timeout.ms")
	}
	if c.Commit == CommitAuto && !c.AutoCommit {
		return fmt.Errorf("tideline.commit: auto relies on enable.auto.commit, which is false: nothing would ever commit")
	}
	return nil
}

// Cooperative reports whether the member rebalances incrementally: only
// when every assignor it lists supports the cooperative protocol, as
// Kafka's ConsumerCoordinator chooses (the default list is eager).
func (c ConsumerConfig) Cooperative() bool {
	for _, a := range c.Assignors {
		if a != AssignorCooperativeSticky {
			return false
		}
	}
	return len(c.Assignors) > 0
}

// maxInt is the largest value of Kafka's INT configuration type
// (Integer.MAX_VALUE), the upper end of the range ConfigDef gives nearly
// every count and millisecond setting here. A LONG millisecond setting
// (log.flush.interval.ms, flush.ms) is held to it too: 24.8 days is longer
// than any run, and nanoseconds past it would overflow.
const maxInt = math.MaxInt32

func parseMillis(value string, least int64) (time.Duration, error) {
	n, err := parseIntIn(value, least, maxInt)
	return time.Duration(n) * time.Millisecond, err
}

func parseCentis(value string, least int64) (time.Duration, error) {
	n, err := parseIntIn(value, least, maxInt)
	return time.Duration(n) * 10 * time.Millisecond, err
}

func parseInt(value string, least int64) (int64, error) { return parseIntIn(value, least, maxInt) }

// parseName reads a name of 1 to most characters.
func parseName(value string, most int, what string) (string, error) {
	if value == "" || len(value) > most {
		return value, fmt.Errorf("want %s of 1 to %d characters", what, most)
	}
	return value, nil
}

func parseCount(value string, least, most int64) (int, error) {
	n, err := parseIntIn(value, least, most)
	return int(n), err
}

func parseIntIn(value string, least, most int64) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("not a whole number")
	}
	if n < least || n > most {
		return 0, fmt.Errorf("want %d to %d", least, most)
	}
	return n, nil
}

// unknownProperty names the closest known property, for typos.
func unknownProperty(kind, name string, known []string) error {
	if best := suggest.Nearest(name, known); best != "" {
		return fmt.Errorf("unknown %s property %q (did you mean %q?)", kind, name, best)
	}
	return fmt.Errorf("unknown %s property %q (known: %s)", kind, name, strings.Join(known, ", "))
}

// PropertyKinds says which configurations accept the property name:
// "broker", "topic", "producer", "consumer" (some, like
// min.insync.replicas, are both broker and topic properties).
func PropertyKinds(name string) []string {
	var kinds []string
	for _, k := range []struct {
		kind  string
		names []string
	}{{"broker", brokerProperties}, {"topic", topicProperties}, {"producer", producerProperties}, {"consumer", consumerProperties}} {
		if slices.Contains(k.names, name) {
			kinds = append(kinds, k.kind)
		}
	}
	return kinds
}

// AllProperties lists every property name any configuration accepts.
func AllProperties() []string {
	var all []string
	for _, names := range [][]string{brokerProperties, topicProperties, producerProperties, consumerProperties} {
		for _, n := range names {
			if !slices.Contains(all, n) {
				all = append(all, n)
			}
		}
	}
	slices.Sort(all)
	return all
}

// QuorumConfig is the quorum's timing, with Kafka's defaults.
type QuorumConfig struct {
	FetchTimeout       time.Duration // controller.quorum.fetch.timeout.ms
	ElectionTimeout    time.Duration // controller.quorum.election.timeout.ms
	ElectionBackoffMax time.Duration // controller.quorum.election.backoff.max.ms
	RequestTimeout     time.Duration // controller.quorum.request.timeout.ms
	FetchMaxWait       time.Duration // the leader parks an empty fetch this long
	NoOpInterval       time.Duration // metadata.max.idle.interval.ms: the active controller writes a NoOp record this often
	// A voter snapshots its committed state (KIP-630) once this many bytes
	// of records (metadata.log.max.record.bytes.between.snapshots), or
	// this long (metadata.log.max.snapshot.interval.ms), followed the last.
	SnapshotBytes    int64
	SnapshotInterval time.Duration
	PreVote          bool // KIP-996 (Kafka 4.0); off: straight to a candidate, as 3.x
	// ColdStart starts the controllers with empty disks, to elect a first
	// leader (a cluster just formatted); otherwise the quorum is formed
	// before the scenario begins (tideline.quorum.cold-start).
	ColdStart bool
}

// DefaultQuorumConfig returns Kafka's defaults.
func DefaultQuorumConfig() QuorumConfig {
	return QuorumConfig{FetchTimeout: 2 * time.Second, ElectionTimeout: time.Second, ElectionBackoffMax: time.Second,
		RequestTimeout: 2 * time.Second, FetchMaxWait: 500 * time.Millisecond, NoOpInterval: 500 * time.Millisecond, PreVote: true,
		SnapshotBytes: 20 << 20, SnapshotInterval: time.Hour}
}
