package monitor

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tideline-sim/tideline/cluster/config"
	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/cluster/metadata"
	"github.com/tideline-sim/tideline/cluster/protocol"
	"github.com/tideline-sim/tideline/cluster/raft"
	"github.com/tideline-sim/tideline/cluster/storage"
	"github.com/tideline-sim/tideline/sim"
)

var orders0 = protocol.TopicPartition{Topic: "orders", Partition: 0}

// Each test feeds the monitor the facts of a broken rule, as the brokers
// and the controller would report them, and asserts the rule's name.

func testLog(n int, epoch int32, hw int64) *storage.Log {
	l := storage.Open(sim.NewDisk(), orders0, 0)
	for i := range n {
		l.Append(&protocol.Batch{BaseOffset: int64(i), ProducerID: -1, BaseSequence: -1, Payloads: []int64{int64(i)}, Epoch: epoch})
	}
	l.HW = hw
	return l
}

func testReplica(b protocol.BrokerID, l *storage.Log, leader bool, epoch int32, isr ...protocol.BrokerID) *Replica {
	return &Replica{TP: orders0, Log: l, Leader: leader, MinISR: 2,
		State: &protocol.PartitionState{TP: orders0, Replicas: []protocol.BrokerID{0, 1, 2}, ISR: isr, Leader: b, LeaderEpoch: epoch}}
}

func kinds(m *replication) []string {
	var out []string
	for _, v := range m.Violations() {
		out = append(out, v.Kind)
	}
	return out
}

func TestInvariantHWAboveISRMemberLEO(t *testing.T) {
	var m replication
	leader, follower := testLog(10, 1, 10), testLog(6, 1, 6)
	m.Track(0, 0, leader)
	m.Track(0, 1, follower)
	m.HWSet(5, 0, testReplica(0, leader, true, 1, 0, 1))
	assert.Equal(t, []string{InvHWAboveISRLEO}, kinds(&m))

	var ok replication
	ok.Track(0, 0, leader)
	ok.Track(0, 1, testLog(10, 1, 10))
	ok.HWSet(5, 0, testReplica(0, leader, true, 1, 0, 1))
	assert.Empty(t, kinds(&ok))
}

func TestInvariantISRAdmission(t *testing.T) {
	var m replication
	m.Track(0, 0, testLog(10, 1, 10))
	m.Track(0, 1, testLog(4, 1, 4))
	m.FollowerFetched(orders0, 1, 1)
	m.Track(0, 2, testLog(10, 1, 10))
	m.FollowerFetched(orders0, 2, 0) // fetched before the leader change
	m.ISRExpanded(5, protocol.PartitionState{TP: orders0, Leader: 0, LeaderEpoch: 1, ISR: []protocol.BrokerID{0, 1, 2}}, []protocol.BrokerID{1, 2})
	assert.Equal(t, []string{InvISRAdmittedBehind, InvISRAdmittedStale}, kinds(&m))
}

func TestInvariantAcksAll(t *testing.T) {
	t.Run("ISR below min.insync.replicas", func(t *testing.T) {
		var m replication
		l := testLog(10, 1, 10)
		m.Track(0, 0, l)
		m.AckedAll(5, 0, testReplica(0, l, true, 1, 0), 8, 9)
		assert.Equal(t, []string{InvAckBelowMinISR}, kinds(&m))
	})
	t.Run("an ISR member lacks the write", func(t *testing.T) {
		var m replication
		l := testLog(10, 1, 10)
		m.Track(0, 0, l)
		m.Track(0, 1, testLog(8, 1, 8))
		m.AckedAll(5, 0, testReplica(0, l, true, 1, 0, 1), 8, 9)
		assert.Equal(t, []string{InvAckMissingOnISR}, kinds(&m))
	})
	t.Run("a replaced leader acknowledges what its successor lacks", func(t *testing.T) {
		var m replication
		l := testLog(10, 1, 10)
		m.Track(0, 0, l)
		m.Track(0, 1, testLog(10, 1, 10))
		m.Track(0, 2, testLog(8, 1, 8))
		m.observe(journal.Event{Kind: journal.EvElected, TP: orders0, Leader: 2, Broker: 2, Epoch: 2, ISR: []protocol.BrokerID{1, 2}})
		m.AckedAll(5, 0, testReplica(0, l, true, 1, 0, 1), 8, 9)
		assert.Equal(t, []string{InvZombieAck}, kinds(&m))
	})
}

