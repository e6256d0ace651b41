package broker

import (
	"fmt"
	"slices"
	"time"

	"github.com/tideline-sim/tideline/cluster/internal/planted"
	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/cluster/node"
	"github.com/tideline-sim/tideline/cluster/protocol"
	"github.com/tideline-sim/tideline/sim"
)

// ---- leader side: replica fetches, in sessions ----

// fetchSession is what a leader broker keeps of one follower broker's
// fetches (Kafka's FetchSession in the FetchSessionCache, one a follower):
// the session's partitions with what each asked last, and the request
// being answered or parked.
type fetchSession struct {
	follower    protocol.BrokerID
	from        sim.NodeID
	id          uint64 // 0: sessionless (before KIP-227)
	serial      uint64 // this session's mark on its partitions' followerStates
	epoch       int32  // the epoch the next incremental request must carry
	brokerEpoch int64
	lastRequest uint64
	// The request in hand: answered now, or parked (parkID, timer) until
	// one of its partitions has records or its wait is over.
	maxRecords int
	full       bool // a full request: the answer names every partition
	parked     bool
	woken      bool // parked, and to be answered once the event in hand is handled
	parkID     uint64
	timer      sim.TimerID
	parts      []sessionPart // in answer order: Kafka moves a partition that returned records to the end
	withData   []sessionPart // scratch
}

// sessionPart is one partition of a fetch session (Kafka's
// CachedPartition): the follower's last ask, the high watermark it was
// last told (-1 after an error: tell it again), and, while a request is
// in hand, an answer settled when it arrived (an error or a divergence).
type sessionPart struct {
	req     protocol.FetchRequest
	r       *replica // nil until this broker hosts the partition
	hwSent  int64
	settled *protocol.FetchResponse
}

func (b *Broker) session(follower protocol.BrokerID) *fetchSession {
	if int(follower) < len(b.fetchSessions) {
		return b.fetchSessions[follower]
	}
	return nil
}

// handleReplicaFetch takes a follower broker's fetch for every partition
// it follows here (ReplicaManager.fetchMessages with FetchManager's
// session context).
func (b *Broker) handleReplicaFetch(from sim.NodeID, m *protocol.ReplicaFetchRequest) {
	if m.ReplicaID < 0 || int(m.ReplicaID) >= len(b.dir.Brokers) {
		return
	}
	s := b.session(m.ReplicaID)
	if s == nil {
		for int(m.ReplicaID) >= len(b.fetchSessions) {
			b.fetchSessions = append(b.fetchSessions, nil)
		}
		s = &fetchSession{follower: m.ReplicaID}
		b.fetchSessions[m.ReplicaID] = s
	}
	if m.BrokerEpoch == s.brokerEpoch && m.RequestID <= s.lastRequest {
		if m.RequestID < s.lastRequest || s.parked {
			return // overtaken by a newer fetch, or a re-sent one already waiting here
		}
	}
	errResp := func(err protocol.ErrorCode) {
		resp := b.NewReplicaFetchResponse()
		resp.RequestID, resp.Err = m.RequestID, err
		b.env.Send(from, resp)
	}
	switch {
	case m.SessionEpoch == protocol.FinalEpoch || m.SessionEpoch == 0:
		// A full request: a new session (or none, before KIP-227) with
		// every partition it names (FullFetchContext).
		b.unpark(s)
		b.forgetAll(s)
		s.id, s.epoch, s.serial = 0, 1, b.newID()
		if m.SessionEpoch == 0 {
			s.id = s.serial
		}
		for _, p := range m.Partitions {
			s.parts = append(s.parts, sessionPart{req: p, r: b.hosted(p.TP), hwSent: -1})
		}
	case s.id == 0 || m.SessionID != s.id:
		errResp(protocol.FetchSessionIDNotFound)
		return
	case m.SessionEpoch != s.epoch:
		errResp(protocol.InvalidFetchSessionEpoch)
		return
	default:
		// An incremental request (IncrementalFetchContext): forget, then
		// add or update what it names.
		b.unpark(s)
		s.epoch = nextSessionEpoch(s.epoch)
		if len(m.Forgotten) > 0 {
			s.parts = slices.DeleteFunc(s.parts, func(sp sessionPart) bool {
				if !slices.Contains(m.Forgotten, sp.req.TP) {
					return false
				}
				b.leaveSession(s, &sp)
				return true
			})
		}
		for _, p := range m.Partitions {
			if i := slices.IndexFunc(s.parts, func(sp sessionPart) bool { return sp.req.TP == p.TP }); i >= 0 {
				s.parts[i].req = p
			} else {
				s.parts = append(s.parts, sessionPart{req: p, r: b.hosted(p.TP), hwSent: -1})
			}
		}
	}
	s.from, s.brokerEpoch, s.lastRequest = from, m.BrokerEpoch, m.RequestID
	s.maxRecords, s.full = m.MaxRecords, m.SessionEpoch <= 0
	ready := false
	for i := range s.parts {
		sp := &s.parts[i]
		sp.req.RequestID, sp.req.ReplicaID, sp.req.BrokerEpoch = m.RequestID, m.ReplicaID, m.BrokerEpoch
		if sp.r == nil || sp.r.deleted {
			sp.r = b.hosted(sp.req.TP)
		}
		settled, hasData := b.judgeReplicaFetch(s, sp)
		sp.settled = settled
		ready = ready || settled != nil || hasData
	}
	if ready || m.MaxWaitMs <= 0 {
		b.answerSession(s)
		return
	}
	s.parked, s.parkID = true, b.newID()
	s.timer = b.SetTimer(b.env, time.Duration(m.MaxWaitMs)*time.Millisecond, node.Timer{Kind: node.TFetchSessionExpire, Broker: s.follower, ID: s.parkID})
}

