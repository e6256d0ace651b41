package monitor

import (
	"fmt"
	"slices"
	"sort"

	"github.com/tideline-sim/tideline/clock"
	"github.com/tideline-sim/tideline/cluster/config"
	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/cluster/protocol"
	"github.com/tideline-sim/tideline/cluster/storage"
	"github.com/tideline-sim/tideline/sim"
)

// The protocol monitor. Kafka's own RaftEventSimulationTest checks its
// invariants after every event; tideline does the same for replication:
// brokers and the controller report what they do (a high watermark set, a
// follower's fetch accepted, an ISR expanded, an acks=all write completed,
// a metadata view applied, a truncation), and the monitor checks the rule
// against every live replica's actual log at that instant. A rule broken
// without (yet) losing data is seen here, where a checker of the end state
// or of the client history would miss it.

// Invariant names, one per rule (anchors/kafka-replication.md).
const (
	// The leader's high watermark exceeds the log end of an ISR member: a
	// committed record is missing from a replica that may be elected.
	InvHWAboveISRLEO = "hw-above-isr-leo"
	// A replica's high watermark past its own log end: it claims committed
	// records it does not hold (a follower bounds the leader's HW by its
	// own log end offset).
	InvHWAboveOwnLEO = "hw-above-own-leo"
	// A broker acting on another setting than the scenario gave it (a
	// topic's min.insync.replicas override lost, a partition with another
	// replication factor or a broker twice among its replicas): the rules
	// that depend on configuration are judged by what the user asked for.
	InvConfigNotApplied = "config-not-applied"
	// A broker left in an ISR by the fencing that took it out of service
	// (KRaft's handleBrokerFenced removes it; without ELR it may stay as
	// the last member, "last replica standing").
	InvFencedInISR = "fenced-in-isr"
	// An unclean election the scenario did not allow: without ELR, with
	// unclean.leader.election.enable off for the topic and no operator
	// asking for one (kafka-leader-election.sh --election-type unclean).
	InvUncleanNotEnabled = "unclean-election-not-enabled"
	// The leader's high watermark moved while the ISR was below
	// min.insync.replicas (Kafka 3.7+, KAFKA-15583).
	InvHWBelowMinISR = "hw-below-min-isr"
	// A follower in the ISR truncated below the leader's high watermark.
	InvISRMemberBelowHW = "isr-member-truncated-below-hw"
	// A follower joined the ISR while its log end was below the leader's
	// high watermark, or without having fetched in the current leader epoch.
	InvISRAdmittedBehind = "isr-admitted-behind"
	InvISRAdmittedStale  = "isr-admitted-stale-epoch"
	// An acks=all write was acknowledged while the ISR was below
	// min.insync.replicas, or while an ISR member lacked it.
	InvAckBelowMinISR   = "ack-below-min-isr"
	InvAckMissingOnISR  = "ack-missing-on-isr-member"
	InvZombieAck        = "zombie-ack" // by a leader whose epoch the controller replaced, with the new leader lacking it
	InvCleanOutsideISR  = "clean-election-outside-isr"
	InvMetadataBackward = "metadata-regression"     // a broker applied an older (leader epoch, partition epoch)
	InvLeaderEpochBack  = "leader-epoch-regression" // a broker led a partition at an epoch not above its last
	InvLeaderTruncated  = "leader-truncated"        // a leader removed records from its own log
	InvLogMatching      = "divergence-below-hw"     // see Divergence
)

// InvariantViolation is a protocol rule broken at one instant.
type InvariantViolation struct {
	Time   clock.Time
	Kind   string
	TP     protocol.TopicPartition
	Broker protocol.BrokerID // the broker that broke it (the leader, the follower, the viewer)
	Offset int64             // the offset concerned, -1 if none
	Detail string
}

// Divergence is two live replicas found disagreeing below the smaller of
// their high watermarks at one instant: Kafka's LogMatching invariant broken.
type Divergence struct {
	Time     clock.Time
	TP       protocol.TopicPartition
	A, B     protocol.BrokerID
	HWA, HWB int64
	Offset   int64 // the first offset where they differ
}

// maxInvariantReports bounds what one rule reports per partition and
// broker: the first few explain the rest, and a long run must not keep
// millions.
const maxInvariantReports = 3