func TestInvariantCleanElectionFromISR(t *testing.T) {
	var m replication
	m.observe(journal.Event{Kind: journal.EvISRShrink, TP: orders0, Leader: 0, Epoch: 1, ISR: []protocol.BrokerID{0, 1}})
	m.observe(journal.Event{Kind: journal.EvElected, TP: orders0, Leader: 1, Epoch: 2, ISR: []protocol.BrokerID{1}})
	assert.Empty(t, kinds(&m))
	m.observe(journal.Event{Kind: journal.EvElected, TP: orders0, Leader: 2, Epoch: 3, ISR: []protocol.BrokerID{2}})
	assert.Equal(t, []string{InvCleanOutsideISR}, kinds(&m))
}

// A controlled shutdown hands a leadership only to another ISR member
// (ReplicationControlManager.handleBrokerInControlledShutdown).
func TestInvariantControlledShutdownMovesLeadershipWithinTheISR(t *testing.T) {
	var m replication
	m.observe(journal.Event{Kind: journal.EvISRShrink, TP: orders0, Leader: 0, Epoch: 1, ISR: []protocol.BrokerID{0, 1}})
	m.observe(journal.Event{Kind: journal.EvShutdownElected, TP: orders0, Leader: 1, Epoch: 2, ISR: []protocol.BrokerID{1}})
	assert.Empty(t, kinds(&m))
	m.observe(journal.Event{Kind: journal.EvShutdownElected, TP: orders0, Leader: 2, Epoch: 3, ISR: []protocol.BrokerID{2}})
	assert.Equal(t, []string{InvCleanOutsideISR}, kinds(&m))
}

func TestInvariantViewsAndEpochsNeverGoBack(t *testing.T) {
	var m replication
	m.Viewed(1, 0, protocol.PartitionState{TP: orders0, LeaderEpoch: 2, PartitionEpoch: 5})
	m.Viewed(2, 0, protocol.PartitionState{TP: orders0, LeaderEpoch: 2, PartitionEpoch: 6})
	m.Viewed(3, 0, protocol.PartitionState{TP: orders0, LeaderEpoch: 1, PartitionEpoch: 9})
	m.observe(journal.Event{Kind: journal.EvBecameLeader, TP: orders0, Broker: 1, Epoch: 3})
	m.observe(journal.Event{Kind: journal.EvBecameLeader, TP: orders0, Broker: 1, Epoch: 3})
	assert.Equal(t, []string{InvMetadataBackward, InvLeaderEpochBack}, kinds(&m))
}

func TestInvariantTruncation(t *testing.T) {
	var m replication
	leader := testLog(10, 1, 10)
	m.Track(0, 0, leader)
	m.observe(journal.Event{Kind: journal.EvISRExpand, TP: orders0, Leader: 0, Epoch: 1, ISR: []protocol.BrokerID{0, 1}})
	m.TruncatedTo(5, 0, testReplica(0, leader, true, 1, 0, 1), 8)
	m.TruncatedTo(6, 1, testReplica(0, testLog(10, 1, 10), false, 1, 0, 1), 7)
	require.Equal(t, []string{InvLeaderTruncated, InvISRMemberBelowHW}, kinds(&m))
	m.TruncatedTo(7, 2, testReplica(0, testLog(10, 1, 10), false, 1, 0, 1), 7)
	assert.Len(t, kinds(&m), 2, "a follower outside the ISR may truncate anywhere")
}

// One report per rule, partition and broker is kept up to a bound.
func TestInvariantReportsAreBounded(t *testing.T) {
	var m replication
	for i := range 100 {
		m.Viewed(0, 0, protocol.PartitionState{TP: orders0, LeaderEpoch: int32(100 - i)})
	}
	assert.Len(t, m.Violations(), maxInvariantReports)
}

// A zombie leader that wakes from a pause and serves a fetch queued under
// its old epoch does not make the follower's fetch of the current leader
// stale (found by explore, seed 1145).
func TestInvariantISRAdmissionIgnoresAZombiesLateFetch(t *testing.T) {
	var m replication
	m.Track(0, 2, testLog(10, 2, 10))
	m.Track(0, 0, testLog(10, 2, 10))
	m.FollowerFetched(orders0, 0, 2) // of the current leader, broker 2
	m.FollowerFetched(orders0, 0, 1) // the paused old leader, waking
	m.ISRExpanded(5, protocol.PartitionState{TP: orders0, Leader: 2, LeaderEpoch: 2, ISR: []protocol.BrokerID{2, 0}}, []protocol.BrokerID{0})
	assert.Empty(t, kinds(&m))
}

func TestInvariantHWBelowMinISR(t *testing.T) {
	var m replication
	leader := testLog(10, 1, 10)
	m.Track(0, 0, leader)
	m.HWSet(5, 0, testReplica(0, leader, true, 1, 0)) // min ISR 2, ISR {0}
	assert.Equal(t, []string{InvHWBelowMinISR}, kinds(&m))
}

