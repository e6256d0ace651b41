// Package raft is the KRaft quorum (KIP-595, Kafka's KafkaRaftClient):
// voters elect a leader by Raft-style votes, with pre-vote (KIP-996) and
// check-quorum, and replicate a log by Kafka-style pull: followers fetch
// from the leader with their log end offset and last fetched epoch, and
// the leader answers with records or the epoch where their logs diverge.
// The leader's high watermark is the offset a majority of voters reached;
// observers (brokers) fetch the log without voting. Like Kafka's
// RaftClient<T> it is generic over what the log carries and knows nothing
// of brokers, partitions or the controller: it imports only the shared
// protocol, node, config and journal kinds, never a broker, controller or
// monitor. Facts and defaults: ../shared/anchors/kraft-and-elr.md §1.
package raft

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/tideline-sim/tideline/clock"
	"github.com/tideline-sim/tideline/cluster/config"
	"github.com/tideline-sim/tideline/cluster/internal/planted"
	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/cluster/node"
	"github.com/tideline-sim/tideline/cluster/protocol"
	"github.com/tideline-sim/tideline/sim"
)

// Entry is one record of the log. Each carries the replicated state after
// it (applying one is a replacement: the log needs no replay code, and a
// follower's state is the last committed entry's), at the cost of memory a
// snapshot mechanism would save. A new leader's first entry is its
// LeaderChange record.
type Entry[T any] struct {
	Epoch        int32
	LeaderChange bool
	NoOp         bool // metadata.max.idle.interval.ms's heartbeat record: the state unchanged
	Value        T
}

// Observer hears what a voter does, so that the run's protocol monitor can
// hold the quorum to Raft's rules as it acts. self is the voter acting.
type Observer[T any] interface {
	Event(at clock.Time, node string, self int, kind journal.EventKind, epoch int32, voter int, detail string)
	VoteGranted(at clock.Time, voter, candidate int, epoch, lastEpoch int32, lastOffset int64, pre bool)
	// Committed: the voter's committed entries from offset base (its log
	// start) to its new high watermark.
	Committed(at clock.Time, voter int, epoch int32, base int64, committed []Entry[T])
}

// quorumState is what a voter persists before it answers: its epoch and
// whom it voted for in it (Kafka's quorum-state file).
type quorumState struct {
	Epoch    int32
	VotedFor int
}

type quorumRole uint8

const (
	qUnattached  quorumRole = iota // no leader known in this epoch
	qFollower                      // following a leader
	qProspective                   // asking for pre-votes (KIP-996)
	qCandidate                     // asking for votes
	qLeader
)

const (
	quorumStateFile = "quorum-state"
	noVoter         = -1
)

// Quorum is one voter's part in the quorum.
type Quorum[T any] struct {
	node.Recyclers // of the messages and timers it makes

	cfg        config.QuorumConfig
	retransmit time.Duration // tideline.retransmit.ms
	self       int
	voters     []sim.NodeID
	rng        *rand.Rand
	env        sim.Env
	logName    string // the log's file: Kafka's __cluster_metadata for the controllers
	// obs hears of elections, votes and commits.
	obs Observer[T]

	role     quorumRole
	epoch    int32
	votedFor int
	leader   int
	log      Log[T]      // the entries from snap.End
	snap     Snapshot[T] // what the entries before the log start left
	snapAt   clock.Time  // when the last snapshot was taken or loaded
	hw       int64       // entries [0, hw) are committed
	stateF   *sim.File
	logF     *sim.File
	snapF    *sim.File

	timerGen   uint64 // the election/fetch-timeout timer in force
	votes      []bool
	retries    int
	fetchReq   uint64     // the follower's fetch in flight
	contact    clock.Time // the follower's last successful fetch
	ended      bool       // the follower's leader ended its epoch (EndQuorumEpoch)
	fetchOff   []int64    // leader: each voter's fetch offset
	lastFetch  []clock.Time
	began      []bool // leader: voters that acknowledged BeginQuorumEpoch
	parked     []parkedMetaFetch
	nextParkID uint64

	// onCommit is called as the high watermark rises; onRole when this
	// voter becomes leader or stops being one.
	onCommit func()
	onRole   func(leader bool)
}

