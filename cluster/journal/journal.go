// Package journal records what a run's observers need, as the run goes:
// the clients' history of operations (a Jepsen-style history of sends and
// polls, kept encoded), the protocol events of every node (elections,
// fencing, ISR changes, truncations, the controller quorum's leadership)
// with the high-watermark and acks=all samples the checkers judge by, and
// the payload encoding that names each write. It holds records, not rules:
// the protocol monitor that checks rules watches the journal (Watcher)
// from the cluster package. It imports only clock and cluster/protocol.
package journal

import (
	"fmt"

	"github.com/tideline-sim/tideline/clock"
	"github.com/tideline-sim/tideline/cluster/protocol"
)

// OpType is the phase of a client operation, as in a Jepsen history.
type OpType uint8

const (
	Invoke OpType = iota // the client started it
	Ok                   // it definitely happened
	Fail                 // it definitely did not happen
	Info                 // unknown: it may or may not have happened
)

func (t OpType) String() string { return [...]string{"invoke", "ok", "fail", "info"}[t] }

// OpKind is what a client operation does.
type OpKind uint8

// Op kinds.
const (
	OpSend OpKind = iota
	OpPoll
	OpStart // a client (re)started: a consumer reads from offset 0 again
	// A group member's application processed a record (ok, one op a
	// record, at the time it finished with it).
	OpProcess
	// A group member committed the offset of a partition: ok once the
	// coordinator answered, fail where it refused, info where the outcome
	// is unknown (a timeout, or a coordinator that went away).
	OpCommit
	// A group member was given a partition for a generation.
	OpAssign
	// A group member's position in a partition was reset by
	// auto.offset.reset (Offset: where it now reads from), or it found
	// no committed offset and auto.offset.reset is none (fail).
	OpReset
)

func (k OpKind) String() string {
	return [...]string{"send", "poll", "start", "process", "commit", "assign", "reset"}[k]
}

// Op is one entry of the client history. A send is an invoke followed by
// ok (with the acknowledged offset), fail or info; a poll is recorded as one
// ok op per record read. A long run keeps millions, so the History stores
// them encoded (oplog.go) and hands out Op values as it decodes.
type Op struct {
	Time    clock.Time
	Start   clock.Time // ok sends: when the batch was first sent; polls: when the fetch was sent
	Payload int64
	Offset  int64  // acknowledged or read offset; -1 when none
	HW      int64  // polls: the high watermark in that fetch response
	Process string // client name
	TP      protocol.TopicPartition
	Note    string // e.g. "timed out", "delivery.timeout.ms expired"
	Index   int32
	// Broker acknowledged the send, or served the poll; NoLeader if none.
	Broker     protocol.BrokerID
	Err        protocol.ErrorCode // why a send failed or is unknown
	Type       OpType
	F          OpKind
	Acks       int8
	Idempotent bool // sends: enable.idempotence was on
	// Generation is a group member's generation for its group ops.
	Generation int32
	// Queued is when a send's record entered the accumulator, if send()
	// blocked for buffer memory first (0 if it did not: then at Invoke).
	Queued clock.Time
}

func (o Op) String() string {
	s := fmt.Sprintf("%v %s %s %s %v payload=%s", o.Time, o.Process, o.Type, o.F, o.TP, PayloadText(o.Payload))
	if o.Offset >= 0 {
		s += fmt.Sprintf(" offset=%d", o.Offset)
	}
	if o.Err != protocol.None {
		s += " " + o.Err.String()
	}
	if o.Note != "" {
		s += " (" + o.Note + ")"
	}
	return s
}

// EventKind names a protocol event worth telling: the raw material of
// violation stories and of coverage counts.
type EventKind string