// unpark drops a parked request a newer one from the same follower
// replaces.
func (b *Broker) unpark(s *fetchSession) {
	if s.parked {
		b.env.CancelTimer(s.timer)
		s.parked = false
	}
}

// forgetAll empties a session.
func (b *Broker) forgetAll(s *fetchSession) {
	for i := range s.parts {
		b.leaveSession(s, &s.parts[i])
	}
	s.parts = s.parts[:0]
}

// leaveSession unmarks a partition the session no longer holds, so that
// its records no longer wake the session.
func (b *Broker) leaveSession(s *fetchSession, sp *sessionPart) {
	if sp.r == nil || sp.r.deleted {
		return
	}
	if fs := sp.r.follower(s.follower); fs != nil && fs.session == s.serial {
		fs.session = 0
	}
}

// judgeReplicaFetch checks one partition of a follower's fetch as it
// arrives and records the follower's position (Partition.fetchRecords,
// updateFollowerFetchState): it returns the answer if one is settled now
// (an error or a divergence), and whether the partition has records to
// send.
func (b *Broker) judgeReplicaFetch(s *fetchSession, sp *sessionPart) (settled *protocol.FetchResponse, hasData bool) {
	if planted.Bugs.PanicOnFetch {
		var missing *replica
		_ = missing.log.LEO() // the planted bug: a replica looked up and never found
	}
	m := &sp.req
	if b.rules.NoFetchEpoch {
		m.CurrentLeaderEpoch = protocol.NoEpoch // before KIP-320 a fetch named no epoch to fence
	}
	r := sp.r
	if err := b.fetchableAsLeader(r, m); err != protocol.None {
		if err == protocol.FencedLeaderEpoch {
			b.event(journal.Event{Kind: journal.EvFencedRequest, TP: r.tp, Epoch: m.CurrentLeaderEpoch, Broker: m.ReplicaID,
				Detail: fmt.Sprintf("fetch at epoch %d fenced by epoch %d", m.CurrentLeaderEpoch, r.state.LeaderEpoch)})
		}
		return fetchError(m, r, err), false
	}
	fs := r.follower(m.ReplicaID)
	if fs == nil {
		return fetchError(m, r, protocol.NotLeaderOrFollower), false
	}
	// Divergence first, then the offset range, as Kafka's
	// Partition.readRecords: a follower whose divergent suffix runs past
	// this log's end must learn where to truncate, not that it is out of
	// range.
	if m.LastFetchedEpoch != protocol.NoEpoch {
		epoch, end := r.log.EndOffsetForEpoch(m.LastFetchedEpoch)
		if epoch < m.LastFetchedEpoch || end < m.FetchOffset {
			return &protocol.FetchResponse{RequestID: m.RequestID, TP: r.tp, HighWatermark: r.log.HW, LogEndOffset: r.log.LEO(),
				LeaderEpoch: r.state.LeaderEpoch, DivergingEpoch: epoch, DivergingEndOffset: end}, false
		}
	}
	if m.FetchOffset > r.log.LEO() {
		return fetchError(m, r, protocol.OffsetOutOfRange), false
	}
	moved := fs.leo != m.FetchOffset
	b.updateFollower(r, fs, m)
	fs.session = s.serial
	if b.monitor != nil && (!fs.shown || m.CurrentLeaderEpoch > fs.shownEpoch) {
		// The monitor keeps the newest epoch a follower fetched at: an
		// idle session's every fetch need not tell it again.
		b.monitor.FollowerFetched(r.tp, m.ReplicaID, m.CurrentLeaderEpoch)
		fs.shown, fs.shownEpoch = true, m.CurrentLeaderEpoch
	}
	b.maybeExpandISR(r, fs)
	if moved {
		// Only a follower that moved can move the high watermark: every
		// other input to it moves it where it changes (an append, an ISR
		// change), and an idle session's every fetch need not try again.
		b.maybeIncrementHW(r)
	}
	return nil, b.hasDataFor(r, m.FetchOffset, m.ReplicaID)
}

