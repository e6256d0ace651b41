package client

import (
	"fmt"
	"slices"
	"time"

	"github.com/tideline-sim/tideline/clock"
	"github.com/tideline-sim/tideline/cluster/config"
	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/cluster/node"
	"github.com/tideline-sim/tideline/cluster/protocol"
	"github.com/tideline-sim/tideline/sim"
)

// Member is a consumer in a consumer group, with the application around
// it: Kafka's classic KafkaConsumer (its ConsumerCoordinator and heartbeat
// thread, Fetcher and SubscriptionState) driven by an application loop
// that polls, processes every record it is given and commits as
// tideline.commit says. Rebalances happen only inside poll(), as in
// Kafka: the heartbeat thread learns of one, the next poll joins it.
type Member struct {
	node.Recyclers

	cfg        config.ConsumerConfig
	partitions int // of the subscribed topic
	history    *journal.History
	env        sim.Env
	meta       metadataView

	// The group, as the ConsumerCoordinator keeps it.
	coordinator protocol.BrokerID // NoLeader while unknown
	find        node.Call         // FindCoordinator in flight, or the backoff before the next
	// After the coordinator is lost, the next lookup waits: retry.backoff.ms,
	// doubling to retry.backoff.max.ms (KIP-580) until the coordinator answers.
	findBackoff time.Duration
	findAfter   clock.Time
	memberID    string
	generation  int32 // -1: in no generation
	protocol    string
	rejoin      bool      // rejoinNeeded: the next poll joins
	prepared    bool      // onJoinPrepare ran for the coming join
	joining     node.Call // JoinGroup or SyncGroup in flight, or a backoff before one
	joinSentAt  clock.Time
	heartbeat   node.Call
	hbSentAt    clock.Time
	lastHBOK    clock.Time // the last successful heartbeat, for the session timer
	commit      node.Call
	commitSent  clock.Time
	commitOf    []protocol.CommittedOffset
	commitGen   int32
	commitSync  bool       // the application waits for it (commitSync)
	syncDue     clock.Time // when the commitSync gives up (default.api.timeout.ms)
	offsets     node.Call  // OffsetFetch in flight
	owned       []*memberPartition
	lastCommit  clock.Time // the last auto-commit
	nextDrain   int        // where poll() starts collecting records
	failed      bool       // the application hit an exception it does not survive
	closing     bool       // told to stop: closing the consumer

	// The application.
	phase          appPhase
	lastPoll       clock.Time
	pollCheckArmed bool
	batch          []polledRecord
	polled         []polledRecord // the array batches are drained into
	next           int            // the batch's next record to process
	work           sim.TimerID
}

type appPhase uint8

const (
	polling    appPhase = iota // inside poll(): waiting for records or the group
	processing                 // processing a polled batch
	committing                 // in commitSync (before or after processing)
)

// The default.api.timeout.ms a commitSync waits at most.
const defaultAPITimeout = 60 * time.Second

// retryBackoffMax is retry.backoff.max.ms's default (KIP-580).
const retryBackoffMax = time.Second

// joinTimeoutLapse is added to the rebalance timeout for a JoinGroup's
// request timeout (AbstractCoordinator.JOIN_GROUP_TIMEOUT_LAPSE).
const joinTimeoutLapse = 5 * time.Second

type polledRecord struct {
	tp      protocol.TopicPartition
	offset  int64
	payload int64
}

type bufferedRecord struct {
	offset, payload int64
	epoch           int32
}

// memberPartition is an assigned partition: its position (the next offset
// poll() returns), the fetched records not yet returned, and the requests
// that find its position and fetch it.
type memberPartition struct {
	tp       protocol.TopicPartition
	position int64 // -1: unknown
	epoch    int32 // leader epoch of the last record returned
	buffer   []bufferedRecord
	// bufferArray is buffer's array from its start: drained from the
	// front, the buffer reuses it once empty.
	bufferArray []bufferedRecord
	fetched     int64 // the next offset to fetch
	fetch       node.Call
	fetchAt     clock.Time
	reset       node.Call // ListOffsets in flight (auto.offset.reset)
	// KIP-320: the leader epoch the position is known good against;
	// when metadata shows a newer one, the position is validated
	// (OffsetsForLeaderEpoch) before the partition is fetched again.
	validAt    int32
	fetchEpoch int32 // the leader epoch the fetch in flight named
	validate   node.Call
}

// unvalidated marks a position that must be validated before use: one
// taken from a committed offset that names its leader epoch.
const unvalidated = -2

// NewMember returns a group member reading cfg.Topic, which has partitions
// partitions.
func NewMember(cfg config.ConsumerConfig, partitions int, dir node.Directory, history *journal.History) *Member {
	m := &Member{cfg: cfg, partitions: partitions, history: history, meta: metadataView{topic: cfg.Topic, dir: dir, retransmit: cfg.Retransmit}}
	m.meta.rec = &m.Recyclers
	return m
}

func (m *Member) Start(env sim.Env) {
	*m = Member{Recyclers: m.Recyclers, cfg: m.cfg, partitions: m.partitions, history: m.history, env: env,
		meta: metadataView{topic: m.cfg.Topic, dir: m.meta.dir, retransmit: m.cfg.Retransmit}}
	m.meta.rec = &m.Recyclers
	// Request ids start afresh somewhere new in each incarnation, so a
	// coordinator never takes a new request for a re-sent old one (a new
	// process opens new connections).
	m.meta.nextID = env.Rand().Uint64() >> 16
	m.coordinator, m.generation = protocol.NoLeader, -1
	m.lastPoll, m.lastCommit = env.Now(), env.Now()
	m.meta.refresh(env)
	m.SetTimer(env, m.cfg.MetadataMaxAge, node.Timer{Kind: node.TMetadata})
	m.SetTimer(env, m.cfg.HeartbeatInterval, node.Timer{Kind: node.TMemberHeartbeat})
	m.poll()
}