// The journal keeps the acks=all completions a split-brain commit is judged
// by, and only those: the first of each partition and epoch, and any other
// broker's after it.
func TestJournalKeepsEveryCommitterOfAnEpoch(t *testing.T) {
	var j journal.Journal
	for _, a := range []journal.AckSample{{Broker: 0, TP: orders0, Epoch: 1, Offset: 0}, {Broker: 0, TP: orders0, Epoch: 1, Offset: 5},
		{Broker: 1, TP: orders0, Epoch: 1, Offset: 7}, {Broker: 1, TP: orders0, Epoch: 2, Offset: 9}, {Broker: 1, TP: orders0, Epoch: 2, Offset: 10}} {
		j.Ack(a)
	}
	var kept []int64
	for _, a := range j.Acks() {
		kept = append(kept, a.Offset)
	}
	assert.Equal(t, []int64{0, 7, 9}, kept)
}

// fakeVoter is a voter as the quorum monitor reads one.
type fakeVoter struct {
	log     raft.Log[metadata.State]
	leading bool
}

func (v *fakeVoter) Log() raft.Log[metadata.State] { return v.log }
func (v *fakeVoter) HW() int64                     { return 0 }
func (v *fakeVoter) LEO() int64                    { return int64(len(v.log)) }
func (v *fakeVoter) Leading() bool                 { return v.leading }
func (v *fakeVoter) LogStart() int64               { return 0 }
func (v *fakeVoter) LastEpoch() int32              { return v.log.LastEpoch() }

// The quorum monitor fires on each rule it holds the quorum to, fed the
// facts a broken quorum would report.
func TestQuorumMonitorCatchesBrokenRaft(t *testing.T) {
	newVoters := func(j *Monitor, logs ...raft.Log[metadata.State]) []*fakeVoter {
		var qs []*fakeVoter
		for i, l := range logs {
			q := &fakeVoter{log: l}
			j.JoinQuorum(i, q)
			qs = append(qs, q)
		}
		return qs
	}
	kinds := func(j *Monitor) []string {
		var out []string
		for _, v := range j.QuorumViolations() {
			out = append(out, v.Kind)
		}
		return out
	}
	entry := func(epoch int32, version int64) raft.Entry[metadata.State] {
		return raft.Entry[metadata.State]{Epoch: epoch, Value: metadata.State{Version: version}}
	}

	j := New(&journal.Journal{}, config.BrokerConfig{}, nil)
	newVoters(j, nil, nil, nil)
	j.Event(0, "test", 0, journal.EvControllerElected, 2, 0, "")
	j.Event(0, "test", 1, journal.EvControllerElected, 2, 1, "")
	j.Event(0, "test", 1, journal.EvControllerCandidate, 1, 1, "")
	assert.Equal(t, []string{QuorumTwoLeaders, QuorumEpochBack}, kinds(j))

	// A leader commits an offset only it holds, then one a majority holds
	// but lower than before; another voter committed something else there.
	k := New(&journal.Journal{}, config.BrokerConfig{}, nil)
	a := raft.Log[metadata.State]{entry(1, 1), entry(1, 2)}
	qs := newVoters(k, a, raft.Log[metadata.State]{entry(1, 1)}, raft.Log[metadata.State]{entry(1, 1)})
	qs[0].leading = true
	k.Committed(0, 0, 1, 0, a)
	k.Committed(0, 0, 1, 0, a[:1])
	k.Committed(0, 1, 1, 0, raft.Log[metadata.State]{entry(1, 1), entry(1, 3)})
	assert.Equal(t, []string{QuorumHWNotMajority, QuorumHWBack, QuorumCommitDiverged}, kinds(k))

	// Raft's election restriction and Leader Completeness: a vote granted
	// to a shorter log, and a leader elected without a committed entry.
	l := New(&journal.Journal{}, config.BrokerConfig{}, nil)
	full := raft.Log[metadata.State]{entry(1, 1), entry(1, 2)}
	qs = newVoters(l, full, full, raft.Log[metadata.State]{entry(1, 1)})
	qs[0].leading = true
	l.Committed(0, 0, 1, 0, full)
	l.VoteGranted(0, 1, 2, 2, 1, 1, false) // voter 1 holds 2 entries; candidate 2 claims 1
	l.VoteGranted(0, 1, 0, 2, 1, 2, false) // as up to date: fine
	l.Event(0, "test", 2, journal.EvControllerElected, 2, 2, "")
	assert.Equal(t, []string{QuorumStaleVote, QuorumLeaderIncomplete}, kinds(l))
}

