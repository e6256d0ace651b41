// Package check holds the checkers that prove or refute a run's promises.
// Checkers read the client history, the journal of protocol events and the
// final replica logs; they never touch a running world.
package check

import (
	"fmt"
	"time"

	"github.com/tideline-sim/tideline/clock"
	"github.com/tideline-sim/tideline/cluster"
	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/cluster/monitor"
	"github.com/tideline-sim/tideline/cluster/protocol"
)

// Input is everything the checkers read about a finished run.
type Input struct {
	History *journal.History
	Events  []journal.Event
	// Divergences are the LogMatching violations the journal saw as the
	// run went.
	Divergences []monitor.Divergence
	// Invariants are the protocol rules the monitor saw broken.
	Invariants []monitor.InvariantViolation
	Acks       []journal.AckSample
	Final      []cluster.FinalLog
	// Quorum is each controller's view at the end, nil for a lone
	// controller; QuorumViolations the quorum rules the journal saw broken.
	Quorum           []cluster.QuorumStatus
	QuorumViolations []monitor.QuorumViolation
	Healed           clock.Time // when the last fault was healed (the settle period began)
	End              clock.Time
	// Bounded are the run's faults when they came one at a time, each held
	// to its recovery bound (slow-recovery) with Recoveries, one per
	// fault, and the scenario's broker.session.timeout.ms and
	// replica.lag.time.max.ms; nil when the faults overlap, wait for an
	// event or are of a kind the bound does not cover.
	Bounded      []BoundedFault
	Recoveries   []Recovery
	Session, Lag time.Duration
	// Groups names each consumer group member by its group, as the
	// scenario asked; EndToEnd is AnalyseGroups' verdict over them, nil
	// without groups.
	Groups   Groups
	EndToEnd *Result
}

// Violation is one broken promise, with the operations that show it and,
// for the first few of each checker, the story of how it came about.
type Violation struct {
	Checker string
	Kind    string // the anomaly, by Jepsen's name where there is one
	TP      protocol.TopicPartition
	Offset  int64
	Payload int64
	Message string
	Ops     []journal.Op // the history entries involved
	At      clock.Time   // when it happened, for violations seen during the run (0 otherwise)
	Story   []string     // numbered timeline of the decisive events
}

func (v Violation) String() string {
	return fmt.Sprintf("%s/%s: %v offset %d: %s", v.Checker, v.Kind, v.TP, v.Offset, v.Message)
}

// Result is one checker's verdict.
type Result struct {
	Checker    string
	Definition string
	Violations []Violation
	Notes      []string // findings that break no promise (e.g. harmless zombie leaders)
	// Unavailable holds acknowledged writes that are not lost but cannot be
	// read at the end: only a down replica of a leaderless partition has them.
	Unavailable []Violation
}

// OK reports whether the promise held (or could not be refuted).
func (r Result) OK() bool { return len(r.Violations) == 0 }

// Verdict is "pass" or "fail": a function of the run alone, never of how
// long a check took.
func (r Result) Verdict() string {
	if !r.OK() {
		return "fail"
	}
	return "pass"
}

// Names of the checkers, in the order All runs them.
const (
	AckedDurabilityName  = "acked-durability"
	ReplicaAgreementName = "replica-agreement"
	LeaderUniquenessName = "leader-uniqueness"
	ConsumerSafetyName   = "consumer-safety"
	NoDuplicatesName     = "no-duplicates"
	LinearizableName     = "linearizable"
	OrderingName         = "ordering"
	EventualDeliveryName = "eventual-delivery"
	// SlowRecoveryName (recovery.go): run only when the faults came one at a time.
	ProtocolInvariantsName = "protocol-invariants"
	MetadataQuorumName     = "metadata-quorum" // run only with a controller quorum
	EndToEndName           = "end-to-end"      // run only with consumer groups
	CrashName              = "crash"           // a panic in tideline's own code: the run's one result when it happens
)

// Names lists every checker.
var Names = []string{AckedDurabilityName, ReplicaAgreementName, LeaderUniquenessName, ConsumerSafetyName,
	NoDuplicatesName, LinearizableName, OrderingName, EventualDeliveryName, SlowRecoveryName, ProtocolInvariantsName, MetadataQuorumName, EndToEndName, CrashName}

// maxStories bounds how many violations per checker get a story: the first
// ones explain the rest, and building a story scans the journal.
const maxStories = 10

// All runs every checker and tells the story of each checker's first
// violations.
func All(in Input) []Result {
	results := []Result{
		AckedDurability(in.History, in.Final),
		ReplicaAgreement(in.Divergences, in.Final),
		LeaderUniqueness(in.Events, in.Acks, in.End),
		ConsumerSafety(in.History, in.Final),
		NoDuplicates(in.History, in.Final),
		Linearizable(in.History),
		Ordering(in.History, in.Final),
		EventualDelivery(in.History, in.Final, in.Healed, in.End),
	}
	if in.Bounded != nil {
		results = append(results, SlowRecovery(in.Bounded, in.Recoveries, in.Session, in.Lag, in.Healed.Since()))
	}
	results = append(results, ProtocolInvariants(in.Invariants))
	if in.Quorum != nil {
		results = append(results, MetadataQuorum(in.QuorumViolations, in.Quorum))
	}
	if split, notes := splitOwnership(in.History, in.Groups); split != nil || notes != nil {
		results[3].Violations = append(results[3].Violations, split...)
		results[3].Notes = append(results[3].Notes, notes...)
	}
	if in.EndToEnd != nil {
		results = append(results, *in.EndToEnd)
	}
	for i := range results {
		for j := range results[i].Violations {
			if j == maxStories {
				break
			}
			v := &results[i].Violations[j]
			if v.Story == nil {
				v.Story = Story(*v, in.Events, in.Final)
			}
		}
	}
	return results
}

// finalByTP indexes final logs by partition.
func finalByTP(final []cluster.FinalLog) map[protocol.TopicPartition]cluster.FinalLog {
	m := make(map[protocol.TopicPartition]cluster.FinalLog, len(final))
	for _, f := range final {
		m[f.TP] = f
	}
	return m
}