const (
	EvCrashed                      EventKind = "crash"
	EvPowerLoss                    EventKind = "power-loss"
	EvStopped                      EventKind = "stop" // an orderly exit, after a clean shutdown
	EvRestarted                    EventKind = "restart"
	EvPaused                       EventKind = "pause"
	EvResumed                      EventKind = "resume"
	EvRegistered                   EventKind = "broker-registered"
	EvRegistrationRefused          EventKind = "broker-registration-refused"
	EvFenced                       EventKind = "broker-fenced"
	EvUnfenced                     EventKind = "broker-unfenced"
	EvControlledShutdown           EventKind = "broker-controlled-shutdown" // the controller took the broker's request to stop
	EvCleanStart                   EventKind = "clean-start"                // a broker found its clean-shutdown marker: no log recovery
	EvShutdownTimedOut             EventKind = "controlled-shutdown-timed-out"
	EvElected                      EventKind = "leader-elected"
	EvELRElected                   EventKind = "eligible-leader-elected" // clean, from the ELR (KIP-966)
	EvIneligibleReplica            EventKind = "ineligible-replica"      // an ISR expansion refused (KIP-903)
	EvUncleanElected               EventKind = "unclean-leader-elected"
	EvOffline                      EventKind = "partition-offline"
	EvPreferredElected             EventKind = "preferred-leader-elected"
	EvShutdownElected              EventKind = "shutdown-leader-moved"  // clean: a controlled shutdown handed the leadership on
	EvReassignStarted              EventKind = "reassignment-started"   // KIP-455: a partition's replicas are moving
	EvReassignCompleted            EventKind = "reassignment-completed" // every target replica in the ISR: the old ones dropped
	EvReplicaDeleted               EventKind = "replica-deleted"        // a broker stopped a replica reassigned away and deleted its log
	EvISRShrink                    EventKind = "isr-shrink"
	EvISRExpand                    EventKind = "isr-expand"
	EvBecameLeader                 EventKind = "became-leader"
	EvBecameFollower               EventKind = "became-follower"
	EvTruncated                    EventKind = "truncated"
	EvFencedRequest                EventKind = "fenced-request"
	EvDuplicateBatch               EventKind = "duplicate-batch"
	EvOutOfOrder                   EventKind = "out-of-order-sequence"
	EvNotEnoughReplicas            EventKind = "not-enough-replicas"
	EvNotEnoughReplicasAfterAppend EventKind = "not-enough-replicas-after-append"
	EvRecovered                    EventKind = "log-recovered"
	EvDiverged                     EventKind = "told-to-truncate" // a follower's fetch answered with a diverging epoch
	EvFault                        EventKind = "fault"            // a network fault or an operator's action, as the schedule fired it
	// The controller quorum's events (KIP-595, KIP-996).
	EvControllerCandidate  EventKind = "controller-candidate"
	EvControllerElected    EventKind = "controller-elected"
	EvControllerResigned   EventKind = "controller-resigned"    // check-quorum: no fetches from a majority
	EvControllerEndedEpoch EventKind = "controller-ended-epoch" // the leader resigned as it shut down (EndQuorumEpoch)
	EvControllerLostLeader EventKind = "controller-lost-leader"
	EvControllerActive     EventKind = "controller-active" // the leader's first record committed: it acts as the controller
	EvPreVoteRejected      EventKind = "pre-vote-rejected"
	// The group coordinators' events.
	EvCoordinatorLoaded   EventKind = "coordinator-loaded"   // a broker became coordinator of a __consumer_offsets partition
	EvCoordinatorUnloaded EventKind = "coordinator-unloaded" // it lost that leadership: its groups move with it
	EvGroupRebalance      EventKind = "group-rebalance"      // a group began a rebalance (PreparingRebalance)
	EvGroupGeneration     EventKind = "group-generation"     // a join phase ended: a new generation
	EvGroupStable         EventKind = "group-stable"         // the leader's assignment committed: every member has its partitions
	EvGroupMemberRemoved  EventKind = "group-member-removed" // left, or its session or rebalance timed out
	EvCommitTimedOut      EventKind = "offset-commit-timed-out"
)

// Election reports whether k is a partition getting a leader.
func (k EventKind) Election() bool {
	switch k {
	case EvElected, EvELRElected, EvUncleanElected, EvPreferredElected, EvShutdownElected:
		return true
	}
	return false
}

// CleanElection reports whether k is a leader chosen among the replicas
// that hold every committed record: the ISR, or the ELR (KIP-966).
func (k EventKind) CleanElection() bool { return k.Election() && k != EvUncleanElected }

// Down reports whether k ends a node's process: a crash, a power loss or
// an orderly stop.
func (k EventKind) Down() bool { return k == EvCrashed || k == EvPowerLoss || k == EvStopped }

// Event is one protocol event on one node.
type Event struct {
	Time   clock.Time
	Node   string
	Kind   EventKind
	TP     protocol.TopicPartition
	Epoch  int32
	Offset int64
	Broker protocol.BrokerID // the broker the event is about: elected, fenced, or (for a broker's own events) itself
	Detail string
	// For partition changes and became-leader/follower: the leader after it.
	Leader protocol.BrokerID
	ISR    []protocol.BrokerID
	ELR    []protocol.BrokerID // eligible leader replicas after a partition change (KIP-966)
	Voter  int32               // controller events: the controller (index) they are about
	Group  string              // group coordinator events: the consumer group
}