type replication struct {
	live        map[protocol.TopicPartition]*Peers
	divergences []Divergence
	diverged    map[divergedPair]bool // each pair of replicas is reported once

	violations []InvariantViolation
	reported   map[reportKey]int

	controller map[protocol.TopicPartition]protocol.PartitionState // the controller's latest decision per partition
	views      map[viewKey]protocol.PartitionState                 // each broker's latest applied view
	fetched    map[viewKey]int32                                   // leader epoch of each follower's last accepted fetch
	leaderOf   map[viewKey]int32                                   // epoch of each broker's latest leadership

	// minISR is each topic's min.insync.replicas as the scenario set it
	// (its override, or the broker's): what the rules judge by, never the
	// value a broker holds.
	minISR map[string]int
	rf     map[string]int // each topic's replication.factor as the scenario set it
	// unclean is each topic's unclean.leader.election.enable as the
	// scenario set it; operatorUnclean the partitions an operator asked an
	// unclean election of.
	unclean         map[string]bool
	operatorUnclean map[protocol.TopicPartition]bool
	reassigned      map[protocol.TopicPartition]bool // partitions an operator reassigned: their replica count is the target's
	// producers are the scenario's producer settings, by node ID (nil
	// where the node is no producer).
	producers []*config.ProducerConfig
	elr       bool // eligible.leader.replicas.version as the scenario set it
}

// Replica is what a broker shows the monitor of one of its replicas as it
// acts: the monitor reads the log and never keeps the view.
type Replica struct {
	TP     protocol.TopicPartition
	Log    *storage.Log
	Peers  *Peers // what Track returned for this log
	Leader bool
	State  *protocol.PartitionState
	MinISR int // the broker's setting, judged against the scenario's
}

// BrokerFenced holds a committed fencing to KRaft's rule: the fenced
// broker is in no ISR, except as the last member without ELR.
func (m *replication) BrokerFenced(at clock.Time, b protocol.BrokerID, parts []protocol.PartitionState) {
	for _, p := range parts {
		if p.InISR(b) && (len(p.ISR) > 1 || m.elr) {
			m.violate(at, InvFencedInISR, p.TP, b, -1, "broker %d was fenced but is still in the ISR %v of %v", b, p.ISR, p.TP)
		}
	}
}

// scenarioMinISR is the min.insync.replicas the scenario gave topic, -1 if
// it gave none.
func (m *replication) scenarioMinISR(topic string) int {
	if want, known := m.minISR[topic]; known {
		return want
	}
	return -1
}

// wantMinISR is the min.insync.replicas the scenario gave r's topic, and
// reports a broker that acts on another.
func (m *replication) wantMinISR(at clock.Time, b protocol.BrokerID, r *Replica) int {
	want := m.scenarioMinISR(r.TP.Topic)
	if r.Peers != nil {
		want = r.Peers.minISR
	}
	if want < 0 {
		return r.MinISR // a unit test's replica, with no scenario behind it
	}
	if r.MinISR != want {
		m.violate(at, InvConfigNotApplied, r.TP, b, -1, "broker %d applies min.insync.replicas=%d to %v; the scenario set %d", b, r.MinISR, r.TP, want)
	}
	return want
}

// Peers are a partition's replicas' logs, indexed by broker, nil while
// down. A broker keeps its replica's (what track returned): the checks that
// run at every high watermark move find its peers without a map lookup.
type Peers struct {
	logs []*storage.Log
	// minISR is the scenario's min.insync.replicas for the partition's
	// topic, found once here rather than by topic name at every high
	// watermark move; -1 when no scenario says (a unit test).
	minISR int
}

// peers returns the live logs of r's partition, indexed by broker.
func (m *replication) peers(r *Replica) []*storage.Log {
	if r.Peers != nil {
		return r.Peers.logs
	}
	if ll := m.live[r.TP]; ll != nil {
		return ll.logs
	}
	return nil
}

// peer returns broker b's log of r's partition while b is up, nil
// otherwise.
func (m *replication) peer(r *Replica, b protocol.BrokerID) *storage.Log {
	logs := m.peers(r)
	if b < 0 || int(b) >= len(logs) {
		return nil
	}
	return logs[b]
}

