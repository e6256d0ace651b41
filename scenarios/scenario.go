// Package scenarios reads scenario files: the cluster, network, workload,
// faults and expectations of a run, validated strictly so that every mistake
// is reported with its file, line and column. It also holds the built-in
// library. It builds nothing and runs nothing.
package scenarios

import (
	"fmt"
	"slices"
	"time"

	"github.com/tideline-sim/tideline/check"
	"github.com/tideline-sim/tideline/cluster"
	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/cluster/protocol"
	"github.com/tideline-sim/tideline/network"
)

// Scenario is a validated scenario.
type Scenario struct {
	Name        string
	Description string
	Source      string // file path, or "built-in"
	Text        []byte // the YAML as written
	Duration    time.Duration
	Settle      time.Duration // the final stretch: faults healed, producers stopped
	Seed        uint64
	Cluster     cluster.Spec
	Network     network.Link
	Links       []LinkOverride
	Faults      []Fault
	Expect      []Expectation
}

// FaultWindowEnd is when the settle period starts: every fault is healed,
// every node restarted, and producers stop, so that the cluster can converge
// before the checkers look at it.
func (s *Scenario) FaultWindowEnd() time.Duration { return s.Duration - s.Settle }

// WithDuration returns a copy of the scenario that runs for d: the load
// goes on until the settle period, which still closes the run, so a longer
// run is a longer load (a soak), not a longer quiet tail. Faults keep their
// times; producers stopped explicitly earlier keep their stop.
func (s *Scenario) WithDuration(d time.Duration) *Scenario {
	c := *s
	c.Duration = d
	c.Cluster.Producers = slices.Clone(s.Cluster.Producers)
	for i := range c.Cluster.Producers {
		if p := &c.Cluster.Producers[i]; p.Stop == s.FaultWindowEnd() {
			p.Stop = c.FaultWindowEnd()
		}
	}
	return &c
}

// LinkOverride sets the link from one node to another.
type LinkOverride struct {
	From, To string
	Link     network.Link
}

// FaultKind is what a fault does.
type FaultKind string

const (
	Crash     FaultKind = "crash"
	PowerLoss FaultKind = "power-loss"
	Stop      FaultKind = "stop" // an orderly stop: controlled shutdown, then a clean exit
	Restart   FaultKind = "restart"
	Pause     FaultKind = "pause"
	Resume    FaultKind = "resume"
	Isolate   FaultKind = "isolate"
	Partition FaultKind = "partition"
	OneWay    FaultKind = "one-way"
	Heal      FaultKind = "heal"
	SlowLink  FaultKind = "slow-link"
	Loss      FaultKind = "loss"
	Elect     FaultKind = "elect"
	Reassign  FaultKind = "reassign"
)

// Fault is one entry of the fault schedule.
type Fault struct {
	At      time.Duration
	For     time.Duration // 0: until something else undoes it
	Kind    FaultKind
	Target  Target     // crash, power-loss, stop, restart, pause, resume, isolate, heal
	Groups  [][]Target // partition
	From    []Target   // one-way, slow-link
	To      []Target
	Delay   time.Duration // slow-link
	Loss    float64       // loss
	TP      protocol.TopicPartition
	Unclean bool // elect
	// Preferred: elect the partition's first replica, if it is in the ISR
	// and live (kafka-leader-election.sh --election-type preferred).
	Preferred bool
	// Reassign: TP to Replicas, or (Off >= 0) every partition off broker
	// Off, each of its replicas there replaced by the next broker not
	// already a replica.
	Replicas []int
	Off      int
	// After, when set, holds the fault back from At until the protocol
	// event it names happens, then fires it AfterDelay later: a crash timed
	// to land within milliseconds of an ISR change or an election.
	After      *Trigger
	AfterDelay time.Duration
	Line       int
	Text       string // as written, for narration
}

// Trigger names a protocol event, of one partition or of any.
type Trigger struct {
	Event journal.EventKind
	TP    protocol.TopicPartition // zero: any partition
}

// Triggers are the protocol events a fault may wait for.
var Triggers = []journal.EventKind{
	journal.EvISRExpand, journal.EvISRShrink, journal.EvElected, journal.EvELRElected, journal.EvPreferredElected, journal.EvShutdownElected, journal.EvBecameLeader,
	journal.EvControlledShutdown,
	journal.EvTruncated, journal.EvFenced, journal.EvRegistered, journal.EvUnfenced,
}

func (t Trigger) String() string {
	if t.TP.Topic == "" {
		return string(t.Event)
	}
	return fmt.Sprintf("%s(%v)", t.Event, t.TP)
}

// Matches reports whether an event sets the trigger off.
func (t Trigger) Matches(e journal.Event) bool {
	return e.Kind == t.Event && (t.TP.Topic == "" || e.TP == t.TP)
}

// TargetKind is how a fault names the nodes it hits.
type TargetKind uint8