// fetchableAsLeader is the error a fetch of r gets, if any: this broker
// must lead r at the fetch's epoch.
func (b *Broker) fetchableAsLeader(r *replica, m *protocol.FetchRequest) protocol.ErrorCode {
	switch {
	case r == nil || r.deleted:
		return protocol.UnknownTopicOrPartition
	case r.role != roleLeader:
		return protocol.NotLeaderOrFollower
	case m.CurrentLeaderEpoch != protocol.NoEpoch && m.CurrentLeaderEpoch < r.state.LeaderEpoch:
		return protocol.FencedLeaderEpoch
	case m.CurrentLeaderEpoch > r.state.LeaderEpoch:
		return protocol.UnknownLeaderEpoch
	}
	return protocol.None
}

func fetchError(m *protocol.FetchRequest, r *replica, err protocol.ErrorCode) *protocol.FetchResponse {
	resp := &protocol.FetchResponse{RequestID: m.RequestID, TP: m.TP, Err: err, HighWatermark: -1, LogEndOffset: -1, DivergingEpoch: protocol.NoEpoch}
	if r != nil && !r.deleted {
		resp.LogEndOffset = r.log.LEO()
	}
	return resp
}

// hasDataFor reports whether a follower fetching from offset has records
// to take: over the leader's throttle, a partition waits out its max wait.
func (b *Broker) hasDataFor(r *replica, offset int64, follower protocol.BrokerID) bool {
	if offset >= r.log.LEO() {
		return false
	}
	return b.leaderThrottle.rate <= 0 || !throttled(r, follower) || b.leaderThrottle.available(b.env.Now()) >= b.cfg.RecordSize
}

