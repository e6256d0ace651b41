package monitor

import (
	"fmt"

	"github.com/tideline-sim/tideline/clock"
	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/cluster/metadata"
	"github.com/tideline-sim/tideline/cluster/protocol"
	"github.com/tideline-sim/tideline/cluster/raft"
)

// The metadata quorum's invariants, checked as the quorum acts, as Kafka's
// RaftEventSimulationTest checks them after every event: at most one
// leader per epoch; a voter's epoch never goes back; a committed offset is
// held by a majority of voters when the leader commits it; and whatever
// any voter committed at an offset, every other voter committed the same.

// Metadata quorum rule names.
const (
	QuorumTwoLeaders     = "two-leaders-one-epoch"
	QuorumEpochBack      = "epoch-regression"
	QuorumHWNotMajority  = "hw-not-on-majority"
	QuorumCommitDiverged = "committed-divergence"
	QuorumHWBack         = "hw-regression"
	// Raft's election restriction: a vote (or pre-vote) granted to a
	// candidate whose log is less up to date than the voter's.
	QuorumStaleVote = "vote-for-stale-log"
	// Leader Completeness: a new leader's log lacks an entry committed in
	// an earlier epoch.
	QuorumLeaderIncomplete = "leader-missing-committed"
)

// QuorumViolation is a quorum rule broken at one instant.
type QuorumViolation struct {
	Time   clock.Time
	Kind   string
	Voter  int
	Epoch  int32
	Offset int64
	Detail string
}

// maxCommitCheck bounds the committed entries compared on each high
// watermark advance (the newest ones); the end-of-run check compares all.
const maxCommitCheck = 64

// Voter is what the monitor reads of a voter: its log as it is at
// that instant, and whether it leads.
type Voter interface {
	Log() raft.Log[metadata.State] // from LogStart
	LogStart() int64               // the entries before it are in its snapshot (KIP-630)
	LastEpoch() int32
	HW() int64
	LEO() int64
	Leading() bool
}

type quorumMonitor struct {
	voters     []Voter // the latest incarnation of each controller
	leaders    map[int32]int
	epochs     map[int]int32
	leaderHW   map[int32]int64              // each epoch's leader's high watermark
	committed  []raft.Entry[metadata.State] // the longest committed prefix any voter reported
	violations []QuorumViolation
}

func (m *quorumMonitor) violate(at clock.Time, kind string, voter int, epoch int32, offset int64, format string, args ...any) {
	if len(m.violations) < 100 {
		m.violations = append(m.violations, QuorumViolation{Time: at, Kind: kind, Voter: voter, Epoch: epoch, Offset: offset, Detail: fmt.Sprintf(format, args...)})
	}
}

// CommittedMetadata is the newest metadata any voter committed.
func (j *Monitor) CommittedMetadata() (metadata.State, bool) {
	if n := len(j.quorum.committed); n > 0 {
		return j.quorum.committed[n-1].Value, true
	}
	return metadata.State{}, false
}

// Voter is controller i's latest quorum member, nil if none joined.
func (j *Monitor) Voter(i int) Voter {
	if i >= len(j.quorum.voters) {
		return nil
	}
	return j.quorum.voters[i]
}

// QuorumViolations returns the metadata quorum's broken rules, in order.
func (j *Monitor) QuorumViolations() []QuorumViolation { return j.quorum.violations }

// JoinQuorum registers voter self's quorum member as it starts.
func (j *Monitor) JoinQuorum(self int, q Voter) {
	if j == nil {
		return
	}
	for len(j.quorum.voters) <= self {
		j.quorum.voters = append(j.quorum.voters, nil)
	}
	j.quorum.voters[self] = q
}

// Event records voter self's quorum event and checks the epoch and leader
// rules (raft.Observer).
func (j *Monitor) Event(now clock.Time, node string, self int, kind journal.EventKind, epoch int32, voter int, detail string) {
	if j == nil {
		return
	}
	m := &j.quorum
	if m.epochs == nil {
		m.epochs, m.leaders, m.leaderHW = map[int]int32{}, map[int32]int{}, map[int32]int64{}
	}
	if last, ok := m.epochs[self]; ok && epoch < last && kind != journal.EvPreVoteRejected {
		m.violate(now, QuorumEpochBack, self, epoch, -1, "controller-%d acted in epoch %d after epoch %d", self, epoch, last)
	}
	if kind != journal.EvPreVoteRejected {
		m.epochs[self] = max(m.epochs[self], epoch)
	}
	if kind == journal.EvControllerElected {
		if other, ok := m.leaders[epoch]; ok && other != voter {
			m.violate(now, QuorumTwoLeaders, voter, epoch, -1, "controllers %d and %d both led epoch %d", other, voter, epoch)
		}
		m.leaders[epoch] = voter
		m.checkLeaderComplete(now, voter, epoch)
	}
	j.Add(journal.Event{Time: now, Node: node, Kind: kind, Epoch: epoch, Broker: protocol.NoLeader, Leader: protocol.NoLeader, Voter: int32(voter), Detail: detail})
}