func (m *Member) now() clock.Time { return m.env.Now() }

func (m *Member) op(op journal.Op) {
	op.Time, op.Process = m.now(), m.env.Name()
	m.history.Add(op)
}

func (m *Member) Receive(env sim.Env, from sim.NodeID, msg sim.Message) {
	switch r := msg.(type) {
	case protocol.MetadataResponse:
		if m.meta.onResponse(r) {
			m.poll()
		}
	case sim.ConnectionReset:
		m.disconnected(r.Peer)
	case protocol.ConnectionClosed:
		m.disconnected(from)
	case protocol.FindCoordinatorResponse:
		m.onFindCoordinator(r)
	case protocol.JoinGroupResponse:
		m.onJoin(r)
	case protocol.SyncGroupResponse:
		m.onSync(r)
	case protocol.HeartbeatResponse:
		m.onHeartbeat(r)
	case protocol.LeaveGroupResponse:
	case protocol.OffsetCommitResponse:
		m.onCommit(r)
	case protocol.OffsetFetchResponse:
		m.onOffsetFetch(r)
	case protocol.ListOffsetsResponse:
		m.onListOffsets(r)
	case protocol.OffsetsForLeaderEpochResponse:
		m.onValidate(r)
	case *protocol.FetchResponse:
		m.onFetch(*r)
	case node.Terminate:
		m.close()
	}
}

// close is the application shutting down: KafkaConsumer.close() commits
// the positions it consumed (with auto-commit), leaves the group and exits.
func (m *Member) close() {
	if m.closing {
		return
	}
	m.closing = true
	m.env.CancelTimer(m.work) // processing stops where it is
	if m.cfg.AutoCommit && m.generation >= 0 && m.coordinator != protocol.NoLeader {
		m.phase = committing
		m.batch = nil
		m.startCommit(true)
		return
	}
	m.finishClose()
}

func (m *Member) finishClose() {
	if m.failed {
		return // already gone
	}
	m.failed = true
	m.leaveGroup("the consumer is closed")
	m.env.Exit()
}

func (m *Member) Timer(env sim.Env, t sim.Timer) {
	tm := *t.(*node.Timer)
	if tm.Kind == node.TMetadata && tm.ID == 0 {
		m.meta.refresh(env)
		m.SetTimer(env, m.cfg.MetadataMaxAge, tm)
		return
	}
	if m.meta.onTimer(env, tm) {
		return
	}
	switch tm.Kind {
	case node.TMemberHeartbeat:
		m.heartbeatTick()
		m.SetTimer(env, min(m.cfg.HeartbeatInterval, time.Second), tm)
	case node.TMemberWork:
		if m.phase == processing {
			m.processed()
		}
	case node.TMemberPollCheck:
		m.pollCheckArmed = false
		m.pollCheck()
	case node.TMemberRetry:
		m.onRetryTimer(tm)
	case node.TFetch:
		if p := m.ownedPartition(tm.TP); p != nil && m.due(&p.fetch, tm) {
			m.poll() // the backoff is over
		}
	}
}

// onRetryTimer re-sends a coordinator request or ends a backoff; TP.Topic
// says which call.
func (m *Member) onRetryTimer(tm node.Timer) {
	switch tm.TP.Topic {
	case "find":
		if m.due(&m.find, tm) {
			m.findCoordinator() // a commitSync waits for it outside poll()
			m.poll()
		}
	case "join":
		if m.due(&m.joining, tm) {
			m.poll()
		}
	case "heartbeat":
		m.due(&m.heartbeat, tm)
	case "commit":
		if m.due(&m.commit, tm) {
			m.sendCommit()
		}
	case "offsets":
		if m.due(&m.offsets, tm) {
			m.poll()
		}
	case "validate":
		if p := m.ownedPartition(protocol.TopicPartition{Topic: m.cfg.Topic, Partition: tm.TP.Partition}); p != nil && m.due(&p.validate, tm) {
			m.poll()
		}
	case "reset":
		if p := m.ownedPartition(protocol.TopicPartition{Topic: m.cfg.Topic, Partition: tm.TP.Partition}); p != nil && m.due(&p.reset, tm) {
			if p.position < 0 {
				m.resetPosition(p, "retry")
			}
		}
	}
}

// due handles a call's timer: a retransmission, or the end of its backoff,
// after which the call is free for the next request.
func (m *Member) due(c *node.Call, tm node.Timer) bool {
	if !c.OnTimer(&m.Recyclers, m.env, tm) {
		return false
	}
	c.Cancel(m.env)
	return true
}

func retryTimer(which string) node.Timer {
	return node.Timer{Kind: node.TMemberRetry, TP: protocol.TopicPartition{Topic: which}}
}

func (m *Member) ownedPartition(tp protocol.TopicPartition) *memberPartition {
	for _, p := range m.owned {
		if p.tp == tp {
			return p
		}
	}
	return nil
}

// ---- the application ----