// answerSession answers the request in hand: every partition in answer
// to a full request; otherwise those with records, a new high watermark,
// an error or a divergence (CachedPartition.maybeUpdateResponseData). The
// first partition with records sends at least one batch; the rest share
// replica.fetch.response.max.bytes.
func (b *Broker) answerSession(s *fetchSession) {
	s.parked, s.woken = false, false
	resp := b.NewReplicaFetchResponse()
	resp.RequestID, resp.SessionID = s.lastRequest, s.id
	budget := s.maxRecords
	read := false
	kept := s.parts[:0]
	s.withData = s.withData[:0]
	for _, sp := range s.parts {
		var pr protocol.FetchResponse
		if sp.settled != nil {
			pr, sp.settled = *sp.settled, nil
		} else {
			pr = b.readForFollower(sp.r, &sp.req, &budget, read)
		}
		hasRecords := len(pr.Batches) > 0
		read = read || hasRecords
		if s.full || hasRecords || pr.Err != protocol.None || pr.DivergingEpoch != protocol.NoEpoch || pr.HighWatermark != sp.hwSent {
			resp.Partitions = append(resp.Partitions, pr)
			sp.hwSent = pr.HighWatermark
			if pr.Err != protocol.None {
				sp.hwSent = -1
			}
		}
		if hasRecords && s.id != 0 {
			s.withData = append(s.withData, sp)
		} else {
			kept = append(kept, sp)
		}
	}
	s.parts = append(kept, s.withData...)
	b.env.Send(s.from, resp)
}

// readForFollower reads what a follower's fetch of r takes now: whole
// batches up to the log end, within its partition's and the response's
// limits (at least one batch for the first partition read).
func (b *Broker) readForFollower(r *replica, m *protocol.FetchRequest, budget *int, read bool) protocol.FetchResponse {
	if err := b.fetchableAsLeader(r, m); err != protocol.None {
		return *fetchError(m, r, err) // leadership changed while the fetch waited
	}
	maxRecords := m.MaxRecords
	if read {
		maxRecords = min(maxRecords, *budget)
	}
	limited := b.leaderThrottle.rate > 0 && throttled(r, m.ReplicaID)
	if limited {
		// Kafka's ReplicationQuotaManager leaves a throttled partition out
		// of the response while the quota is spent, and otherwise sends
		// whole batches (which may overdraw it).
		maxRecords = min(maxRecords, int(b.leaderThrottle.available(b.env.Now())/b.cfg.RecordSize))
	}
	var batches []*protocol.Batch
	if maxRecords > 0 && m.FetchOffset < r.log.LEO() {
		batches = r.log.ReadBatches(m.FetchOffset, r.log.LEO(), maxRecords)
	}
	n := recordsOf(batches)
	*budget -= int(n)
	if limited {
		b.leaderThrottle.spend(n * b.cfg.RecordSize)
	}
	return protocol.FetchResponse{RequestID: m.RequestID, TP: r.tp, HighWatermark: r.log.HW, LogEndOffset: r.log.LEO(),
		LeaderEpoch: r.state.LeaderEpoch, Batches: batches, DivergingEpoch: protocol.NoEpoch}
}

// onSessionExpire answers a parked session fetch whose wait is over.
func (b *Broker) onSessionExpire(tm node.Timer) {
	if s := b.session(tm.Broker); s != nil && s.parked && s.parkID == tm.ID {
		b.answerSession(s)
	}
}

// wakeSessions marks the parked session fetches that r's new records, or
// its change of leadership, concern (DelayedFetch.tryComplete); they are
// answered once the event that woke them is handled, so that a produce
// request's appends to several partitions go out in one answer (Kafka's
// ActionQueue, completed after each request).
func (b *Broker) wakeSessions(r *replica, leadershipChanged bool) {
	for i := range r.followers {
		fs := &r.followers[i]
		s := b.session(fs.broker)
		if s == nil || !s.parked || s.woken || fs.session != s.serial {
			continue
		}
		if leadershipChanged || b.hasDataFor(r, fs.leo, fs.broker) {
			s.woken = true
			b.woken = append(b.woken, s)
		}
	}
}

// answerWoken answers the session fetches woken by the event just handled.
func (b *Broker) answerWoken() {
	for _, s := range b.woken {
		if s.woken && s.parked {
			b.env.CancelTimer(s.timer)
			b.answerSession(s)
		}
		s.woken = false
	}
	b.woken = b.woken[:0]
}