type parkedMetaFetch struct {
	id    uint64
	to    sim.NodeID
	req   FetchRequest
	timer sim.TimerID
}

// ObserverID is the replica ID broker b fetches with: negative, so it
// reads the log but never votes and never counts toward the high
// watermark.
func ObserverID(b protocol.BrokerID) int32 { return -1 - int32(b) }

func (q *Quorum[T]) majority() int { return len(q.voters)/2 + 1 }

func (q *Quorum[T]) leo() int64 { return q.snap.End + int64(len(q.log)) }

func (q *Quorum[T]) lastEpoch() int32 {
	if len(q.log) == 0 {
		return q.snap.Epoch
	}
	return q.log.LastEpoch()
}

// New returns voter self of a quorum of voters, keeping its log in the file
// logName. onCommit is called as the high watermark rises; onRole when
// this voter becomes leader or stops being one.
func New[T any](cfg config.QuorumConfig, retransmit time.Duration, self int, voters []sim.NodeID, logName string, obs Observer[T], onCommit func(), onRole func(leader bool)) *Quorum[T] {
	return &Quorum[T]{cfg: cfg, retransmit: retransmit, self: self, voters: voters, logName: logName, obs: obs, onCommit: onCommit, onRole: onRole}
}

// Self is this voter's index.
func (q *Quorum[T]) Self() int { return q.self }

// Epoch is the epoch this voter is in.
func (q *Quorum[T]) Epoch() int32 { return q.epoch }

// Leading reports whether this voter leads its epoch.
func (q *Quorum[T]) Leading() bool { return q.role == qLeader }

// Leader is the voter this one knows leads its epoch, -1 if none.
func (q *Quorum[T]) Leader() int { return q.leader }

// Log is this voter's log; entries below HW are committed. The caller
// must not change it.
func (q *Quorum[T]) Log() Log[T] { return q.log } // from LogStart()

// HW is this voter's high watermark.
func (q *Quorum[T]) HW() int64 { return q.hw }

// LEO is this voter's log end.
func (q *Quorum[T]) LEO() int64 { return q.leo() }

func (q *Quorum[T]) event(kind journal.EventKind, epoch int32, voter int, detail string) {
	if q.obs != nil {
		q.obs.Event(q.env.Now(), q.env.Name(), q.self, kind, epoch, voter, detail)
	}
}

// Handle hands the quorum a message; it reports whether it was one of the
// quorum's.
func (q *Quorum[T]) Handle(from sim.NodeID, msg sim.Message) bool {
	switch m := msg.(type) {
	case VoteRequest:
		q.handleVote(from, m)
	case VoteResponse:
		q.handleVoteResponse(m)
	case BeginQuorumEpoch:
		q.handleBegin(from, m)
	case BeginQuorumEpochResponse:
		q.handleBeginResponse(m)
	case EndQuorumEpoch:
		q.handleEnd(m)
	case FetchRequest:
		q.handleFetch(from, m)
	case FetchResponse[T]:
		q.handleFetchResponse(m)
	default:
		return false
	}
	return true
}

// Log is the entries of a log from its start offset: a voter's, or a
// broker's as an observer.
type Log[T any] []Entry[T]

// LastEpoch is the epoch of the last entry, 0 if none.
func (l Log[T]) LastEpoch() int32 {
	if len(l) == 0 {
		return 0
	}
	return l[len(l)-1].Epoch
}

// endOf is Kafka's epoch lookup: the largest epoch at or below e in this
// log, and the offset where it ends.
func (l Log[T]) endOf(e int32) (int32, int64) {
	best := int32(-1)
	end := int64(0)
	for i, entry := range l {
		if entry.Epoch <= e {
			best, end = entry.Epoch, int64(i)+1
		}
	}
	return best, end
}

// DivergedEnd is where a fetcher cuts its log when the leader says the
// fetcher's last epoch, epoch, ends at leaderEnd there: at that, or where
// the epoch ends in its own log, whichever is first.
func (l Log[T]) DivergedEnd(epoch int32, leaderEnd int64) int64 {
	_, own := l.endOf(epoch)
	return min(leaderEnd, own)
}