// poll is the application inside KafkaConsumer.poll(): it runs again
// whenever something it waits for arrives, and returns records to
// process once the member is in a generation with positions and data.
func (m *Member) poll() {
	if m.phase != polling || m.failed || m.closing {
		return
	}
	m.lastPoll = m.now()
	if m.coordinator == protocol.NoLeader {
		m.findCoordinator()
		return
	}
	if m.rejoin || m.generation < 0 {
		m.ensureActiveGroup()
		return
	}
	if m.cfg.AutoCommit && m.now().Sub(m.lastCommit) >= m.cfg.AutoCommitInterval {
		// maybeAutoCommitOffsetsAsync, at the start of poll.
		m.lastCommit = m.now()
		m.startCommit(false)
	}
	if !m.positionsKnown() {
		return
	}
	for _, p := range m.owned {
		if m.maybeValidate(p) {
			continue
		}
		if len(p.buffer) == 0 && p.fetch.ID == 0 {
			m.sendFetch(p)
		}
	}
	batch := m.drain()
	if len(batch) == 0 {
		return
	}
	m.batch, m.next = batch, 0
	// poll() returns: max.poll.interval.ms runs until the next one. One
	// timer is armed at a time; it finds a later poll and re-arms.
	m.lastPoll = m.now()
	if !m.pollCheckArmed {
		m.pollCheckArmed = true
		m.SetTimer(m.env, m.cfg.MaxPollInterval, node.Timer{Kind: node.TMemberPollCheck})
	}
	if m.cfg.Commit == config.CommitBeforeProcessing {
		m.phase = committing
		m.startCommit(true)
		return
	}
	m.startProcessing()
}

// drain returns up to max.poll.records buffered records, partition by
// partition from where the last poll stopped, and moves the positions
// past them.
func (m *Member) drain() []polledRecord {
	out := m.polled[:0] // the batch before this one is done with
	for i := range m.owned {
		p := m.owned[(m.nextDrain+i)%len(m.owned)]
		n := min(len(p.buffer), m.cfg.MaxPollRecords-len(out))
		for _, r := range p.buffer[:n] {
			out = append(out, polledRecord{tp: p.tp, offset: r.offset, payload: r.payload})
			p.position, p.epoch = r.offset+1, r.epoch
		}
		p.buffer = p.buffer[n:]
		if len(p.buffer) == 0 {
			p.buffer = p.bufferArray[:0] // its array again, for the next fetch
		}
		if len(out) == m.cfg.MaxPollRecords {
			m.nextDrain = (m.nextDrain + i + 1) % len(m.owned)
			break
		}
	}
	m.polled = out
	return out
}

func (m *Member) startProcessing() {
	m.phase = processing
	m.processNext()
}

// processNext processes the batch's records in order, each taking
// tideline.processing.ms (and up to tideline.processing.jitter.ms more).
func (m *Member) processNext() {
	for m.next < len(m.batch) {
		d := m.cfg.Processing
		if m.cfg.ProcessingJitter > 0 {
			d += time.Duration(m.env.Rand().Int64N(int64(m.cfg.ProcessingJitter) + 1))
		}
		if d > 0 {
			m.work = m.SetTimer(m.env, d, node.Timer{Kind: node.TMemberWork})
			return
		}
		m.recordProcessed()
	}
	m.batchDone()
}

func (m *Member) processed() {
	m.recordProcessed()
	m.processNext()
}

func (m *Member) recordProcessed() {
	r := m.batch[m.next]
	m.next++
	m.op(journal.Op{Type: journal.Ok, F: journal.OpProcess, TP: r.tp, Offset: r.offset, Payload: r.payload, Generation: m.generation, Broker: protocol.NoLeader})
}

func (m *Member) batchDone() {
	m.batch, m.next = nil, 0
	if m.cfg.Commit == config.CommitAfterProcessing {
		m.phase = committing
		m.startCommit(true)
		return
	}
	m.phase = polling
	m.poll()
}

// commitDone is the end of a commitSync, whatever its outcome: the
// application carries on (a CommitFailedException is logged, not fatal).
func (m *Member) commitDone() {
	if m.closing {
		m.finishClose()
		return
	}
	if m.phase != committing {
		return
	}
	if m.batch != nil && m.next < len(m.batch) {
		m.startProcessing() // commit before processing: now process
		return
	}
	m.phase = polling
	m.poll()
}

// pollCheck is the heartbeat thread's max.poll.interval.ms check: an
// application that has not called poll() since leaves the group
// (maybeLeaveGroup), and rejoins as a new member when it next polls.
func (m *Member) pollCheck() {
	if m.phase == polling {
		return // in poll(): the next return re-arms it
	}
	if due := m.lastPoll.Add(m.cfg.MaxPollInterval); m.now() < due {
		m.pollCheckArmed = true
		m.SetTimer(m.env, due.Sub(m.now()), node.Timer{Kind: node.TMemberPollCheck})
		return
	}
	if m.generation < 0 && m.memberID == "" {
		return
	}
	m.leaveGroup(fmt.Sprintf("poll() not called for max.poll.interval.ms (%v)", m.cfg.MaxPollInterval))
}

func (m *Member) leaveGroup(why string) {
	if m.coordinator != protocol.NoLeader && m.memberID != "" && m.cfg.InstanceID == "" {
		m.env.Send(m.meta.dir.Node(m.coordinator), protocol.LeaveGroupRequest{RequestID: m.meta.newID(), Group: m.cfg.GroupID, MemberID: m.memberID})
	}
	m.env.Log("leave group: %s", why)
	m.resetGeneration(true)
}

// resetGeneration forgets the generation (and, for a member that must
// join afresh, its id), so the next poll rejoins.
func (m *Member) resetGeneration(memberID bool) {
	m.generation, m.protocol = -1, ""
	if memberID {
		m.memberID = ""
	}
	m.rejoin = true
	m.heartbeat.Cancel(m.env)
}

// ---- finding the coordinator ----