type divergedPair struct {
	tp   protocol.TopicPartition
	a, b protocol.BrokerID
}

type viewKey struct {
	tp protocol.TopicPartition
	b  protocol.BrokerID
}

type reportKey struct {
	kind string
	tp   protocol.TopicPartition
	b    protocol.BrokerID
}

// Violations returns every protocol rule broken during the run.
func (m *replication) Violations() []InvariantViolation { return m.violations }

// Divergences returns every LogMatching violation seen during the run.
func (m *replication) Divergences() []Divergence { return m.divergences }

func (m *replication) violate(at clock.Time, kind string, tp protocol.TopicPartition, b protocol.BrokerID, offset int64, format string, args ...any) {
	if m.reported == nil {
		m.reported = map[reportKey]int{}
	}
	key := reportKey{kind, tp, b}
	if m.reported[key]++; m.reported[key] > maxInvariantReports {
		return
	}
	m.violations = append(m.violations, InvariantViolation{Time: at, Kind: kind, TP: tp, Broker: b, Offset: offset, Detail: fmt.Sprintf(format, args...)})
}

// liveLog returns broker b's log of tp while b is up, nil otherwise.
func (m *replication) liveLog(tp protocol.TopicPartition, b protocol.BrokerID) *storage.Log {
	ll := m.live[tp]
	if ll == nil || b < 0 || int(b) >= len(ll.logs) {
		return nil
	}
	return ll.logs[b]
}

// Track registers a replica's log as recovered at boot, checks it, and
// returns its partition's live logs for the broker to show again.
func (m *replication) Track(at clock.Time, b protocol.BrokerID, l *storage.Log) *Peers {
	if m.live == nil {
		m.live = map[protocol.TopicPartition]*Peers{}
	}
	ll := m.live[l.TP]
	if ll == nil {
		ll = &Peers{minISR: m.scenarioMinISR(l.TP.Topic)}
		m.live[l.TP] = ll
	}
	for int(b) >= len(ll.logs) {
		ll.logs = append(ll.logs, nil)
	}
	ll.logs[b] = l
	m.checkAgreement(at, b, l, ll.logs)
	return ll
}

// forget drops a broker's logs when its process dies: it returns by
// recovering them from disk.
// Untrack forgets broker b's replica of tp: the broker deleted it (a
// reassignment moved the partition away).
func (m *replication) Untrack(b protocol.BrokerID, tp protocol.TopicPartition) {
	if ll := m.live[tp]; ll != nil && int(b) < len(ll.logs) {
		ll.logs[b] = nil
	}
}

func (m *replication) forget(b protocol.BrokerID) {
	for _, ll := range m.live {
		if int(b) < len(ll.logs) {
			ll.logs[b] = nil
		}
	}
}

// checkAgreement compares replica b's log with every other live replica of
// its partition below the smaller of their two high watermarks, up to the
// last offset at which both hold the same leader epoch.
func (m *replication) checkAgreement(at clock.Time, b protocol.BrokerID, l *storage.Log, peers []*storage.Log) {
	for o, other := range peers {
		if other == nil || protocol.BrokerID(o) == b {
			continue
		}
		// Below both high watermarks, and never past what either holds:
		// a high watermark past its log is a violation of its own
		// (hw-above-own-leo), not an index out of range here.
		end := min(l.HW, other.HW, l.LEO(), other.LEO())
		end = storage.MatchingEnd(l, other, end) // where both hold the same epoch: Raft's LogMatching
		if end <= 0 || l.PrefixHash(end) == other.PrefixHash(end) {
			continue
		}
		pair := divergedPair{l.TP, min(b, protocol.BrokerID(o)), max(b, protocol.BrokerID(o))}
		if m.diverged[pair] {
			continue
		}
		if m.diverged == nil {
			m.diverged = map[divergedPair]bool{}
		}
		m.diverged[pair] = true
		// Prefix hashes chain: the first offset whose prefix differs is
		// the first record that differs.
		off := sort.Search(int(end), func(i int) bool { return l.PrefixHash(int64(i)+1) != other.PrefixHash(int64(i)+1) })
		m.divergences = append(m.divergences, Divergence{Time: at, TP: l.TP, A: b, B: protocol.BrokerID(o), HWA: l.HW, HWB: other.HW, Offset: int64(off)})
	}
}