// updateFollower records a follower's fetch position, and when it counts as
// caught up, as Kafka's Replica.updateFetchState does.
func (b *Broker) updateFollower(r *replica, fs *followerState, m *protocol.FetchRequest) {
	now, leo := b.env.Now(), r.log.LEO()
	switch {
	case m.FetchOffset >= leo:
		fs.lastCaughtUp = max(fs.lastCaughtUp, now)
	case m.FetchOffset >= fs.lastFetchLeaderLEO:
		fs.lastCaughtUp = max(fs.lastCaughtUp, fs.lastFetchTime)
	}
	fs.leo = m.FetchOffset
	fs.brokerEpoch = m.BrokerEpoch
	fs.lastFetchLeaderLEO = leo
	fs.lastFetchTime = now
}

// ---- leader side: consumer fetches, one partition each ----

// parkedFetch is a consumer's fetch held until data arrives or its wait is
// over.
type parkedFetch struct {
	id    uint64
	from  sim.NodeID
	req   protocol.FetchRequest
	timer sim.TimerID
}

func (b *Broker) handleFetch(from sim.NodeID, m protocol.FetchRequest) {
	if m.ReplicaID >= 0 {
		return // replicas fetch in sessions (handleReplicaFetch)
	}
	if b.rules.NoFetchEpoch {
		m.CurrentLeaderEpoch = protocol.NoEpoch // before KIP-320 a fetch named no epoch to fence
	}
	r := b.hosted(m.TP)
	if err := b.fetchableAsLeader(r, &m); err != protocol.None {
		if err == protocol.FencedLeaderEpoch {
			b.event(journal.Event{Kind: journal.EvFencedRequest, TP: r.tp, Epoch: m.CurrentLeaderEpoch, Broker: m.ReplicaID,
				Detail: fmt.Sprintf("fetch at epoch %d fenced by epoch %d", m.CurrentLeaderEpoch, r.state.LeaderEpoch)})
		}
		b.env.Send(from, b.NewFetchResponse(*fetchError(&m, r, err)))
		return
	}
	if slices.ContainsFunc(r.parked, func(p parkedFetch) bool { return p.from == from && p.req.RequestID == m.RequestID }) {
		return // a re-sent fetch that is already waiting here
	}
	if m.FetchOffset > r.log.LEO() {
		b.env.Send(from, b.NewFetchResponse(*fetchError(&m, r, protocol.OffsetOutOfRange)))
		return
	}
	if m.FetchOffset < r.log.HW || m.MaxWaitMs <= 0 {
		b.answerFetch(r, from, m)
		return
	}
	id := b.newID()
	t := b.SetTimer(b.env, time.Duration(m.MaxWaitMs)*time.Millisecond, node.Timer{Kind: node.TFetchExpire, TP: r.tp, ID: id})
	r.parked = append(r.parked, parkedFetch{id: id, from: from, req: m, timer: t})
}

// answerFetch sends a consumer what is readable now: up to the high
// watermark.
func (b *Broker) answerFetch(r *replica, from sim.NodeID, m protocol.FetchRequest) {
	b.env.Send(from, b.NewFetchResponse(protocol.FetchResponse{
		RequestID: m.RequestID, TP: r.tp, HighWatermark: r.log.HW, LogEndOffset: r.log.LEO(),
		LeaderEpoch: r.state.LeaderEpoch, Batches: r.log.Read(m.FetchOffset, r.log.HW, m.MaxRecords), DivergingEpoch: protocol.NoEpoch,
	}))
}

// wakeParked answers the fetches parked on r that can now make progress.
func (b *Broker) wakeParked(r *replica) {
	b.wakeSessions(r, false)
	kept := r.parked[:0]
	for _, p := range r.parked {
		if p.req.FetchOffset < r.log.HW {
			b.env.CancelTimer(p.timer)
			b.answerFetch(r, p.from, p.req)
		} else {
			kept = append(kept, p)
		}
	}
	r.parked = kept
}