func (m *Member) findCoordinator() {
	if m.find.ID != 0 {
		return
	}
	if wait := m.findAfter.Sub(m.now()); wait > 0 {
		m.find.Backoff(&m.Recyclers, m.env, m.meta.newID(), wait, retryTimer("find"))
		return
	}
	b := m.meta.dir.Brokers[m.meta.nextBroker%len(m.meta.dir.Brokers)]
	m.meta.nextBroker++
	id := m.meta.newID()
	m.find.Send(&m.Recyclers, m.env, id, b, protocol.FindCoordinatorRequest{RequestID: id, Group: m.cfg.GroupID}, m.cfg.Retransmit, retryTimer("find"))
}

func (m *Member) onFindCoordinator(r protocol.FindCoordinatorResponse) {
	if _, ok := m.find.Answered(m.env, r.RequestID); !ok {
		return
	}
	if r.Err != protocol.None {
		m.find.Backoff(&m.Recyclers, m.env, m.meta.newID(), m.cfg.RetryBackoff, retryTimer("find"))
		return
	}
	m.coordinator = r.Coordinator
	m.lastHBOK = m.now()
	if m.commitSync && m.commit.ID == 0 {
		m.sendCommit()
	}
	m.poll()
}

// coordinatorUnknown is markCoordinatorUnknown: every request to it is
// abandoned (a commit in flight has an unknown outcome), and the member
// finds it again.
func (m *Member) coordinatorUnknown(why string) {
	if m.coordinator == protocol.NoLeader {
		return
	}
	m.env.Log("coordinator %d unknown: %s", m.coordinator, why)
	m.coordinator = protocol.NoLeader
	m.findBackoff = min(max(2*m.findBackoff, m.cfg.RetryBackoff), retryBackoffMax)
	m.findAfter = m.now().Add(m.findBackoff)
	if m.joining.ID != 0 {
		m.joining.Cancel(m.env)
		m.rejoin = true
	}
	m.heartbeat.Cancel(m.env)
	m.offsets.Cancel(m.env)
	if m.commit.ID != 0 && m.commit.Sent {
		m.commit.Cancel(m.env)
		m.commitOutcome(journal.Info, protocol.CoordinatorNotAvailable, why)
		if m.commitSync && m.now() < m.syncDue {
			m.commitOf = nil // re-sent once the coordinator is found, with the positions then
		} else {
			m.endCommit()
		}
	}
	if m.phase == polling {
		m.poll()
	} else if m.commitSync {
		m.findCoordinator()
	}
}

// ---- joining ----

// ensureActiveGroup is joinGroupIfNeeded: onJoinPrepare once, then
// JoinGroup, then SyncGroup.
func (m *Member) ensureActiveGroup() {
	if m.joining.ID != 0 {
		return
	}
	if !m.prepared {
		if m.cfg.AutoCommit && m.generation >= 0 && len(m.owned) > 0 && m.commit.ID == 0 {
			// onJoinPrepare: a synchronous auto-commit before giving the
			// partitions up (best effort).
			m.prepared = true
			m.phase = committing
			m.startCommit(true)
			return
		}
		m.prepared = true
		if !m.cfg.Cooperative() || m.generation < 0 {
			// Eager: everything goes before the join; cooperative, only
			// when the generation was lost (onPartitionsLost).
			m.revoke(m.owned)
		}
	}
	m.sendJoin()
}

func (m *Member) sendJoin() {
	id := m.meta.newID()
	var protocols []protocol.GroupProtocol
	var owned []protocol.TopicPartition
	for _, p := range m.owned {
		owned = append(owned, p.tp)
	}
	for _, a := range m.cfg.Assignors {
		protocols = append(protocols, protocol.GroupProtocol{Name: a, Topics: []string{m.cfg.Topic}, Owned: owned})
	}
	m.joinSentAt = m.now()
	m.joining.Send(&m.Recyclers, m.env, id, m.meta.dir.Node(m.coordinator), protocol.JoinGroupRequest{RequestID: id, Group: m.cfg.GroupID, MemberID: m.memberID,
		InstanceID: m.cfg.InstanceID, ClientID: m.cfg.ClientID, SessionTimeoutMs: int32(m.cfg.SessionTimeout / time.Millisecond),
		RebalanceTimeoutMs: int32(m.cfg.MaxPollInterval / time.Millisecond), Protocols: protocols}, m.cfg.Retransmit, retryTimer("join"))
}

func (m *Member) joinBackoff() {
	m.joining.Backoff(&m.Recyclers, m.env, m.meta.newID(), m.cfg.RetryBackoff, retryTimer("join"))
}

func (m *Member) onJoin(r protocol.JoinGroupResponse) {
	if _, ok := m.joining.Answered(m.env, r.RequestID); !ok {
		return
	}
	switch r.Err {
	case protocol.None:
	case protocol.MemberIDRequired:
		m.memberID = r.MemberID
		m.sendJoin()
		return
	case protocol.UnknownMemberID, protocol.IllegalGeneration:
		m.resetGeneration(true)
		m.sendJoin()
		return
	case protocol.CoordinatorNotAvailable, protocol.NotCoordinator:
		m.rejoin = true
		m.coordinatorUnknown("JoinGroup: " + r.Err.String())
		return
	case protocol.InvalidSessionTimeout, protocol.InconsistentGroupProtocol, protocol.FencedInstanceID:
		m.fail(r.Err, "JoinGroup refused: the application's poll() throws")
		return
	default:
		m.joinBackoff()
		return
	}
	m.memberID, m.generation, m.protocol = r.MemberID, r.Generation, r.Protocol
	m.findBackoff = 0
	var assignments []protocol.MemberAssignment
	if r.Leader == m.memberID {
		assignments = assign(r.Protocol, r.Members, m.cfg.Topic, m.partitions)
	}
	id := m.meta.newID()
	m.joinSentAt = m.now()
	m.joining.Send(&m.Recyclers, m.env, id, m.meta.dir.Node(m.coordinator), protocol.SyncGroupRequest{RequestID: id, Group: m.cfg.GroupID,
		MemberID: m.memberID, Generation: m.generation, Assignments: assignments}, m.cfg.Retransmit, retryTimer("join"))
}