func (e Event) String() string {
	s := fmt.Sprintf("%v %s %s", e.Time, e.Node, e.Kind)
	if e.TP.Topic != "" {
		s += " " + e.TP.String()
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// HWSample is a replica's high watermark when it advanced.
type HWSample struct {
	Time   clock.Time
	Broker protocol.BrokerID
	TP     protocol.TopicPartition
	HW     int64
}

// AckSample is a leader completing an acks=all produce.
type AckSample struct {
	Time   clock.Time
	Broker protocol.BrokerID
	TP     protocol.TopicPartition
	Epoch  int32
	Offset int64 // base offset of the batch
}

// Journal is the run's protocol events in the order they happened, and the
// cheap samples the checkers use: high-watermark advances and acks=all
// completions. A Watcher (the protocol monitor) hears every event as it
// is recorded.
type Journal struct {
	events    []Event
	hwSamples []HWSample
	acks      []AckSample
	firstAck  map[ackKey]protocol.BrokerID
	// SampleHW keeps every high-watermark advance, for the trace's
	// counters; a run that writes no trace keeps none.
	SampleHW bool
	watcher  Watcher
	notify   func(Event)
}

// Watcher hears of every event the journal records: the protocol monitor,
// which checks Kafka's rules as the run goes.
type Watcher interface {
	// Describe says what the replicas of tp hold now: what makes an ISR
	// change or an election safe or not, for its story.
	Describe(tp protocol.TopicPartition) string
	// Observe hears each event once it is recorded.
	Observe(e Event)
}

// Watch has w hear every event from now on.
func (j *Journal) Watch(w Watcher) { j.watcher = w }

// Notify has f hear of every event as it is recorded, from inside the run:
// how the runner times faults to protocol events. f must not act on the
// world at once; it schedules.
func (j *Journal) Notify(f func(Event)) { j.notify = f }

// Add records an event.
func (j *Journal) Add(e Event) {
	if j.watcher != nil {
		switch e.Kind {
		case EvISRExpand, EvISRShrink, EvElected, EvELRElected, EvUncleanElected, EvShutdownElected, EvOffline:
			e.Detail += "; " + j.watcher.Describe(e.TP)
		}
	}
	j.events = append(j.events, e)
	if j.watcher != nil {
		j.watcher.Observe(e)
	}
	if j.notify != nil {
		j.notify(e)
	}
}

// Fault records a fault that is not a node's lifecycle (a partition, a
// lossy or slow link, a heal, an operator's election) as it fires or ends.
func (j *Journal) Fault(at clock.Time, text string) {
	j.Add(Event{Time: at, Node: "faults", Kind: EvFault, Broker: protocol.NoLeader, Leader: protocol.NoLeader, Detail: text})
}

// Lifecycle records a node's crash, power loss, restart, pause or resume.
func (j *Journal) Lifecycle(at clock.Time, node string, broker protocol.BrokerID, kind string) {
	j.Add(Event{Time: at, Node: node, Kind: EventKind(kind), Broker: broker, Leader: protocol.NoLeader, Detail: node + " " + kind})
}

// sampleHW keeps a high-watermark advance, if samples are kept.
func (j *Journal) AddHW(s HWSample) {
	if j.SampleHW {
		j.hwSamples = append(j.hwSamples, s)
	}
}

// HWSamples returns every high-watermark sample in order.
func (j *Journal) HWSamples() []HWSample { return j.hwSamples }

type ackKey struct {
	tp    protocol.TopicPartition
	epoch int32
}

// Ack keeps an acks=all completion if it is the first at its partition and
// epoch, or from another broker than the first: all that split-brain
// commits are judged by (a long run completes millions).
func (j *Journal) Ack(a AckSample) {
	key := ackKey{a.TP, a.Epoch}
	first, seen := j.firstAck[key]
	if seen && first == a.Broker {
		return
	}
	if !seen {
		if j.firstAck == nil {
			j.firstAck = map[ackKey]protocol.BrokerID{}
		}
		j.firstAck[key] = a.Broker
	}
	j.acks = append(j.acks, a)
}

// Acks returns, in order, the first acks=all completion of each partition
// and leader epoch, and every one after it by another broker.
func (j *Journal) Acks() []AckSample { return j.acks }

// Events returns every event in order.
func (j *Journal) Events() []Event { return j.events }