// Start recovers the quorum state and the metadata log from disk. On a
// formed quorum's first boot (bootstrap: the disks hold epoch 1 led by
// controller-0, as Build writes them) it resumes that epoch at once,
// controller-0 leading and the others following.
func (q *Quorum[T]) Start(env sim.Env, bootstrap bool) {
	q.env = env
	q.rng = env.Rand()
	q.stateF = env.Disk().Open(quorumStateFile)
	q.logF = env.Disk().Open(q.logName)
	q.snapF = env.Disk().Open(q.logName + snapshotFileSuffix)
	q.votedFor, q.leader = noVoter, noVoter
	if n := q.stateF.Len(); n > 0 {
		st := q.stateF.Record(n - 1).(quorumState)
		q.epoch, q.votedFor = st.Epoch, st.VotedFor
	}
	q.snap, q.snapAt = Snapshot[T]{}, env.Now()
	if n := q.snapF.Len(); n > 0 {
		q.snap = q.snapF.Record(n - 1).(Snapshot[T])
	}
	q.log = q.log[:0]
	for i := range q.logF.Len() {
		q.log = append(q.log, q.logF.Record(i).(Entry[T]))
	}
	q.hw = q.snap.End // a snapshot holds only committed entries
	q.role = qUnattached
	if bootstrap && q.epoch == bootstrapEpoch && len(q.log) == 1 {
		if q.self == 0 {
			q.becomeLeader(false)
		} else {
			q.transition(qFollower, q.epoch, 0)
		}
		return
	}
	q.resetElectionTimer(q.randomElectionTimeout())
}

// bootstrapEpoch is the epoch a formed quorum starts in.
const bootstrapEpoch = 1

// Bootstrap writes a formed quorum onto a voter's disk: epoch 1,
// a vote for controller-0, and its LeaderChange record holding the
// cluster's first metadata — what a cluster formatted and started before
// the scenario began would hold.
func Bootstrap[T any](disk *sim.Disk, logName string, initial T) {
	st := disk.Open(quorumStateFile)
	st.Append(quorumState{Epoch: bootstrapEpoch, VotedFor: 0})
	st.Sync()
	log := disk.Open(logName)
	log.Append(Entry[T]{Epoch: bootstrapEpoch, LeaderChange: true, Value: initial})
	log.Sync()
}

func (q *Quorum[T]) persistState() {
	q.stateF.Truncate(0)
	q.stateF.Append(quorumState{q.epoch, q.votedFor})
	q.stateF.Sync()
}

func (q *Quorum[T]) randomElectionTimeout() time.Duration {
	return q.cfg.ElectionTimeout + time.Duration(q.rng.Int64N(int64(q.cfg.ElectionTimeout)))
}

// backoff is Kafka's binary exponential election backoff: min(100 ms x
// rand(2^retries), max).
func (q *Quorum[T]) backoff() time.Duration {
	n := int64(1) << min(q.retries, 20)
	return min(100*time.Millisecond*time.Duration(1+q.rng.Int64N(n)), q.cfg.ElectionBackoffMax)
}

func (q *Quorum[T]) resetElectionTimer(after time.Duration) {
	q.timerGen++
	q.SetTimer(q.env, after, node.Timer{Kind: node.TQuorumElection, ID: q.timerGen})
}

// transition moves to a role in an epoch, persisting a new epoch before
// anything is answered in it.
func (q *Quorum[T]) transition(role quorumRole, epoch int32, leader int) {
	wasLeader := q.role == qLeader
	if epoch > q.epoch {
		q.epoch, q.votedFor = epoch, noVoter
		q.persistState()
	}
	q.role, q.leader = role, leader
	q.parked, q.ended = nil, false
	if wasLeader && role != qLeader && q.onRole != nil {
		q.onRole(false)
	}
	switch role {
	case qFollower:
		q.contact = q.env.Now()
		q.resetElectionTimer(q.cfg.FetchTimeout)
		q.sendFetch()
	case qUnattached:
		q.resetElectionTimer(q.randomElectionTimeout())
	}
}