func (m *Member) onSync(r protocol.SyncGroupResponse) {
	if _, ok := m.joining.Answered(m.env, r.RequestID); !ok {
		return
	}
	switch r.Err {
	case protocol.None:
	case protocol.FencedInstanceID:
		m.fail(r.Err, "FencedInstanceIdException: another member took this group.instance.id")
		return
	case protocol.UnknownMemberID:
		m.resetGeneration(true)
		m.poll()
		return
	case protocol.IllegalGeneration:
		m.resetGeneration(false)
		m.poll()
		return
	case protocol.CoordinatorNotAvailable, protocol.NotCoordinator:
		m.rejoin = true
		m.coordinatorUnknown("SyncGroup: " + r.Err.String())
		return
	default: // REBALANCE_IN_PROGRESS and the rest: join again
		m.rejoin = true
		m.joinBackoff()
		return
	}
	m.onJoinComplete(r.Partitions)
}

// onJoinComplete takes the generation's assignment. Cooperatively, a
// partition owned before and not assigned now is revoked, and the member
// rejoins at once so it can be handed on (ConsumerCoordinator.onJoinComplete).
func (m *Member) onJoinComplete(assigned []protocol.TopicPartition) {
	m.rejoin, m.prepared = false, false
	m.lastHBOK = m.now()
	var revoked []*memberPartition
	for _, p := range m.owned {
		if !slices.Contains(assigned, p.tp) {
			revoked = append(revoked, p)
		}
	}
	m.revoke(revoked)
	for _, tp := range assigned {
		m.op(journal.Op{Type: journal.Ok, F: journal.OpAssign, TP: tp, Offset: -1, Payload: -1, Generation: m.generation, Broker: m.coordinator})
		if m.ownedPartition(tp) == nil {
			m.owned = append(m.owned, &memberPartition{tp: tp, position: -1, epoch: protocol.NoEpoch, validAt: protocol.NoEpoch})
		}
	}
	slices.SortFunc(m.owned, func(a, b *memberPartition) int { return a.tp.Compare(b.tp) })
	if len(revoked) > 0 && m.cfg.Cooperative() {
		m.rejoin = true
	}
	m.hbSentAt = m.now() // the heartbeat interval runs from the join
	m.poll()
}

// revoke gives partitions up: their fetches and buffered records go.
func (m *Member) revoke(parts []*memberPartition) {
	for _, p := range parts {
		p.fetch.Cancel(m.env)
		p.reset.Cancel(m.env)
		p.validate.Cancel(m.env)
	}
	m.owned = slices.DeleteFunc(m.owned, func(p *memberPartition) bool { return slices.Contains(parts, p) })
}

// fail is an exception the application does not survive: recorded, and
// the member stops.
func (m *Member) fail(err protocol.ErrorCode, why string) {
	m.failed = true
	m.op(journal.Op{Type: journal.Fail, F: journal.OpAssign, Offset: -1, Payload: -1, Err: err, Note: why, Broker: m.coordinator})
	m.leaveGroup(why)
}

// ---- heartbeats ----

// heartbeatTick is the heartbeat thread: a heartbeat every
// heartbeat.interval.ms while in a generation, the session timer, and the
// request timeouts of the requests in flight.
func (m *Member) heartbeatTick() {
	now := m.now()
	if m.coordinator != protocol.NoLeader {
		switch {
		case m.joining.Sent && now.Sub(m.joinSentAt) > m.cfg.MaxPollInterval+joinTimeoutLapse:
			m.coordinatorUnknown("JoinGroup timed out")
		case m.generation >= 0 && !m.rejoin && now.Sub(m.lastHBOK) > m.cfg.SessionTimeout:
			m.coordinatorUnknown("no heartbeat answered within session.timeout.ms")
		case m.commit.Sent && now.Sub(m.commitSent) > m.cfg.RequestTimeout:
			m.coordinatorUnknown("OffsetCommit timed out (request.timeout.ms)")
		case m.offsets.Sent && now.Sub(m.offsets.SentAt()) > m.cfg.RequestTimeout:
			m.coordinatorUnknown("OffsetFetch timed out (request.timeout.ms)")
		}
	}
	if m.coordinator != protocol.NoLeader && m.generation >= 0 && !m.rejoin && m.joining.ID == 0 && m.heartbeat.ID == 0 &&
		now.Sub(m.hbSentAt) >= m.cfg.HeartbeatInterval {
		id := m.meta.newID()
		m.hbSentAt = now
		m.heartbeat.Send(&m.Recyclers, m.env, id, m.meta.dir.Node(m.coordinator), protocol.HeartbeatRequest{RequestID: id, Group: m.cfg.GroupID,
			MemberID: m.memberID, Generation: m.generation}, m.cfg.Retransmit, retryTimer("heartbeat"))
	}
	for _, p := range m.owned {
		if p.fetch.Sent && now.Sub(p.fetchAt) > m.cfg.RequestTimeout+m.cfg.FetchMaxWait {
			p.fetch.Cancel(m.env)
			m.meta.refresh(m.env)
			m.fetchLater(p)
		}
	}
	if m.commitSync && m.phase == committing && now >= m.syncDue {
		m.commit.Cancel(m.env)
		m.endCommit()
	}
	if m.phase == polling && m.find.ID == 0 && m.coordinator == protocol.NoLeader {
		m.poll()
	}
}