// HWSet is a replica's high watermark rising. On a leader, no ISR member
// may end below it (TLA+ models: HW ≤ every ISR member's LEO).
func (m *replication) HWSet(at clock.Time, b protocol.BrokerID, r *Replica) {
	if r.Log.HW > r.Log.LEO() {
		m.violate(at, InvHWAboveOwnLEO, r.TP, b, r.Log.HW, "broker %d's high watermark %d is past its own log end %d", b, r.Log.HW, r.Log.LEO())
	}
	m.checkAgreement(at, b, r.Log, m.peers(r))
	if !r.Leader {
		return
	}
	if minISR := m.wantMinISR(at, b, r); len(r.State.ISR) < min(minISR, len(r.State.Replicas)) {
		m.violate(at, InvHWBelowMinISR, r.TP, b, r.Log.HW, "leader %d moved its high watermark to %d with ISR %v below min.insync.replicas=%d",
			b, r.Log.HW, r.State.ISR, minISR)
	}
	for _, id := range r.State.ISR {
		if l := m.peer(r, id); id != b && l != nil && l.LEO() < r.Log.HW {
			m.violate(at, InvHWAboveISRLEO, r.TP, b, l.LEO(), "leader %d moved its high watermark to %d at epoch %d, but ISR member %d's log ends at %d",
				b, r.Log.HW, r.State.LeaderEpoch, id, l.LEO())
		}
	}
}

// FollowerFetched is a leader accepting a follower's fetch at an epoch.
// The newest epoch is kept: a zombie leader that wakes from a pause and
// serves a fetch queued under its old epoch does not undo a fetch the
// follower made of the current leader.
func (m *replication) FollowerFetched(tp protocol.TopicPartition, follower protocol.BrokerID, epoch int32) {
	if m.fetched == nil {
		m.fetched = map[viewKey]int32{}
	}
	key := viewKey{tp, follower}
	if last, ok := m.fetched[key]; !ok || epoch > last {
		m.fetched[key] = epoch
	}
}

// ISRExpanded is the controller committing an ISR expansion: each added
// follower must have caught up to the leader's high watermark and fetched
// in the current leader epoch (KIP-903 and Partition.isReplicaIsrEligible).
func (m *replication) ISRExpanded(at clock.Time, p protocol.PartitionState, added []protocol.BrokerID) {
	leader := m.liveLog(p.TP, p.Leader)
	for _, id := range added {
		if epoch, ok := m.fetched[viewKey{p.TP, id}]; !ok || epoch != p.LeaderEpoch {
			m.violate(at, InvISRAdmittedStale, p.TP, id, -1, "broker %d joined the ISR at leader epoch %d; its last accepted fetch was at epoch %d", id, p.LeaderEpoch, epoch)
		}
		if l := m.liveLog(p.TP, id); leader != nil && l != nil && l.LEO() < leader.HW {
			m.violate(at, InvISRAdmittedBehind, p.TP, id, l.LEO(), "broker %d joined the ISR with log end %d, below leader %d's high watermark %d",
				id, l.LEO(), p.Leader, leader.HW)
		}
	}
}

// AckedAll is a leader completing an acks=all write of [base, last]: the
// ISR must be at min.insync.replicas, every live ISR member must hold the
// records, and a leader whose epoch the controller replaced may complete
// only what its successor holds.
func (m *replication) AckedAll(at clock.Time, b protocol.BrokerID, r *Replica, base, last int64) {
	if minISR := m.wantMinISR(at, b, r); len(r.State.ISR) < min(minISR, len(r.State.Replicas)) {
		m.violate(at, InvAckBelowMinISR, r.TP, b, base, "leader %d acknowledged offsets %d-%d under acks=all with ISR %v below min.insync.replicas=%d",
			b, base, last, r.State.ISR, minISR)
	}
	end := last + 1
	for _, id := range r.State.ISR {
		if l := m.peer(r, id); id != b && l != nil && !sameUpTo(l, r.Log, end) {
			m.violate(at, InvAckMissingOnISR, r.TP, b, base, "leader %d acknowledged offsets %d-%d under acks=all; ISR member %d's log ends at %d or differs",
				b, base, last, id, l.LEO())
		}
	}
	ctl, known := m.controller[r.TP]
	if !known || ctl.LeaderEpoch <= r.State.LeaderEpoch || ctl.Leader == protocol.NoLeader {
		return
	}
	if l := m.peer(r, ctl.Leader); l != nil && !sameUpTo(l, r.Log, end) {
		m.violate(at, InvZombieAck, r.TP, b, base, "leader %d acknowledged offsets %d-%d at epoch %d after the controller made broker %d leader at epoch %d, which lacks them",
			b, base, last, r.State.LeaderEpoch, ctl.Leader, ctl.LeaderEpoch)
	}
}