// A partition applied with another replication factor than the scenario
// gave its topic, or with a broker twice among its replicas, is a setting
// not applied.
func TestInvariantReplicationFactorNotApplied(t *testing.T) {
	topics := []config.TopicConfig{{Name: "orders", Partitions: 1, ReplicationFactor: 3}}
	for _, tt := range []struct {
		replicas []protocol.BrokerID
		want     []string
	}{
		{[]protocol.BrokerID{0, 1, 2}, nil},
		{[]protocol.BrokerID{0, 1}, []string{InvConfigNotApplied}},
		{[]protocol.BrokerID{0, 1, 1}, []string{InvConfigNotApplied}},
	} {
		m := New(&journal.Journal{}, config.BrokerConfig{}, topics)
		m.Viewed(0, 0, protocol.PartitionState{TP: orders0, Replicas: tt.replicas, ISR: tt.replicas, Leader: 0})
		assert.Equal(t, tt.want, kinds(&m.replication), "%v", tt.replicas)
	}
}

// An unclean election is judged by the scenario's setting: refused with
// unclean.leader.election.enable off, unless an operator asked for it or
// the topic's override allows it; with ELR, Kafka's last-known-leader
// election counts as unclean too, so the rule stands aside.
func TestInvariantUncleanElectionNotEnabled(t *testing.T) {
	on := true
	unclean := journal.Event{Kind: journal.EvUncleanElected, TP: orders0, Leader: 1, Epoch: 2}
	for _, tt := range []struct {
		name     string
		topic    config.TopicConfig
		elr      bool
		operator bool
		want     []string
	}{
		{"off", config.TopicConfig{Name: "orders", ReplicationFactor: 3}, false, false, []string{InvUncleanNotEnabled}},
		{"topic override on", config.TopicConfig{Name: "orders", ReplicationFactor: 3, UncleanLeaderElection: &on}, false, false, nil},
		{"operator asked", config.TopicConfig{Name: "orders", ReplicationFactor: 3}, false, true, nil},
		{"ELR's last known leader", config.TopicConfig{Name: "orders", ReplicationFactor: 3}, true, false, nil},
	} {
		m := New(&journal.Journal{}, config.BrokerConfig{ELR: tt.elr}, []config.TopicConfig{tt.topic})
		if tt.operator {
			m.OperatorElection(orders0, true)
		}
		m.Observe(unclean)
		assert.Equal(t, tt.want, kinds(&m.replication), tt.name)
	}
}

// A produce request is held to its producer's settings as the scenario
// gave them: its acks, and a producer ID exactly when idempotent.
func TestInvariantProducerSettingsNotApplied(t *testing.T) {
	for _, tt := range []struct {
		name string
		req  protocol.ProduceRequest
		want []string
	}{
		{"as set", protocol.ProduceRequest{Partitions: []protocol.ProducePartition{{TP: orders0}}, Acks: config.AcksAll, ProducerID: 1000}, nil},
		{"acks=1 sent", protocol.ProduceRequest{Partitions: []protocol.ProducePartition{{TP: orders0}}, Acks: 1, ProducerID: 1000}, []string{InvConfigNotApplied}},
		{"no producer ID", protocol.ProduceRequest{Partitions: []protocol.ProducePartition{{TP: orders0}}, Acks: config.AcksAll, ProducerID: -1}, []string{InvConfigNotApplied}},
	} {
		m := New(&journal.Journal{}, config.BrokerConfig{}, nil)
		m.Producer(7, config.ProducerConfig{Topic: "orders", Acks: config.AcksAll, Idempotence: true})
		m.ProduceReceived(0, 0, 7, &tt.req)
		m.ProduceReceived(0, 0, 8, &tt.req) // not a producer the scenario names: not judged
		assert.Equal(t, tt.want, kinds(&m.replication), tt.name)
	}
}

// An operator's reassignment lifts the replication-factor rule for its
// partition (its replica count is the target's, and while it moves the old
// replicas count too), but a broker twice among the replicas is still
// caught.
func TestInvariantReassignedReplicasStayDistinct(t *testing.T) {
	var m replication
	m.rf = map[string]int{"orders": 3}
	m.OperatorReassignment(orders0)
	m.Viewed(0, 0, protocol.PartitionState{TP: orders0, Replicas: []protocol.BrokerID{3, 4, 5, 0, 1, 2}, LeaderEpoch: 1})
	assert.Empty(t, kinds(&m), "six replicas while moving three")
	m.Viewed(0, 0, protocol.PartitionState{TP: orders0, Replicas: []protocol.BrokerID{3, 4, 4}, LeaderEpoch: 2})
	assert.Equal(t, []string{InvConfigNotApplied}, kinds(&m))
}