// Timer handles the quorum's timers.
func (q *Quorum[T]) Timer(t node.Timer) {
	switch t.Kind {
	case node.TQuorumElection:
		if t.ID != q.timerGen {
			return // replaced
		}
		switch q.role {
		case qFollower:
			if q.env.Now().Sub(q.contact) >= q.cfg.FetchTimeout {
				why := fmt.Sprintf("no fetch answered by controller-%d for %v", q.leader, q.cfg.FetchTimeout)
				if q.ended {
					why = fmt.Sprintf("controller-%d ended epoch %d", q.leader, q.epoch)
				}
				q.event(journal.EvControllerLostLeader, q.epoch, q.leader, why)
				q.campaign()
			} else {
				q.resetElectionTimer(q.cfg.FetchTimeout - q.env.Now().Sub(q.contact))
			}
		case qUnattached:
			q.campaign()
		case qProspective, qCandidate:
			q.retries++
			q.role = qUnattached
			q.resetElectionTimer(q.backoff())
		}
	case node.TQuorumFetch:
		if q.role == qFollower && t.ID == q.fetchReq {
			q.sendFetch() // no answer within the request timeout: ask again
		}
	case node.TQuorumCheck:
		if q.role == qLeader {
			q.checkQuorum()
			q.SetTimer(q.env, q.cfg.FetchTimeout/2, t)
		}
	case node.TQuorumBegin:
		if q.role == qLeader && int32(t.ID) == q.epoch {
			q.sendBegin()
		}
	case node.TQuorumPark:
		if i := slices.IndexFunc(q.parked, func(p parkedMetaFetch) bool { return p.id == t.ID }); i >= 0 {
			p := q.parked[i]
			q.parked = slices.Delete(q.parked, i, i+1)
			q.answerFetch(p.to, p.req)
		}
	}
}

// campaign starts an election: with pre-vote, first ask whether one could
// be won, without raising the epoch.
func (q *Quorum[T]) campaign() {
	if len(q.voters) == 1 {
		q.becomeCandidate()
		return
	}
	if q.cfg.PreVote {
		q.role, q.leader = qProspective, noVoter
		q.votes = make([]bool, len(q.voters))
		q.votes[q.self] = true
		q.askVotes(true)
		q.resetElectionTimer(q.randomElectionTimeout())
		return
	}
	q.becomeCandidate()
}

func (q *Quorum[T]) becomeCandidate() {
	q.epoch++
	q.votedFor = q.self
	q.persistState()
	q.role, q.leader = qCandidate, noVoter
	q.votes = make([]bool, len(q.voters))
	q.votes[q.self] = true
	q.event(journal.EvControllerCandidate, q.epoch, q.self, fmt.Sprintf("controller-%d stands for election in epoch %d", q.self, q.epoch))
	if q.won() {
		q.becomeLeader(true)
		return
	}
	q.askVotes(false)
	q.resetElectionTimer(q.randomElectionTimeout())
}

func (q *Quorum[T]) askVotes(pre bool) {
	epoch := q.epoch
	if pre {
		epoch++ // the epoch it would stand in
	}
	for v, node := range q.voters {
		if v != q.self {
			q.env.Send(node, VoteRequest{Epoch: epoch, Candidate: v2i(q.self), LastEpoch: q.lastEpoch(), LastOffset: q.leo(), PreVote: pre})
		}
	}
}

func v2i(v int) int32 { return int32(v) }

func (q *Quorum[T]) won() bool {
	n := 0
	for _, v := range q.votes {
		if v {
			n++
		}
	}
	return n >= q.majority()
}

// upToDate reports whether a log ending at (epoch, offset) is at least as
// up to date as this voter's: epoch first, then length (Raft's rule).
func (q *Quorum[T]) upToDate(epoch int32, offset int64) bool {
	if epoch != q.lastEpoch() {
		return epoch > q.lastEpoch()
	}
	return offset >= q.leo()
}

