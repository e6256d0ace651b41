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

// parkedFetch is a fetch held until data arrives or its wait is over.
type parkedFetch struct {
	id    uint64
	from  sim.NodeID
	req   protocol.FetchRequest
	timer sim.TimerID
}

// sendFetch sends the next fetch to the leader, re-sent until answered.
func (b *Broker) sendFetch(r *replica) {
	if b.stopping && (r.state.Leader == protocol.NoLeader || !r.state.InISR(b.id)) {
		// In controlled shutdown a broker stops following the partitions
		// that have no leader or no longer list it in the ISR
		// (ReplicaManager.applyLocalFollowersDelta).
		r.fetch.Cancel(b.env)
		return
	}
	if r.role != roleFollower || r.state.Leader == protocol.NoLeader || b.epoch == 0 {
		r.fetch.Cancel(b.env)
		if r.role == roleFollower {
			b.fetchLater(r, b.cfg.ReplicaFetchBackoff)
		}
		return
	}
	last := r.log.LatestEpoch()
	if b.rules.HWTruncation || b.rules.NoTruncateOnFetch && !r.epochCheck {
		// Before 2.7 a follower compared epochs with its leader only when
		// it became a follower (OffsetsForLeaderEpoch); its fetches named
		// no last fetched epoch, so nothing checked them later.
		last = protocol.NoEpoch
	}
	maxRecords := max(1, b.cfg.ReplicaFetchMaxBytes/b.cfg.RecordSize)
	if b.followerThrottle.rate > 0 && throttled(r, b.id) {
		avail := b.followerThrottle.available(b.env.Now())
		if avail < b.cfg.RecordSize {
			r.fetch.Cancel(b.env)
			b.fetchLater(r, max(time.Millisecond, b.followerThrottle.wait(b.cfg.RecordSize)))
			return
		}
		maxRecords = min(maxRecords, avail/b.cfg.RecordSize)
	}
	id := b.newID()
	req := protocol.FetchRequest{
		RequestID: id, ReplicaID: b.id, BrokerEpoch: b.epoch, TP: r.tp,
		CurrentLeaderEpoch: r.state.LeaderEpoch, FetchOffset: r.log.LEO(), LastFetchedEpoch: last,
		MaxWaitMs: b.cfg.ReplicaFetchWaitMax.Milliseconds(), MaxRecords: int(maxRecords),
	}
	r.fetch.Send(&b.Recyclers, b.env, id, b.dir.Node(r.state.Leader), b.NewFetchRequest(req), b.cfg.Retransmit, node.Timer{Kind: node.TFetch, TP: r.tp})
}

// fetchLater schedules the next fetch after a backoff.
func (b *Broker) fetchLater(r *replica, after time.Duration) {
	r.fetch.Backoff(&b.Recyclers, b.env, b.newID(), after, node.Timer{Kind: node.TFetch, TP: r.tp})
}

func (b *Broker) handleFetchResponse(m protocol.FetchResponse) {
	r := b.hosted(m.TP)
	if r == nil || r.role != roleFollower {
		return
	}
	if _, ok := r.fetch.Answered(b.env, m.RequestID); !ok {
		return // an answer to a fetch already given up on
	}
	switch {
	case m.Err == protocol.None && m.DivergingEpoch != protocol.NoEpoch:
		b.event(journal.Event{Kind: journal.EvDiverged, TP: r.tp, Epoch: m.DivergingEpoch, Offset: m.DivergingEndOffset, Broker: b.id, Leader: r.state.Leader,
			Detail: fmt.Sprintf("leader %d says epoch %d ends at %d; log end %d, hw %d", r.state.Leader, m.DivergingEpoch, m.DivergingEndOffset, r.log.LEO(), r.log.HW)})
		b.truncateOnDivergence(r, m.DivergingEpoch, m.DivergingEndOffset)
		if b.rules.SingleRoundEpoch {
			r.epochCheck = false // before KIP-279: one round, whatever it left
		}
		b.sendFetch(r)
	case m.Err == protocol.None:
		r.epochCheck = false // the logs agree: fetch on
		if b.followerThrottle.rate > 0 && throttled(r, b.id) {
			b.followerThrottle.spend(recordsOf(m.Batches) * b.cfg.RecordSize)
		}
		b.appendAsFollower(r, m)
		b.sendFetch(r)
	case m.Err == protocol.OffsetOutOfRange && m.LogEndOffset < r.log.LEO():
		b.truncate(r, m.LogEndOffset, "to the leader's log end (offset out of range)")
		b.sendFetch(r)
	default:
		b.fetchLater(r, b.cfg.ReplicaFetchBackoff)
	}
}