// sameUpTo reports whether a holds b's records below end.
func sameUpTo(a, b *storage.Log, end int64) bool {
	return a.LEO() >= end && b.LEO() >= end && a.PrefixHash(end) == b.PrefixHash(end)
}

// Viewed is a broker applying a partition state: its view never goes back.
func (m *replication) Viewed(at clock.Time, b protocol.BrokerID, st protocol.PartitionState) {
	if m.views == nil {
		m.views = map[viewKey]protocol.PartitionState{}
	}
	key := viewKey{st.TP, b}
	if old, ok := m.views[key]; ok && old.Newer(st) {
		m.violate(at, InvMetadataBackward, st.TP, b, -1, "broker %d went from leader epoch %d, partition epoch %d back to %d, %d",
			b, old.LeaderEpoch, old.PartitionEpoch, st.LeaderEpoch, st.PartitionEpoch)
	}
	m.views[key] = st
	if m.reassigned[st.TP] {
		if !distinctReplicas(st.Replicas, len(st.Replicas)) {
			m.violate(at, InvConfigNotApplied, st.TP, b, -1, "broker %d applied %v with replicas %v: a broker twice", b, st.TP, st.Replicas)
		}
	} else if want, known := m.rf[st.TP.Topic]; known && !distinctReplicas(st.Replicas, want) {
		m.violate(at, InvConfigNotApplied, st.TP, b, -1, "broker %d applied %v with replicas %v; the scenario set replication.factor=%d", b, st.TP, st.Replicas, want)
	}
}

// Producer tells the monitor that node runs a producer with the scenario's
// settings cfg.
func (m *replication) Producer(node sim.NodeID, cfg config.ProducerConfig) {
	for int(node) >= len(m.producers) {
		m.producers = append(m.producers, nil)
	}
	m.producers[node] = &cfg
}

// ProduceReceived holds a produce request to the settings the scenario
// gave its producer: its acks, and a producer ID exactly when idempotent.
func (m *replication) ProduceReceived(at clock.Time, b protocol.BrokerID, from sim.NodeID, req *protocol.ProduceRequest) {
	if int(from) >= len(m.producers) || m.producers[from] == nil {
		return
	}
	cfg := m.producers[from]
	var tp protocol.TopicPartition
	if len(req.Partitions) > 0 {
		tp = req.Partitions[0].TP
	}
	if req.Acks != cfg.Acks {
		m.violate(at, InvConfigNotApplied, tp, b, -1, "broker %d received a produce request with acks=%d from a producer the scenario set to acks=%d", b, req.Acks, cfg.Acks)
	}
	if idempotent := req.ProducerID >= 0; idempotent != cfg.Idempotence {
		m.violate(at, InvConfigNotApplied, tp, b, -1, "broker %d received a produce request with producer ID %d from a producer the scenario set to enable.idempotence=%v", b, req.ProducerID, cfg.Idempotence)
	}
}

// OperatorReassignment is the scenario's operator moving tp (a reassign
// fault): its replica count is no longer the topic's replication factor —
// the target's, and while it moves the old replicas too — but its replicas
// must still be distinct brokers.
func (m *replication) OperatorReassignment(tp protocol.TopicPartition) {
	if m.reassigned == nil {
		m.reassigned = map[protocol.TopicPartition]bool{}
	}
	m.reassigned[tp] = true
}

// OperatorElection is the scenario's operator asking for an election of
// tp (an elect fault); an unclean one is allowed whatever the topic's
// setting, as kafka-leader-election.sh's is.
func (m *replication) OperatorElection(tp protocol.TopicPartition, unclean bool) {
	if !unclean {
		return
	}
	if m.operatorUnclean == nil {
		m.operatorUnclean = map[protocol.TopicPartition]bool{}
	}
	m.operatorUnclean[tp] = true
}