func (q *Quorum[T]) handleVote(from sim.NodeID, m VoteRequest) {
	resp := VoteResponse{Voter: v2i(q.self), PreVote: m.PreVote, Leader: v2i(q.leader)}
	if m.PreVote {
		// Grant a pre-vote to a log as up to date as ours, unless a live
		// leader still answers our fetches, or we are the leader.
		liveLeader := q.role == qLeader || q.role == qFollower && q.env.Now().Sub(q.contact) < q.cfg.FetchTimeout
		resp.Epoch = q.epoch
		resp.Granted = m.Epoch > q.epoch && !liveLeader && (q.upToDate(m.LastEpoch, m.LastOffset) || planted.Bugs.StaleVote)
		if resp.Granted {
			if q.obs != nil {
				q.obs.VoteGranted(q.env.Now(), q.self, int(m.Candidate), m.Epoch, m.LastEpoch, m.LastOffset, true)
			}
		} else {
			q.event(journal.EvPreVoteRejected, m.Epoch, int(m.Candidate), fmt.Sprintf("controller-%d refused controller-%d a pre-vote for epoch %d", q.self, m.Candidate, m.Epoch))
		}
		q.env.Send(from, resp)
		return
	}
	if m.Epoch > q.epoch {
		q.transition(qUnattached, m.Epoch, noVoter)
	}
	resp.Epoch = q.epoch
	if m.Epoch == q.epoch && q.leader == noVoter && (q.votedFor == noVoter || q.votedFor == int(m.Candidate)) && (q.upToDate(m.LastEpoch, m.LastOffset) || planted.Bugs.StaleVote) {
		q.votedFor = int(m.Candidate)
		q.persistState() // durable before the answer
		resp.Granted = true
		if q.obs != nil {
			q.obs.VoteGranted(q.env.Now(), q.self, int(m.Candidate), m.Epoch, m.LastEpoch, m.LastOffset, false)
		}
		q.resetElectionTimer(q.randomElectionTimeout())
	}
	q.env.Send(from, resp)
}

func (q *Quorum[T]) handleVoteResponse(m VoteResponse) {
	if m.Epoch > q.epoch {
		q.transition(qUnattached, m.Epoch, noVoter)
		return
	}
	switch {
	case m.PreVote && !m.Granted && m.Leader != noVoter && m.Leader != v2i(q.self) && m.Epoch == q.epoch && q.role == qProspective:
		// KIP-996: the refusal names a leader in our epoch. Fetch from it:
		// if it answers, it lives, and we follow it again; if not, the
		// election goes on.
		q.leader = int(m.Leader)
		q.sendFetch()
	case m.PreVote && q.role == qProspective && m.Granted:
		q.votes[m.Voter] = true
		if q.won() {
			q.becomeCandidate()
		}
	case !m.PreVote && q.role == qCandidate && m.Epoch == q.epoch && m.Granted:
		q.votes[m.Voter] = true
		if q.won() {
			q.becomeLeader(true)
		}
	}
}

// becomeLeader takes the epoch: a LeaderChange record first, which must
// commit before the controller acts (the HW moves only over entries of the
// leader's own epoch).
func (q *Quorum[T]) becomeLeader(announce bool) {
	q.role, q.leader, q.retries = qLeader, q.self, 0
	q.timerGen++ // no election timer while leading
	q.fetchOff = make([]int64, len(q.voters))
	q.lastFetch = make([]clock.Time, len(q.voters))
	for v := range q.lastFetch {
		q.lastFetch[v] = q.env.Now()
	}
	q.began = make([]bool, len(q.voters))
	q.began[q.self] = true
	q.event(journal.EvControllerElected, q.epoch, q.self, fmt.Sprintf("controller-%d leads the metadata quorum in epoch %d", q.self, q.epoch))
	if announce {
		q.Append(Entry[T]{Epoch: q.epoch, LeaderChange: true, Value: q.LastValue()})
	}
	q.sendBegin()
	q.SetTimer(q.env, q.cfg.FetchTimeout/2, node.Timer{Kind: node.TQuorumCheck})
	if q.onRole != nil {
		q.onRole(true)
	}
	q.maybeAdvanceHW()
}

func (q *Quorum[T]) sendBegin() {
	pending := false
	for v, node := range q.voters {
		if !q.began[v] {
			q.env.Send(node, BeginQuorumEpoch{Epoch: q.epoch, Leader: v2i(q.self)})
			pending = true
		}
	}
	if pending {
		q.SetTimer(q.env, q.cfg.RequestTimeout/4, node.Timer{Kind: node.TQuorumBegin, ID: uint64(q.epoch)})
	}
}