func (m *Member) onHeartbeat(r protocol.HeartbeatResponse) {
	if _, ok := m.heartbeat.Answered(m.env, r.RequestID); !ok {
		return
	}
	switch r.Err {
	case protocol.None:
		m.lastHBOK, m.findBackoff = m.now(), 0
	case protocol.RebalanceInProgress:
		m.lastHBOK = m.now()
		m.rejoin = true
		m.poll()
	case protocol.IllegalGeneration:
		m.resetGeneration(false)
		m.poll()
	case protocol.UnknownMemberID:
		m.resetGeneration(true)
		m.poll()
	case protocol.CoordinatorNotAvailable, protocol.NotCoordinator:
		m.coordinatorUnknown("Heartbeat: " + r.Err.String())
	case protocol.FencedInstanceID:
		m.fail(r.Err, "FencedInstanceIdException: another member took this group.instance.id")
	}
}

// ---- committing ----

// startCommit commits the positions of every owned partition: a
// commitSync the application waits for, or an async auto-commit.
func (m *Member) startCommit(sync bool) {
	if m.commit.ID != 0 {
		if sync {
			m.commitSync = true
			m.syncDue = m.now().Add(defaultAPITimeout)
		}
		return // one at a time; a sync waits for the one in flight
	}
	m.commitSync = sync
	m.syncDue = m.now().Add(defaultAPITimeout)
	m.commitOf = nil
	m.sendCommit()
}

func (m *Member) consumed() []protocol.CommittedOffset {
	var out []protocol.CommittedOffset
	for _, p := range m.owned {
		if p.position >= 0 {
			out = append(out, protocol.CommittedOffset{TP: p.tp, Offset: p.position, LeaderEpoch: p.epoch})
		}
	}
	return out
}

func (m *Member) sendCommit() {
	if m.commitOf == nil {
		m.commitOf, m.commitGen = m.consumed(), m.generation
	}
	if len(m.commitOf) == 0 || m.generation < 0 && m.commitGen >= 0 {
		m.endCommit()
		return
	}
	if m.coordinator == protocol.NoLeader {
		if !m.commitSync {
			m.endCommit()
			return
		}
		m.findCoordinator()
		return
	}
	id := m.meta.newID()
	m.commitSent = m.now()
	m.commitOutcome(journal.Invoke, protocol.None, "")
	m.commit.Send(&m.Recyclers, m.env, id, m.meta.dir.Node(m.coordinator), protocol.OffsetCommitRequest{RequestID: id, Group: m.cfg.GroupID,
		MemberID: m.memberID, Generation: m.commitGen, Offsets: m.commitOf}, m.cfg.Retransmit, retryTimer("commit"))
}

func (m *Member) onCommit(r protocol.OffsetCommitResponse) {
	if _, ok := m.commit.Answered(m.env, r.RequestID); !ok {
		return
	}
	switch r.Err {
	case protocol.None:
		m.findBackoff = 0
		m.commitOutcome(journal.Ok, protocol.None, "")
		m.endCommit()
	case protocol.CoordinatorLoadInProgress:
		m.commitOutcome(journal.Fail, r.Err, "")
		m.retryCommit()
	case protocol.CoordinatorNotAvailable, protocol.NotCoordinator, protocol.RequestTimedOut:
		m.commitOutcome(journal.Info, r.Err, "")
		if m.commitSync && m.now() < m.syncDue {
			m.commitOf = nil
			m.coordinatorUnknown("OffsetCommit: " + r.Err.String())
			return
		}
		m.endCommit()
		m.coordinatorUnknown("OffsetCommit: " + r.Err.String())
	case protocol.RebalanceInProgress:
		// RebalanceInProgressException: the member rejoins at its next poll.
		m.commitOutcome(journal.Fail, r.Err, "RebalanceInProgressException")
		m.rejoin = true
		m.endCommit()
	case protocol.IllegalGeneration, protocol.UnknownMemberID:
		// CommitFailedException: the group moved on without this member.
		m.commitOutcome(journal.Fail, r.Err, "CommitFailedException")
		m.resetGeneration(r.Err == protocol.UnknownMemberID)
		m.endCommit()
	default:
		m.commitOutcome(journal.Fail, r.Err, "")
		m.endCommit()
	}
}

func (m *Member) retryCommit() {
	if m.commitSync && m.now() < m.syncDue {
		m.commit.Backoff(&m.Recyclers, m.env, m.meta.newID(), m.cfg.RetryBackoff, retryTimer("commit"))
		return
	}
	m.endCommit()
}

func (m *Member) commitOutcome(typ journal.OpType, err protocol.ErrorCode, note string) {
	for _, o := range m.commitOf {
		m.op(journal.Op{Type: typ, F: journal.OpCommit, TP: o.TP, Offset: o.Offset, Payload: -1, Err: err, Note: note, Generation: m.commitGen, Broker: m.coordinator})
	}
}

func (m *Member) endCommit() {
	sync := m.commitSync
	m.commit.Cancel(m.env)
	m.commitOf, m.commitSync = nil, false
	if sync {
		m.commitDone()
	}
}

// ---- positions ----

// positionsKnown finds the position of every owned partition that has
// none: its committed offset, or auto.offset.reset's.
func (m *Member) positionsKnown() bool {
	var missing []protocol.TopicPartition
	for _, p := range m.owned {
		if p.position < 0 && p.reset.ID == 0 {
			missing = append(missing, p.tp)
		}
	}
	if len(missing) == 0 {
		return !slices.ContainsFunc(m.owned, func(p *memberPartition) bool { return p.position < 0 })
	}
	if m.offsets.ID == 0 {
		id := m.meta.newID()
		m.offsets.Send(&m.Recyclers, m.env, id, m.meta.dir.Node(m.coordinator), protocol.OffsetFetchRequest{RequestID: id, Group: m.cfg.GroupID, Partitions: missing},
			m.cfg.Retransmit, retryTimer("offsets"))
	}
	return false
}

