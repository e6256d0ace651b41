package broker

import (
	"fmt"
	"slices"
	"time"

	"github.com/tideline-sim/tideline/clock"
	"github.com/tideline-sim/tideline/cluster/internal/planted"
	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/cluster/node"
	"github.com/tideline-sim/tideline/cluster/protocol"
	"github.com/tideline-sim/tideline/sim"
)

// fetcher is a follower broker's replica fetcher for one leader broker
// (Kafka's ReplicaFetcherThread, num.replica.fetchers 1, with its
// FetchSessionHandler): one request at a time for every partition this
// broker follows there, the next sent as soon as the last is answered.
type fetcher struct {
	leader  protocol.BrokerID
	call    node.Call
	members []*replica // the partitions it fetches, by TP
	// The fetch session (KIP-227): its ID and the epoch the next request
	// carries (0: a full request, which opens a new session), and the
	// partitions it holds as last sent, by TP.
	sessionID    uint64
	sessionEpoch int32
	sent, want   []protocol.FetchRequest
}

// follow hands r to the fetcher of its leader (addPartitions) and wakes it.
func (b *Broker) follow(r *replica) {
	b.unfollow(r)
	if r.state.Leader == protocol.NoLeader || r.state.Leader == b.id {
		return
	}
	for int(r.state.Leader) >= len(b.fetchers) {
		b.fetchers = append(b.fetchers, nil)
	}
	f := b.fetchers[r.state.Leader]
	if f == nil {
		f = &fetcher{leader: r.state.Leader}
		b.fetchers[r.state.Leader] = f
	}
	i, _ := slices.BinarySearchFunc(f.members, r.tp, func(x *replica, tp protocol.TopicPartition) int { return x.tp.Compare(tp) })
	f.members = slices.Insert(f.members, i, r)
	r.fetchingFrom, r.fetchDelayedUntil = f.leader, 0
	if !f.call.Sent {
		b.sendReplicaFetch(f) // Kafka signals the fetcher's condition: a backoff ends early
	}
}

// unfollow takes r from its fetcher (removePartitions).
func (b *Broker) unfollow(r *replica) {
	if r.fetchingFrom == protocol.NoLeader {
		return
	}
	f := b.fetchers[r.fetchingFrom]
	f.members = slices.DeleteFunc(f.members, func(x *replica) bool { return x == r })
	r.fetchingFrom = protocol.NoLeader
}

// sendReplicaFetch sends the fetcher's next request, or, with nothing to
// fetch, waits replica.fetch.backoff.ms (AbstractFetcherThread.maybeFetch).
func (b *Broker) sendReplicaFetch(f *fetcher) {
	now := b.env.Now()
	backoff := b.cfg.ReplicaFetchBackoff
	f.want = f.want[:0]
	if b.epoch != 0 {
		for _, r := range f.members {
			if entry, wait, ok := b.fetchEntry(r, now); ok {
				f.want = append(f.want, entry)
			} else if wait > 0 {
				backoff = min(backoff, wait)
			}
		}
	}
	if len(f.want) == 0 {
		f.call.Backoff(&b.Recyclers, b.env, b.newID(), max(backoff, time.Millisecond), node.Timer{Kind: node.TReplicaFetch, Broker: f.leader})
		return
	}
	id := b.newID()
	req := b.NewReplicaFetchRequest()
	req.RequestID, req.ReplicaID, req.BrokerEpoch, req.SessionID, req.SessionEpoch = id, b.id, b.epoch, f.sessionID, f.sessionEpoch
	req.MaxWaitMs, req.MaxRecords = b.cfg.ReplicaFetchWaitMax.Milliseconds(), int(max(1, b.cfg.ReplicaFetchResponseMax/b.cfg.RecordSize))
	switch {
	case b.rules.NoFetchSessions:
		req.SessionID, req.SessionEpoch = 0, protocol.FinalEpoch
		req.Partitions = append(req.Partitions, f.want...)
	case f.sessionEpoch == 0:
		req.SessionID = 0
		req.Partitions = append(req.Partitions, f.want...)
	default:
		req.Partitions, req.Forgotten = sessionDelta(f.sent, f.want, req.Partitions, req.Forgotten)
	}
	f.sent, f.want = f.want, f.sent
	f.call.Send(&b.Recyclers, b.env, id, b.dir.Node(f.leader), req, b.cfg.Retransmit, node.Timer{Kind: node.TReplicaFetch, Broker: f.leader})
}

// fetchEntry is what the next fetch asks of r, if r is fetched now; if
// not, wait is how long until it may be (0: not until something else
// changes).
func (b *Broker) fetchEntry(r *replica, now clock.Time) (entry protocol.FetchRequest, wait time.Duration, ok bool) {
	if b.stopping && !r.state.InISR(b.id) {
		// In controlled shutdown a broker stops following the partitions
		// that no longer list it in the ISR
		// (ReplicaManager.applyLocalFollowersDelta).
		return entry, 0, false
	}
	if r.fetchDelayedUntil > now {
		return entry, r.fetchDelayedUntil.Sub(now), false // an error's backoff (delayPartitions)
	}
	maxRecords := max(1, b.cfg.ReplicaFetchMaxBytes/b.cfg.RecordSize)
	if b.followerThrottle.rate > 0 && throttled(r, b.id) {
		// A throttled partition over its quota is left out of the request
		// (ReplicaFetcherThread.buildFetch), so out of the session.
		avail := b.followerThrottle.available(now)
		if avail < b.cfg.RecordSize {
			return entry, max(time.Millisecond, b.followerThrottle.wait(b.cfg.RecordSize)), false
		}
		maxRecords = min(maxRecords, avail/b.cfg.RecordSize)
	}
	last := r.log.LatestEpoch()
	if b.rules.HWTruncation || b.rules.NoTruncateOnFetch && !r.epochCheck {
		// Before 2.7 a follower compared epochs with its leader only when
		// it became a follower (OffsetsForLeaderEpoch); its fetches named
		// no last fetched epoch, so nothing checked them later.
		last = protocol.NoEpoch
	}
	entry = protocol.FetchRequest{TP: r.tp, CurrentLeaderEpoch: r.state.LeaderEpoch, FetchOffset: r.log.LEO(), LastFetchedEpoch: last, MaxRecords: int(maxRecords)}
	return entry, 0, true
}