func (q *Quorum[T]) handleBegin(from sim.NodeID, m BeginQuorumEpoch) {
	if m.Epoch >= q.epoch && !(m.Epoch == q.epoch && q.role == qLeader) {
		if m.Epoch > q.epoch || q.role != qFollower || q.leader != int(m.Leader) {
			q.transition(qFollower, m.Epoch, int(m.Leader))
		}
	}
	q.env.Send(from, BeginQuorumEpochResponse{Epoch: q.epoch, Voter: v2i(q.self)})
}

func (q *Quorum[T]) handleBeginResponse(m BeginQuorumEpochResponse) {
	if m.Epoch > q.epoch {
		q.transition(qUnattached, m.Epoch, noVoter)
		return
	}
	if q.role == qLeader && m.Epoch == q.epoch {
		q.began[m.Voter] = true
	}
}

// Resign ends a leader's epoch as its controller shuts down: it tells the
// other voters, most up to date first, so that one of them campaigns at
// once (KafkaRaftClient's transitionToResigned). It reports whether it was
// leading.
func (q *Quorum[T]) Resign() bool {
	if q.role != qLeader {
		return false
	}
	var successors []int32
	for v := range q.voters {
		if v != q.self {
			successors = append(successors, int32(v))
		}
	}
	slices.SortStableFunc(successors, func(a, b int32) int { return cmp.Compare(q.fetchOff[b], q.fetchOff[a]) })
	for _, v := range successors {
		q.env.Send(q.voters[v], EndQuorumEpoch{Epoch: q.epoch, Leader: v2i(q.self), PreferredSuccessors: successors})
	}
	q.event(journal.EvControllerEndedEpoch, q.epoch, q.self, fmt.Sprintf("controller-%d ended epoch %d as it shuts down; successors %v", q.self, q.epoch, successors))
	return true
}

// handleEnd hears a leader resign: a follower of it in that epoch stops
// waiting for its fetch timeout and campaigns after a backoff that grows
// with its place among the preferred successors (the first at once).
func (q *Quorum[T]) handleEnd(m EndQuorumEpoch) {
	if m.Epoch < q.epoch || m.Epoch == q.epoch && q.role == qLeader {
		return
	}
	if m.Epoch > q.epoch || q.role != qFollower || q.leader != int(m.Leader) {
		q.transition(qFollower, m.Epoch, int(m.Leader))
	}
	position := slices.Index(m.PreferredSuccessors, int32(q.self))
	backoff := q.successorBackoff(position, len(m.PreferredSuccessors))
	q.contact = q.env.Now().Add(backoff - q.cfg.FetchTimeout) // the fetch timeout now runs out after backoff
	q.ended = true
	q.resetElectionTimer(backoff)
}

// successorBackoff is Kafka's strictExponentialElectionBackoffMs: 0 for
// the first successor, then doubling from the maximum backoff halved
// (n-1) times, capped at the maximum; the maximum when not listed.
func (q *Quorum[T]) successorBackoff(position, n int) time.Duration {
	max := q.cfg.ElectionBackoffMax
	switch {
	case position == 0:
		return 0
	case position < 0 || position >= n:
		return max
	}
	base := max >> (n - 1)
	return min(max, base<<(position-1))
}

// checkQuorum resigns a leader that has not heard a fetch from a majority
// of voters for 1.5 x the fetch timeout (KAFKA-15489): an isolated leader
// must not go on believing it leads.
func (q *Quorum[T]) checkQuorum() {
	heard := 0
	for v := range q.voters {
		if v == q.self || q.env.Now().Sub(q.lastFetch[v]) < q.cfg.FetchTimeout*3/2 {
			heard++
		}
	}
	if heard < q.majority() {
		q.event(journal.EvControllerResigned, q.epoch, q.self, fmt.Sprintf("controller-%d resigns epoch %d: fetches from only %d of %d voters in %v", q.self, q.epoch, heard, len(q.voters), q.cfg.FetchTimeout*3/2))
		q.transition(qUnattached, q.epoch, noVoter)
	}
}