const (
	BrokerTarget         TargetKind = iota // broker-N
	ControllerTarget                       // controller: the active one, resolved when the fault fires
	ControllerNTarget                      // controller-N, one of a quorum
	AllControllersTarget                   // controllers: every one
	LeaderTarget                           // leader(topic/p), resolved when the fault fires
	FollowerTarget                         // follower(topic/p): one in-sync follower, drawn from the fault stream
	CrashedTarget                          // every node that is down
	RandomBrokerTarget                     // a broker drawn from the fault stream
	AllBrokersTarget                       // every broker
	RackTarget                             // rack(NAME): every broker with that broker.rack
	RestTarget                             // in a partition: every node in no other group
	AllTarget                              // heal: everything
	ConsumerTarget                         // consumer-N
	AllConsumersTarget                     // consumers: every consumer
	GroupTarget                            // group(NAME): every member of a consumer group
	CoordinatorTarget                      // coordinator(GROUP): the broker coordinating a group, resolved when the fault fires
)

// Target names the nodes a fault hits.
type Target struct {
	Kind       TargetKind
	Broker     int
	Controller int
	TP         protocol.TopicPartition
	Rack       string
	Consumer   int
	Group      string
}

// OnlyBrokers reports whether every node the target can name is a broker.
func (t Target) OnlyBrokers() bool {
	switch t.Kind {
	case BrokerTarget, LeaderTarget, FollowerTarget, RandomBrokerTarget, AllBrokersTarget, RackTarget, CoordinatorTarget:
		return true
	}
	return false
}

func (t Target) String() string {
	switch t.Kind {
	case BrokerTarget:
		return fmt.Sprintf("broker-%d", t.Broker)
	case ControllerTarget:
		return "controller"
	case ControllerNTarget:
		return fmt.Sprintf("controller-%d", t.Controller)
	case AllControllersTarget:
		return "controllers"
	case LeaderTarget:
		return fmt.Sprintf("leader(%v)", t.TP)
	case FollowerTarget:
		return fmt.Sprintf("follower(%v)", t.TP)
	case CrashedTarget:
		return "crashed"
	case RandomBrokerTarget:
		return "random-broker"
	case AllBrokersTarget:
		return "all-brokers"
	case RackTarget:
		return "rack(" + t.Rack + ")"
	case RestTarget:
		return "rest"
	case ConsumerTarget:
		return fmt.Sprintf("consumer-%d", t.Consumer)
	case AllConsumersTarget:
		return "consumers"
	case GroupTarget:
		return "group(" + t.Group + ")"
	case CoordinatorTarget:
		return "coordinator(" + t.Group + ")"
	}
	return "all"
}

// Expectation is one line of the expect block.
type Expectation struct {
	Name string // a checker, or one of the measures (Measures)
	Text string // as written
	// For checkers: whether it must pass (false: it must detect a violation),
	// unless Any says its verdict is not asserted.
	Pass bool
	Any  bool
	// For measures: got Op Value must hold. Durations are in seconds.
	Op    string
	Value float64
}

// Holds reports whether a measured value meets the expectation.
func (e Expectation) Holds(got float64) bool {
	switch e.Op {
	case ">=":
		return got >= e.Value
	case ">":
		return got > e.Value
	case "<=":
		return got <= e.Value
	case "<":
		return got < e.Value
	case "==":
		return got == e.Value
	case "!=":
		return got != e.Value
	}
	return false
}

// The measures an expect block may compare, each with the comparison a
// bare value means: the shares are floors, the durations ceilings, and the
// counts exact.
const (
	// Availability is the share of time a write sent then was acknowledged
	// within tideline.availability.deadline.ms (the mean over partitions).
	Availability           = "availability"
	EventuallyAcknowledged = "eventually-acknowledged" // share of sends acknowledged at all
	MaxOutage              = "max-outage"              // the longest write outage of any partition
	MaxRecovery            = "max-recovery"            // worst time from a fault until writes resume
	Lost                   = "lost"                    // acknowledged writes lost
	OfflinePartitions      = "offline-partitions"      // partitions with no live leader at the end
	Unprocessed            = "unprocessed"             // acknowledged writes a consumer group never processed
	DuplicatesProcessed    = "duplicates-processed"    // records a consumer group processed more than once
	MaxLag                 = "max-lag"                 // a consumer group's largest lag, in records
	Rebalances             = "rebalances"              // consumer group rebalances after the groups formed
	Reordered              = "reordered"               // acknowledged writes out of the order their producer sent them
	Duplicated             = "duplicated"              // writes in a log more than once (every copy after the first)
)

// Measures lists the measures with the comparison a bare value means.
var Measures = []struct{ Name, BareOp string }{
	{Availability, ">="}, {EventuallyAcknowledged, ">="}, {Lost, "=="}, {MaxOutage, "<="}, {MaxRecovery, "<="}, {OfflinePartitions, "=="},
	{Unprocessed, "=="}, {DuplicatesProcessed, "=="}, {MaxLag, "<="}, {Rebalances, "<="}, {Reordered, "=="},
	{Duplicated, "=="},
}

// Checkers are the checker names an expect block may use.
var Checkers = check.Names