// distinctReplicas reports whether replicas names n distinct brokers.
func distinctReplicas(replicas []protocol.BrokerID, n int) bool {
	if len(replicas) != n {
		return false
	}
	for i, r := range replicas {
		if slices.Contains(replicas[:i], r) {
			return false
		}
	}
	return true
}

// TruncatedTo is a replica cutting its log: never a leader, and never an
// ISR member below the leader's high watermark.
func (m *replication) TruncatedTo(at clock.Time, b protocol.BrokerID, r *Replica, offset int64) {
	if r.Leader {
		m.violate(at, InvLeaderTruncated, r.TP, b, offset, "leader %d truncated its log to %d at epoch %d", b, offset, r.State.LeaderEpoch)
		return
	}
	ctl, known := m.controller[r.TP]
	if !known || !ctl.InISR(b) {
		return
	}
	if l := m.liveLog(r.TP, ctl.Leader); l != nil && offset < l.HW {
		m.violate(at, InvISRMemberBelowHW, r.TP, b, offset, "ISR member %d truncated its log to %d, below leader %d's high watermark %d",
			b, offset, ctl.Leader, l.HW)
	}
}

// logsText describes every live replica of a partition: its log end and
// high watermark.
func (m *replication) logsText(tp protocol.TopicPartition) string {
	var b []byte
	b = append(b, "logs:"...)
	var logs []*storage.Log
	if ll := m.live[tp]; ll != nil {
		logs = ll.logs
	}
	for id, l := range logs {
		b = fmt.Appendf(b, " broker %d ", id)
		if l == nil {
			b = append(b, "down"...)
			continue
		}
		b = fmt.Appendf(b, "end %d hw %d", l.LEO(), l.HW)
	}
	return string(b)
}

// observe checks the rules an event itself carries: clean elections pick
// an ISR member; a broker's leaderships have rising epochs.
func (m *replication) observe(e journal.Event) {
	if allowed, known := m.unclean[e.TP.Topic]; e.Kind == journal.EvUncleanElected && known && !allowed && !m.elr && !m.operatorUnclean[e.TP] {
		m.violate(e.Time, InvUncleanNotEnabled, e.TP, e.Leader, -1, "broker %d elected leader of %v at epoch %d uncleanly; the scenario leaves unclean.leader.election.enable off and no operator asked for it", e.Leader, e.TP, e.Epoch)
	}
	switch e.Kind {
	case journal.EvElected, journal.EvELRElected, journal.EvUncleanElected, journal.EvOffline, journal.EvPreferredElected, journal.EvShutdownElected, journal.EvISRShrink, journal.EvISRExpand:
		if m.controller == nil {
			m.controller = map[protocol.TopicPartition]protocol.PartitionState{}
		}
		before, known := m.controller[e.TP]
		// A clean election picks an ISR member, or (KIP-966) an eligible
		// leader replica; a controlled shutdown hands the leadership only
		// to another ISR member.
		if known && e.Kind.CleanElection() && !before.InISR(e.Leader) && !slices.Contains(before.ELR, e.Leader) {
			m.violate(e.Time, InvCleanOutsideISR, e.TP, e.Leader, -1, "broker %d elected leader at epoch %d (clean) from outside the ISR %v and ELR %v", e.Leader, e.Epoch, before.ISR, before.ELR)
		}
		m.controller[e.TP] = protocol.PartitionState{TP: e.TP, Leader: e.Leader, LeaderEpoch: e.Epoch, ISR: slices.Clone(e.ISR), ELR: slices.Clone(e.ELR)}
	case journal.EvBecameLeader:
		if m.leaderOf == nil {
			m.leaderOf = map[viewKey]int32{}
		}
		key := viewKey{e.TP, e.Broker}
		if last, ok := m.leaderOf[key]; ok && e.Epoch <= last {
			m.violate(e.Time, InvLeaderEpochBack, e.TP, e.Broker, -1, "broker %d led at epoch %d after leading at epoch %d", e.Broker, e.Epoch, last)
		}
		m.leaderOf[key] = e.Epoch
	}
}