// checkLeaderComplete holds a new leader to Leader Completeness: its log
// holds every entry any voter committed.
func (m *quorumMonitor) checkLeaderComplete(at clock.Time, voter int, epoch int32) {
	if voter < 0 || voter >= len(m.voters) || m.voters[voter] == nil {
		return
	}
	v := m.voters[voter]
	log, start := v.Log(), v.LogStart()
	for i, e := range m.committed {
		if int64(i) < start {
			continue // in its snapshot, which holds only committed entries
		}
		if int64(i)-start >= int64(len(log)) || !sameEntry(log[int64(i)-start], e) {
			m.violate(at, QuorumLeaderIncomplete, voter, epoch, int64(i), "controller-%d leads epoch %d without the committed %s at offset %d (its log ends at %d)",
				voter, epoch, EntryText(e), i, v.LEO())
			return
		}
	}
}

// VoteGranted holds a granted vote to Raft's election restriction, by the
// voter's own log as the monitor sees it: the candidate's last epoch and
// log end (as its request claimed them) must be at least the voter's
// (raft.Observer).
func (j *Monitor) VoteGranted(at clock.Time, voter, candidate int, epoch, lastEpoch int32, lastOffset int64, pre bool) {
	if j == nil || voter < 0 || voter >= len(j.quorum.voters) || j.quorum.voters[voter] == nil {
		return
	}
	v := j.quorum.voters[voter]
	ownEpoch, ownEnd := v.LastEpoch(), v.LEO()
	if lastEpoch < ownEpoch || lastEpoch == ownEpoch && lastOffset < ownEnd {
		what := "vote"
		if pre {
			what = "pre-vote"
		}
		j.quorum.violate(at, QuorumStaleVote, voter, epoch, lastOffset, "controller-%d granted controller-%d a %s for epoch %d: the candidate's log ends at %d in epoch %d, the voter's at %d in epoch %d",
			voter, candidate, what, epoch, lastOffset, lastEpoch, ownEnd, ownEpoch)
	}
}

// Committed checks a voter's new high watermark: committed entries agree
// with what any voter committed before, and, on the leader, a majority of
// voters hold the last one (raft.Observer).
func (j *Monitor) Committed(at clock.Time, voter int, epoch int32, base int64, committed []raft.Entry[metadata.State]) {
	if j == nil {
		return
	}
	m := &j.quorum
	// Only what this voter newly committed can disagree: the rest it
	// already had, and that was checked then. What it took from a
	// snapshot (below base) it holds only as the snapshot.
	hw := base + int64(len(committed))
	n := min(hw, int64(len(m.committed)))
	for i := max(base, n-maxCommitCheck); i < n; i++ {
		if !sameEntry(committed[i-base], m.committed[i]) {
			m.violate(at, QuorumCommitDiverged, voter, epoch, i, "controller-%d committed %s at offset %d where %s was committed", voter, EntryText(committed[i-base]), i, EntryText(m.committed[i]))
			return
		}
	}
	if hw > int64(len(m.committed)) && int64(len(m.committed)) >= base {
		// A copy: the voter's own log may be rewritten above what it
		// committed, and a restart reloads it.
		m.committed = append(m.committed, committed[int64(len(m.committed))-base:]...)
	}
	q := m.voters[voter]
	if q == nil || !q.Leading() || len(committed) == 0 {
		return
	}
	if m.leaderHW == nil {
		m.leaderHW = map[int32]int64{}
	}
	if last := m.leaderHW[epoch]; hw < last {
		m.violate(at, QuorumHWBack, voter, epoch, hw, "the leader's high watermark went from %d back to %d", last, hw)
	}
	m.leaderHW[epoch] = hw
	holders := 0
	for _, other := range m.voters {
		if other == nil || other.LEO() < hw {
			continue
		}
		// An entry below a voter's log start is in its snapshot: committed.
		if start := other.LogStart(); hw-1 < start || sameEntry(other.Log()[hw-1-start], committed[hw-1-base]) {
			holders++
		}
	}
	if holders < len(m.voters)/2+1 {
		m.violate(at, QuorumHWNotMajority, voter, epoch, hw, "offset %d committed in epoch %d is held by %d of %d voters", hw-1, epoch, holders, len(m.voters))
	}
}

// CommittedEntry is the entry committed at off, as the monitor kept every
// entry any voter committed: the whole log, whatever the voters
// snapshotted since.
func (j *Monitor) CommittedEntry(off int64) (raft.Entry[metadata.State], bool) {
	if j == nil || off < 0 || off >= int64(len(j.quorum.committed)) {
		return raft.Entry[metadata.State]{}, false
	}
	return j.quorum.committed[off], true
}

func sameEntry(a, b raft.Entry[metadata.State]) bool {
	return a.Epoch == b.Epoch && a.LeaderChange == b.LeaderChange && a.NoOp == b.NoOp && a.Value.Version == b.Value.Version
}

// EntryText names a metadata log entry: its kind or version, and epoch.
func EntryText(e raft.Entry[metadata.State]) string {
	switch {
	case e.LeaderChange:
		return fmt.Sprintf("leader-change@%d", e.Epoch)
	case e.NoOp:
		return fmt.Sprintf("noop@%d", e.Epoch)
	}
	return fmt.Sprintf("v%d@%d", e.Value.Version, e.Epoch)
}