// Append adds an entry at the leader's log end, synced as KRaft does.
func (q *Quorum[T]) Append(e Entry[T]) {
	q.log = append(q.log, e)
	q.logF.Append(e)
	q.logF.Sync()
	if q.role == qLeader {
		q.fetchOff[q.self] = q.leo()
		q.wakeParked()
		q.maybeAdvanceHW()
	}
}

// maybeAdvanceHW moves the leader's high watermark to the offset a
// majority of voters reached, only over an entry of its own epoch, never
// back.
func (q *Quorum[T]) maybeAdvanceHW() {
	offs := slices.Clone(q.fetchOff)
	offs[q.self] = q.leo()
	slices.Sort(offs)
	m := offs[len(offs)-q.majority()]
	if m > q.hw && q.epochAt(m-1) == q.epoch {
		q.setHW(m)
	}
}

func (q *Quorum[T]) setHW(hw int64) {
	if hw <= q.hw {
		return
	}
	q.hw = hw
	if q.role == qLeader {
		q.wakeParked() // observers and followers learn the commit at once, as Kafka's leader answers on a high-watermark change
	}
	if q.obs != nil {
		q.obs.Committed(q.env.Now(), q.self, q.epoch, q.snap.End, q.log[:hw-q.snap.End])
	}
	if q.onCommit != nil {
		q.onCommit()
	}
	q.maybeSnapshot()
}

// Committed is the value of the last committed entry.
func (q *Quorum[T]) Committed() (T, bool) {
	if q.hw == 0 {
		var zero T
		return zero, false
	}
	if q.hw == q.snap.End {
		return q.snap.Value, true
	}
	return q.log[q.hw-1-q.snap.End].Value, true
}

func (q *Quorum[T]) sendFetch() {
	if q.leader == noVoter || q.leader == q.self {
		return
	}
	q.fetchReq++
	q.env.Send(q.voters[q.leader], FetchRequest{Epoch: q.epoch, Replica: v2i(q.self), FetchOffset: q.leo(), LastFetchedEpoch: q.lastEpoch(), RequestID: q.fetchReq})
	// A fetch may wait at the leader up to FetchMaxWait; past that and a
	// retransmission's time it was lost (the network drops messages TCP
	// would have re-sent), so ask again.
	q.SetTimer(q.env, q.cfg.FetchMaxWait+q.retransmit, node.Timer{Kind: node.TQuorumFetch, ID: q.fetchReq})
}

func (q *Quorum[T]) handleFetch(from sim.NodeID, m FetchRequest) {
	observer := m.Replica < 0
	switch {
	case m.Epoch < q.epoch && !observer || q.role != qLeader || observer && m.Epoch > q.epoch:
		q.env.Send(from, FetchResponse[T]{Epoch: q.epoch, Leader: v2i(q.leader), RequestID: m.RequestID, Err: protocol.FencedLeaderEpoch})
		return
	case m.Epoch > q.epoch:
		q.transition(qUnattached, m.Epoch, noVoter)
		return
	}
	v := int(m.Replica)
	if !observer {
		q.lastFetch[v] = q.env.Now()
	}
	// A fetch below the log start, or that diverges below it, loads the
	// snapshot (KIP-630: the answer names the snapshot, which the fetcher
	// then fetches — here in the one answer).
	if m.FetchOffset < q.snap.End {
		q.sendSnapshot(from, m)
		return
	}
	// The follower's log must end with the leader's record at that offset
	// and epoch; if not, say where its last epoch ends here.
	if m.FetchOffset > q.leo() || m.FetchOffset > 0 && q.epochAt(m.FetchOffset-1) != m.LastFetchedEpoch {
		e, end := q.log.endOf(m.LastFetchedEpoch)
		end += q.snap.End
		if end <= q.snap.End && q.snap.End > 0 {
			q.sendSnapshot(from, m)
			return
		}
		q.env.Send(from, FetchResponse[T]{Epoch: q.epoch, Leader: v2i(q.self), RequestID: m.RequestID, HW: q.hw, DivergingEpoch: e, DivergingEnd: end})
		return
	}
	if !observer {
		q.fetchOff[v] = m.FetchOffset
		q.maybeAdvanceHW()
	}
	if m.FetchOffset < q.leo() {
		q.answerFetch(from, m)
		return
	}
	q.nextParkID++
	t := q.SetTimer(q.env, q.cfg.FetchMaxWait, node.Timer{Kind: node.TQuorumPark, ID: q.nextParkID})
	q.parked = append(q.parked, parkedMetaFetch{id: q.nextParkID, to: from, req: m, timer: t})
}