// sessionDelta appends to changed and forgotten what an incremental
// request names: the partitions added or changed since the session's last
// request, and those it drops (FetchSessionHandler.Builder.build). Both
// lists are sorted by TP.
func sessionDelta(sent, want, changed []protocol.FetchRequest, forgotten []protocol.TopicPartition) ([]protocol.FetchRequest, []protocol.TopicPartition) {
	i, j := 0, 0
	for i < len(sent) || j < len(want) {
		switch {
		case j == len(want) || i < len(sent) && sent[i].TP.Compare(want[j].TP) < 0:
			forgotten = append(forgotten, sent[i].TP)
			i++
		case i == len(sent) || want[j].TP.Compare(sent[i].TP) < 0:
			changed = append(changed, want[j])
			j++
		default:
			if sent[i] != want[j] {
				changed = append(changed, want[j])
			}
			i++
			j++
		}
	}
	return changed, forgotten
}

func (b *Broker) handleReplicaFetchResponse(from sim.NodeID, m *protocol.ReplicaFetchResponse) {
	leader, ok := b.dir.BrokerOf(from)
	if !ok || int(leader) >= len(b.fetchers) || b.fetchers[leader] == nil {
		return
	}
	f := b.fetchers[leader]
	if _, ok := f.call.Answered(b.env, m.RequestID); !ok {
		return // an answer to a fetch already given up on
	}
	switch {
	case m.Err != protocol.None:
		f.sessionID, f.sessionEpoch = 0, 0 // the session is gone: the next request is full
	case b.rules.NoFetchSessions:
	default:
		f.sessionID = m.SessionID
		f.sessionEpoch = nextSessionEpoch(f.sessionEpoch)
	}
	for i := range m.Partitions {
		p := &m.Partitions[i]
		r := b.hosted(p.TP)
		if r == nil || r.role != roleFollower || r.fetchingFrom != f.leader {
			continue
		}
		// A partition that moved on while the fetch was out — truncated,
		// or at a new leader epoch — ignores the answer
		// (AbstractFetcherThread.processFetchRequest).
		k, ok := slices.BinarySearchFunc(f.sent, p.TP, func(x protocol.FetchRequest, tp protocol.TopicPartition) int { return x.TP.Compare(tp) })
		if !ok || f.sent[k].FetchOffset != r.log.LEO() || f.sent[k].CurrentLeaderEpoch != r.state.LeaderEpoch {
			continue
		}
		b.fetched(r, p)
	}
	b.sendReplicaFetch(f)
}

// nextSessionEpoch follows Kafka's FetchMetadata.nextEpoch: after
// MaxInt32 it wraps to 1, since 0 opens a session.
func nextSessionEpoch(e int32) int32 {
	if e == 1<<31-1 {
		return 1
	}
	return e + 1
}

// fetched acts on one partition of a fetch's answer.
func (b *Broker) fetched(r *replica, p *protocol.FetchResponse) {
	switch {
	case p.Err == protocol.None && p.DivergingEpoch != protocol.NoEpoch:
		b.event(journal.Event{Kind: journal.EvDiverged, TP: r.tp, Epoch: p.DivergingEpoch, Offset: p.DivergingEndOffset, Broker: b.id, Leader: r.state.Leader,
			Detail: fmt.Sprintf("leader %d says epoch %d ends at %d; log end %d, hw %d", r.state.Leader, p.DivergingEpoch, p.DivergingEndOffset, r.log.LEO(), r.log.HW)})
		b.truncateOnDivergence(r, p.DivergingEpoch, p.DivergingEndOffset)
		if b.rules.SingleRoundEpoch {
			r.epochCheck = false // before KIP-279: one round, whatever it left
		}
	case p.Err == protocol.None:
		r.epochCheck = false // the logs agree: fetch on
		if b.followerThrottle.rate > 0 && throttled(r, b.id) {
			b.followerThrottle.spend(recordsOf(p.Batches) * b.cfg.RecordSize)
		}
		b.appendAsFollower(r, p)
	case p.Err == protocol.OffsetOutOfRange && p.LogEndOffset < r.log.LEO():
		b.truncate(r, p.LogEndOffset, "to the leader's log end (offset out of range)")
	default:
		// The partition waits replica.fetch.backoff.ms out of the fetches
		// (AbstractFetcherThread's partitionsWithError, delayPartitions).
		r.fetchDelayedUntil = b.env.Now().Add(b.cfg.ReplicaFetchBackoff)
	}
}

func (b *Broker) appendAsFollower(r *replica, m *protocol.FetchResponse) {
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