func (b *Broker) appendAsFollower(r *replica, m protocol.FetchResponse) {
	batches := m.Batches
	if len(batches) > 0 && batches[0].BaseOffset != r.log.LEO() {
		batches = nil // a response to an older fetch offset; fetch again from the end
	}
	for _, batch := range batches {
		r.log.Append(batch)
	}
	if r.log.Unflushed >= r.flushMessages {
		r.log.Flush()
	}
	hw := min(m.HighWatermark, r.log.LEO())
	if planted.Bugs.HWPastLEO {
		hw = m.HighWatermark
	}
	if hw > r.log.HW {
		b.setHW(r, hw)
	}
}

// truncateOnDivergence is Kafka's truncate-on-fetch (KIP-320, after
// KIP-101/279): find this log's end offset for the leader's diverging epoch
// and cut there, or, if this log lacks that epoch, cut to its own end of the
// largest lower epoch and ask again.
func (b *Broker) truncateOnDivergence(r *replica, leaderEpoch int32, leaderEnd int64) {
	if planted.Bugs.SkipTruncation {
		return
	}
	localEpoch, localEnd := r.log.EndOffsetForEpoch(leaderEpoch)
	leo := r.log.LEO()
	var to int64
	switch {
	case b.rules.SingleRoundEpoch:
		// Before KIP-279 the answer named no epoch: the follower cut to
		// the leader's end offset, even where its own records there came
		// from another epoch.
		to = min(leaderEnd, leo)
	case localEnd < 0:
		to = min(leaderEnd, leo)
	case localEpoch != leaderEpoch:
		to = min(localEnd, leo)
	default:
		to = min(localEnd, leaderEnd, leo)
	}
	b.truncate(r, to, fmt.Sprintf("where epoch %d ends on the leader (%d)", leaderEpoch, leaderEnd))
}

// ---- leader side ----

func (b *Broker) handleFetch(from sim.NodeID, m protocol.FetchRequest) {
	if planted.Bugs.PanicOnFetch && m.ReplicaID >= 0 {
		var missing *replica
		_ = missing.log.LEO() // the planted bug: a replica looked up and never found
	}
	if b.rules.NoFetchEpoch {
		m.CurrentLeaderEpoch = protocol.NoEpoch // before KIP-320 a fetch named no epoch to fence
	}
	r := b.hosted(m.TP)
	errResp := func(err protocol.ErrorCode) {
		resp := protocol.FetchResponse{RequestID: m.RequestID, TP: m.TP, Err: err, HighWatermark: -1, LogEndOffset: -1, DivergingEpoch: protocol.NoEpoch}
		if r != nil {
			resp.LogEndOffset = r.log.LEO()
		}
		b.env.Send(from, b.NewFetchResponse(resp))
	}
	switch {
	case r == nil:
		errResp(protocol.UnknownTopicOrPartition)
		return
	case r.role != roleLeader:
		errResp(protocol.NotLeaderOrFollower)
		return
	case m.CurrentLeaderEpoch != protocol.NoEpoch && m.CurrentLeaderEpoch < r.state.LeaderEpoch:
		b.event(journal.Event{Kind: journal.EvFencedRequest, TP: r.tp, Epoch: m.CurrentLeaderEpoch, Broker: m.ReplicaID,
			Detail: fmt.Sprintf("fetch at epoch %d fenced by epoch %d", m.CurrentLeaderEpoch, r.state.LeaderEpoch)})
		errResp(protocol.FencedLeaderEpoch)
		return
	case m.CurrentLeaderEpoch > r.state.LeaderEpoch:
		errResp(protocol.UnknownLeaderEpoch)
		return
	}
	if slices.ContainsFunc(r.parked, func(p parkedFetch) bool { return p.from == from && p.req.RequestID == m.RequestID }) {
		return // a re-sent fetch that is already waiting here
	}
	if m.ReplicaID < 0 {
		if m.FetchOffset > r.log.LEO() {
			errResp(protocol.OffsetOutOfRange)
			return
		}
		b.answerOrPark(r, from, m, m.FetchOffset < r.log.HW)
		return
	}
	fi := slices.IndexFunc(r.followers, func(f followerState) bool { return f.broker == m.ReplicaID })
	if fi < 0 {
		errResp(protocol.NotLeaderOrFollower)
		return
	}
	fs := &r.followers[fi]
	if m.BrokerEpoch == fs.brokerEpoch && m.RequestID < fs.lastRequest {
		return // overtaken by a newer fetch from the same follower incarnation
	}
	fs.lastRequest = m.RequestID
	// Divergence first, then the offset range, as Kafka's
	// Partition.readRecords: a follower whose divergent suffix runs past
	// this log's end must learn where to truncate, not that it is out of
	// range.
	if m.LastFetchedEpoch != protocol.NoEpoch {
		epoch, end := r.log.EndOffsetForEpoch(m.LastFetchedEpoch)
		if epoch < m.LastFetchedEpoch || end < m.FetchOffset {
			b.env.Send(from, b.NewFetchResponse(protocol.FetchResponse{RequestID: m.RequestID, TP: r.tp, HighWatermark: r.log.HW, LogEndOffset: r.log.LEO(),
				LeaderEpoch: r.state.LeaderEpoch, DivergingEpoch: epoch, DivergingEndOffset: end}))
			return
		}
	}
	if m.FetchOffset > r.log.LEO() {
		errResp(protocol.OffsetOutOfRange)
		return
	}
	b.updateFollower(r, fs, m)
	if b.monitor != nil {
		b.monitor.FollowerFetched(r.tp, m.ReplicaID, m.CurrentLeaderEpoch)
	}
	b.maybeExpandISR(r, fs)
	b.maybeIncrementHW(r)
	ready := m.FetchOffset < r.log.LEO()
	if ready && b.leaderThrottle.rate > 0 && throttled(r, m.ReplicaID) && b.leaderThrottle.available(b.env.Now()) < b.cfg.RecordSize {
		ready = false // over the leader's throttle: the fetch waits out its max wait
	}
	b.answerOrPark(r, from, m, ready)
}