func (m *Member) onOffsetFetch(r protocol.OffsetFetchResponse) {
	if _, ok := m.offsets.Answered(m.env, r.RequestID); !ok {
		return
	}
	switch r.Err {
	case protocol.None:
	case protocol.CoordinatorNotAvailable, protocol.NotCoordinator:
		m.coordinatorUnknown("OffsetFetch: " + r.Err.String())
		return
	default:
		m.offsets.Backoff(&m.Recyclers, m.env, m.meta.newID(), m.cfg.RetryBackoff, retryTimer("offsets"))
		return
	}
	for _, o := range r.Offsets {
		p := m.ownedPartition(o.TP)
		if p == nil || p.position >= 0 {
			continue
		}
		if o.Offset >= 0 {
			p.position, p.epoch = o.Offset, o.LeaderEpoch
			p.fetched, p.buffer = o.Offset, nil
			p.validAt = unvalidated
			continue
		}
		m.resetPosition(p, "no committed offset")
	}
	m.poll()
}

// resetPosition applies auto.offset.reset: ListOffsets from the leader
// (earliest: the log start; latest: the high watermark), or, with none,
// NoOffsetForPartitionException.
func (m *Member) resetPosition(p *memberPartition, why string) {
	p.buffer, p.position = nil, -1
	p.fetch.Cancel(m.env)
	if m.cfg.AutoOffsetReset == "none" {
		m.op(journal.Op{Type: journal.Fail, F: journal.OpReset, TP: p.tp, Broker: protocol.NoLeader, Offset: -1, Payload: -1, Generation: m.generation, Note: "NoOffsetForPartitionException: " + why})
		m.fail(protocol.None, "NoOffsetForPartitionException: auto.offset.reset is none")
		return
	}
	leader, epoch := m.meta.leader(p.tp.Partition)
	if leader == protocol.NoLeader {
		m.meta.refresh(m.env)
		p.reset.Backoff(&m.Recyclers, m.env, m.meta.newID(), m.cfg.RetryBackoff, resetTimer(p.tp))
		return
	}
	ts := int64(protocol.LatestTimestamp)
	if m.cfg.AutoOffsetReset == "earliest" {
		ts = protocol.EarliestTimestamp
	}
	id := m.meta.newID()
	p.reset.Send(&m.Recyclers, m.env, id, m.meta.dir.Node(leader), protocol.ListOffsetsRequest{RequestID: id, TP: p.tp, Timestamp: ts, CurrentLeaderEpoch: epoch},
		m.cfg.Retransmit, resetTimer(p.tp))
}

func (m *Member) onListOffsets(r protocol.ListOffsetsResponse) {
	p := m.ownedPartition(r.TP)
	if p == nil {
		return
	}
	if _, ok := p.reset.Answered(m.env, r.RequestID); !ok {
		return
	}
	if r.Err != protocol.None {
		m.meta.refresh(m.env)
		p.reset.Backoff(&m.Recyclers, m.env, m.meta.newID(), m.cfg.RetryBackoff, resetTimer(p.tp))
		return
	}
	p.position, p.epoch, p.fetched = r.Offset, protocol.NoEpoch, r.Offset
	p.validAt = r.LeaderEpoch
	m.op(journal.Op{Type: journal.Ok, F: journal.OpReset, TP: p.tp, Broker: protocol.NoLeader, Offset: r.Offset, Payload: -1, Generation: m.generation,
		Note: "auto.offset.reset=" + m.cfg.AutoOffsetReset})
	m.poll()
}

// ---- validating positions (KIP-320) ----

// maybeValidate starts validating a position whose leader epoch is older
// than the partition's leader's now (SubscriptionState's
// maybeValidatePositionForCurrentLeader); it reports whether the
// partition waits for validation.
func (m *Member) maybeValidate(p *memberPartition) bool {
	if p.validate.ID != 0 {
		return true
	}
	leader, epoch := m.meta.leader(p.tp.Partition)
	if p.position < 0 || epoch == protocol.NoEpoch || epoch <= p.validAt {
		return false
	}
	if p.epoch == protocol.NoEpoch {
		p.validAt = epoch // nothing consumed to check against
		return false
	}
	if leader == protocol.NoLeader {
		return true
	}
	// Records fetched from the old leader may be gone: drop them.
	p.fetch.Cancel(m.env)
	p.buffer, p.fetched = nil, p.position
	id := m.meta.newID()
	p.validate.Send(&m.Recyclers, m.env, id, m.meta.dir.Node(leader), protocol.OffsetsForLeaderEpochRequest{RequestID: id, TP: p.tp, CurrentLeaderEpoch: epoch, LeaderEpoch: p.epoch},
		m.cfg.Retransmit, validateTimer(p.tp))
	p.fetchEpoch = epoch
	return true
}

func resetTimer(tp protocol.TopicPartition) node.Timer {
	return node.Timer{Kind: node.TMemberRetry, TP: protocol.TopicPartition{Topic: "reset", Partition: tp.Partition}}
}

func validateTimer(tp protocol.TopicPartition) node.Timer {
	return node.Timer{Kind: node.TMemberRetry, TP: protocol.TopicPartition{Topic: "validate", Partition: tp.Partition}}
}