func (q *Quorum[T]) answerFetch(node sim.NodeID, m FetchRequest) {
	if q.role != qLeader || m.Epoch != q.epoch && m.Replica >= 0 {
		return
	}
	if m.FetchOffset < q.snap.End {
		q.sendSnapshot(node, m) // the log start passed it while it waited
		return
	}
	to := min(q.leo(), m.FetchOffset+maxMetaFetchEntries)
	q.env.Send(node, FetchResponse[T]{Epoch: q.epoch, Leader: v2i(q.self), RequestID: m.RequestID, HW: q.hw,
		Base: m.FetchOffset, Entries: slices.Clone(q.log[m.FetchOffset-q.snap.End : to-q.snap.End]), DivergingEpoch: -1})
}

// sendSnapshot answers a fetch with the leader's snapshot.
func (q *Quorum[T]) sendSnapshot(to sim.NodeID, m FetchRequest) {
	snap := q.snap
	q.env.Send(to, FetchResponse[T]{Epoch: q.epoch, Leader: v2i(q.self), RequestID: m.RequestID, HW: q.hw, Base: snap.End, DivergingEpoch: -1, Snapshot: &snap})
}

const maxMetaFetchEntries = 64

func (q *Quorum[T]) wakeParked() {
	parked := q.parked
	q.parked = nil
	for _, p := range parked {
		q.env.CancelTimer(p.timer)
		q.answerFetch(p.to, p.req)
	}
}

func (q *Quorum[T]) handleFetchResponse(m FetchResponse[T]) {
	if m.Epoch > q.epoch {
		q.transition(qFollower, m.Epoch, int(m.Leader))
		return
	}
	if m.RequestID != q.fetchReq || m.Epoch < q.epoch || q.role == qLeader || q.role == qCandidate {
		return
	}
	if m.Err != protocol.None {
		if q.role == qFollower {
			q.transition(qUnattached, q.epoch, noVoter)
		}
		return
	}
	if q.role != qFollower {
		q.role, q.leader = qFollower, int(m.Leader) // the leader lives: stand down
	}
	q.contact = q.env.Now()
	q.resetElectionTimer(q.cfg.FetchTimeout)
	if m.Snapshot != nil {
		// KIP-630: the leader's log starts past this voter's fetch: load
		// its snapshot, drop the log, and fetch after it.
		if m.Snapshot.End > q.hw {
			q.install(*m.Snapshot)
			q.log = q.log[:0]
			q.logF.Truncate(0)
			q.logF.Sync()
			q.setHW(m.Snapshot.End)
		}
		q.sendFetch()
		return
	}
	if m.DivergingEpoch >= 0 && m.Entries == nil {
		_, own := q.log.endOf(m.DivergingEpoch)
		q.truncate(min(m.DivergingEnd, q.snap.End+own))
		q.sendFetch()
		return
	}
	if m.Base == q.leo() {
		for _, e := range m.Entries {
			q.log = append(q.log, e)
			q.logF.Append(e)
		}
		if len(m.Entries) > 0 {
			q.logF.Sync() // a voter flushes before it fetches again
		}
	}
	q.setHW(min(m.HW, q.leo()))
	q.sendFetch()
}

func (q *Quorum[T]) truncate(end int64) {
	if end >= q.leo() {
		return
	}
	if end < q.hw {
		panic(fmt.Sprintf("raft: voter %d truncating committed entries at %d below its high watermark %d", q.self, end, q.hw))
	}
	q.log = q.log[:end-q.snap.End]
	q.logF.Truncate(int(end - q.snap.End))
}