// updateFollower records a follower's fetch position, and when it counts as
// caught up, as Kafka's Replica.updateFetchState does.
func (b *Broker) updateFollower(r *replica, fs *followerState, m protocol.FetchRequest) {
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

func (b *Broker) answerOrPark(r *replica, from sim.NodeID, m protocol.FetchRequest, ready bool) {
	if ready || m.MaxWaitMs <= 0 {
		b.answerFetch(r, from, m)
		return
	}
	id := b.newID()
	t := b.SetTimer(b.env, time.Duration(m.MaxWaitMs)*time.Millisecond, node.Timer{Kind: node.TFetchExpire, TP: r.tp, ID: id})
	r.parked = append(r.parked, parkedFetch{id: id, from: from, req: m, timer: t})
}

// answerFetch sends what is readable now: up to the log end for followers,
// up to the high watermark for consumers.
func (b *Broker) answerFetch(r *replica, from sim.NodeID, m protocol.FetchRequest) {
	upTo := r.log.LEO()
	if m.ReplicaID < 0 {
		upTo = r.log.HW
	}
	maxRecords := m.MaxRecords
	limited := m.ReplicaID >= 0 && b.leaderThrottle.rate > 0 && throttled(r, m.ReplicaID)
	if limited {
		// Kafka's ReplicationQuotaManager leaves a throttled partition out
		// of the response while the quota is spent, and otherwise sends
		// whole batches (which may overdraw it).
		maxRecords = min(maxRecords, int(b.leaderThrottle.available(b.env.Now())/b.cfg.RecordSize))
	}
	var batches []*protocol.Batch
	switch {
	case maxRecords <= 0:
	case m.ReplicaID >= 0:
		batches = r.log.ReadBatches(m.FetchOffset, upTo, maxRecords)
	default:
		batches = r.log.Read(m.FetchOffset, upTo, maxRecords)
	}
	if limited {
		b.leaderThrottle.spend(recordsOf(batches) * b.cfg.RecordSize)
	}
	b.env.Send(from, b.NewFetchResponse(protocol.FetchResponse{
		RequestID: m.RequestID, TP: r.tp, HighWatermark: r.log.HW, LogEndOffset: r.log.LEO(),
		LeaderEpoch: r.state.LeaderEpoch, Batches: batches, DivergingEpoch: protocol.NoEpoch,
	}))
}

// wakeParked answers parked fetches that can now make progress.
func (b *Broker) wakeParked(r *replica) {
	kept := r.parked[:0]
	for _, p := range r.parked {
		ready := p.req.FetchOffset < r.log.LEO()
		if p.req.ReplicaID < 0 {
			ready = p.req.FetchOffset < r.log.HW
		}
		if ready {
			b.env.CancelTimer(p.timer)
			b.answerFetch(r, p.from, p.req)
		} else {
			kept = append(kept, p)
		}
	}
	r.parked = kept
}