// onValidate completes a validation (maybeCompleteValidation): an epoch
// that ends before the position means the log was truncated under the
// consumer — with a reset policy it seeks back to where the logs diverge,
// with none the application gets LogTruncationException.
func (m *Member) onValidate(r protocol.OffsetsForLeaderEpochResponse) {
	p := m.ownedPartition(r.TP)
	if p == nil {
		return
	}
	if _, ok := p.validate.Answered(m.env, r.RequestID); !ok {
		return
	}
	switch {
	case r.Err != protocol.None:
		m.meta.refresh(m.env)
		p.validate.Backoff(&m.Recyclers, m.env, m.meta.newID(), m.cfg.RetryBackoff, validateTimer(p.tp))
		return
	case r.EndOffset < 0 || r.LeaderEpoch == protocol.NoEpoch:
		m.op(journal.Op{Type: journal.Info, F: journal.OpReset, TP: p.tp, Broker: protocol.NoLeader, Offset: -1, Payload: -1, Generation: m.generation,
			Note: fmt.Sprintf("log truncation detected: leader epoch %d of position %d unknown to the leader", p.epoch, p.position)})
		m.resetPosition(p, "log truncation: epoch unknown to the leader")
	case r.EndOffset < p.position:
		if m.cfg.AutoOffsetReset == "none" {
			m.op(journal.Op{Type: journal.Fail, F: journal.OpReset, TP: p.tp, Broker: protocol.NoLeader, Offset: r.EndOffset, Payload: -1, Generation: m.generation,
				Note: fmt.Sprintf("LogTruncationException: epoch %d ends at %d, before position %d", p.epoch, r.EndOffset, p.position)})
			m.fail(protocol.None, "LogTruncationException")
			return
		}
		m.op(journal.Op{Type: journal.Info, F: journal.OpReset, TP: p.tp, Broker: protocol.NoLeader, Offset: r.EndOffset, Payload: -1, Generation: m.generation,
			Note: fmt.Sprintf("log truncation detected: epoch %d ends at %d, before position %d: seek to %d", p.epoch, r.EndOffset, p.position, r.EndOffset)})
		p.position, p.fetched, p.epoch, p.buffer = r.EndOffset, r.EndOffset, r.LeaderEpoch, nil
		p.validAt = p.fetchEpoch
	default:
		p.validAt = p.fetchEpoch
	}
	m.poll()
}

// ---- fetching ----

func (m *Member) sendFetch(p *memberPartition) {
	leader, epoch := m.meta.leader(p.tp.Partition)
	if leader == protocol.NoLeader {
		m.meta.refresh(m.env)
		m.fetchLater(p)
		return
	}
	id := m.meta.newID()
	p.fetchAt, p.fetchEpoch = m.now(), epoch
	p.fetch.Send(&m.Recyclers, m.env, id, m.meta.dir.Node(leader), m.NewFetchRequest(consumerFetch(m.cfg, id, p.tp, epoch, p.fetched)),
		m.cfg.Retransmit, node.Timer{Kind: node.TFetch, TP: p.tp})
}

func (m *Member) fetchLater(p *memberPartition) {
	p.fetch.Backoff(&m.Recyclers, m.env, m.meta.newID(), m.cfg.RetryBackoff, node.Timer{Kind: node.TFetch, TP: p.tp})
}

func (m *Member) onFetch(r protocol.FetchResponse) {
	p := m.ownedPartition(r.TP)
	if p == nil {
		return
	}
	if _, ok := p.fetch.Answered(m.env, r.RequestID); !ok {
		return
	}
	switch r.Err {
	case protocol.None:
		p.validAt = max(p.validAt, p.fetchEpoch)
		for _, batch := range r.Batches {
			for i, payload := range batch.Payloads {
				if offset := batch.BaseOffset + int64(i); offset == p.fetched {
					before := cap(p.buffer)
					p.buffer = append(p.buffer, bufferedRecord{offset: offset, payload: payload, epoch: batch.Epoch})
					if cap(p.buffer) != before {
						p.bufferArray = p.buffer[:0] // grown: a new array, from its start
					}
					p.fetched++
				}
			}
		}
	case protocol.OffsetOutOfRange:
		m.resetPosition(p, fmt.Sprintf("offset %d out of range (log end %d)", p.fetched, r.LogEndOffset))
	default:
		m.meta.refresh(m.env)
		m.fetchLater(p)
		return
	}
	m.poll()
}

// disconnected is a connection to a broker ending: the coordinator is
// unknown if it was there; fetches and resets to it are retried after
// fresh metadata.
func (m *Member) disconnected(peer sim.NodeID) {
	m.meta.onReset(m.env, peer)
	b, ok := m.meta.dir.BrokerOf(peer)
	if !ok {
		return
	}
	if m.find.Sent && m.find.To == peer {
		m.find.Cancel(m.env)
		m.findCoordinator()
	}
	if b == m.coordinator {
		m.coordinatorUnknown("connection to the coordinator lost")
	}
	for _, p := range m.owned {
		if p.fetch.Sent && p.fetch.To == peer {
			p.fetch.Cancel(m.env)
			m.meta.refresh(m.env)
			m.fetchLater(p)
		}
		if p.reset.Sent && p.reset.To == peer {
			// Asked again after retry.backoff.ms and fresh metadata: the
			// metadata in hand still names the dead leader.
			m.meta.refresh(m.env)
			p.reset.Backoff(&m.Recyclers, m.env, m.meta.newID(), m.cfg.RetryBackoff, resetTimer(p.tp))
		}
		if p.validate.Sent && p.validate.To == peer {
			m.meta.refresh(m.env)
			p.validate.Backoff(&m.Recyclers, m.env, m.meta.newID(), m.cfg.RetryBackoff, validateTimer(p.tp))
		}
	}
}
